package tests

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// BaselineKPI is one KPI's baseline as its verdict saw it: the tests it
// was judged against and their values pooled (every iteration of every
// one of them), which is what the verdict's change is relative to.
type BaselineKPI struct {
	// Tests are the baseline tests with a value of the KPI, newest first.
	Tests []int64
	// N is how many values were pooled.
	N                      int
	Mean, Stddev, Min, Max float64
}

// BaselineTestsOf is the tests a KPI's verdict used: its own list, or,
// for a verdict stored before they were kept per KPI, every baseline test
// of the test.
func BaselineTestsOf(t *wire.Test, v *wire.KPIVerdict) []int64 {
	if v != nil && len(v.BaselineTests) > 0 {
		return v.BaselineTests
	}
	return t.BaselineTests
}

// Baselines pools the values of each judged KPI's baseline tests, by KPI
// name; a KPI without baseline tests (no-baseline) has no entry. The test
// must be one the principal may see (its baseline tests are of its
// framework and team).
func (s *Service) Baselines(ctx context.Context, t *wire.Test) (map[string]BaselineKPI, error) {
	var ids []int64
	for i := range t.Verdicts {
		for _, b := range BaselineTestsOf(t, &t.Verdicts[i]) {
			if !slices.Contains(ids, b) {
				ids = append(ids, b)
			}
		}
	}
	out := map[string]BaselineKPI{}
	if len(ids) == 0 {
		return out, nil
	}
	values, err := s.Store.KPIValues(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("baseline values of test %d: %w", t.ID, err)
	}
	for i := range t.Verdicts {
		v := &t.Verdicts[i]
		var b BaselineKPI
		var pooled []float64
		for _, id := range BaselineTestsOf(t, v) {
			if xs := values[id][v.Name]; len(xs) > 0 {
				b.Tests = append(b.Tests, id)
				pooled = append(pooled, xs...)
			}
		}
		if len(pooled) == 0 {
			continue
		}
		b.N, b.Mean, b.Stddev, b.Min, b.Max = summarize(pooled)
		out[v.Name] = b
	}
	return out, nil
}

// summarize is the count, mean, sample standard deviation, min and max.
func summarize(xs []float64) (n int, mean, sd, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		mean += x
		lo, hi = min(lo, x), max(hi, x)
	}
	n = len(xs)
	mean /= float64(n)
	if n > 1 {
		for _, x := range xs {
			sd += (x - mean) * (x - mean)
		}
		sd = math.Sqrt(sd / float64(n-1))
	}
	return n, mean, sd, lo, hi
}

// BaselineComparison is a test against its baseline: per KPI the pooled
// baseline, the test's value and the verdict.
type BaselineComparison struct {
	Test      *wire.Test
	Baselines map[string]BaselineKPI
	// Newest is the newest baseline test, to overlay its charts; nil
	// when the test has no baseline.
	Newest *wire.Test
	// Recent are the newest tests of the same framework, to pick another.
	Recent []wire.Test
}

// CompareBaseline loads a test the principal may see with its pooled
// baselines, its newest baseline test and up to recent tests of its
// framework.
func (s *Service) CompareBaseline(ctx context.Context, id int64, recent int) (*BaselineComparison, error) {
	t, err := s.View(ctx, id)
	if err != nil {
		return nil, err
	}
	c := &BaselineComparison{Test: t}
	if c.Baselines, err = s.Baselines(ctx, t); err != nil {
		return nil, err
	}
	if len(t.BaselineTests) > 0 {
		newest := slices.Max(t.BaselineTests)
		if c.Newest, err = s.View(ctx, newest); err != nil && service.KindOf(err) != service.NotFound {
			return nil, err
		}
	}
	if c.Recent, err = s.OfFramework(ctx, t.Team, t.Framework, recent); err != nil {
		return nil, err
	}
	return c, nil
}
