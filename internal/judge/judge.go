// Package judge decides a finished test's verdicts: each KPI against the
// tests of its baseline at the KPI's accepted level, stored with their
// evidence, and the KPI's change points updated with this test's value.
// The statistics are internal/verdict's and internal/changepoint's; this
// package gathers their inputs from the store and stores their answers.
package judge

import (
	"context"
	"fmt"
	"math"

	"github.com/pitwall/pitwall/internal/changepoint"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/verdict"
)

// Result is a test's overall verdict and the baseline tests it was judged against.
type Result struct {
	Verdict  string
	Baseline []int64
}

// Judge judges each KPI of a finished test against its baseline, stores
// the verdicts with their evidence and updates the KPIs' change points.
func Judge(ctx context.Context, st *store.Store, testID int64) (*Result, error) {
	plan, err := st.TestPlanGet(ctx, testID)
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", testID, err)
	}
	branch := plan.Framework.BaselineBranch
	base, err := st.BaselineFor(ctx, testID, branch)
	if err != nil {
		return nil, fmt.Errorf("find baseline of test %d: %w", testID, err)
	}
	values, err := st.KPIValues(ctx, append([]int64{testID}, base...))
	if err != nil {
		return nil, fmt.Errorf("load KPI values: %w", err)
	}
	results := map[string]verdict.Result{}
	var all []string
	for _, k := range plan.Framework.KPIs {
		if len(values[testID][k.Name]) == 0 {
			continue
		}
		in, err := input(ctx, st, testID, k, base, values)
		if err != nil {
			return nil, err
		}
		r := verdict.Decide(in)
		results[k.Name] = r
		all = append(all, r.Verdict)
	}
	overall := verdict.Overall(all)
	if err := st.VerdictStore(ctx, testID, overall, base, results); err != nil {
		return nil, fmt.Errorf("store verdicts of test %d: %w", testID, err)
	}
	for _, k := range plan.Framework.KPIs {
		if err := changePoints(ctx, st, testID, branch, k.Name); err != nil {
			return nil, fmt.Errorf("update change points of %s: %w", k.Name, err)
		}
	}
	return &Result{Verdict: overall, Baseline: base}, nil
}

// input is what verdict.Decide needs for one KPI: the test's values and
// those of the baseline tests at the KPI's accepted level.
func input(ctx context.Context, st *store.Store, testID int64, k framework.KPI, base []int64, values map[int64]map[string][]float64) (verdict.Input, error) {
	in := verdict.Input{Candidate: values[testID][k.Name], LowerIsBetter: k.Better != framework.BetterHigher}
	in.Threshold, _ = framework.ParseThreshold(k.Threshold)
	// An accepted change sets a new level: older tests no longer count;
	// a change not yet accepted is a regression under triage, so tests
	// after it do not count either.
	since, until, err := acceptedLevel(ctx, st, testID, k.Name)
	if err != nil {
		return in, fmt.Errorf("find accepted level of %s: %w", k.Name, err)
	}
	for _, b := range base {
		v := values[b][k.Name]
		if b < since || b >= until || len(v) == 0 {
			continue
		}
		in.Baseline = append(in.Baseline, v...)
		var sum float64
		for _, x := range v {
			sum += x
		}
		in.BaselineMeans = append(in.BaselineMeans, sum/float64(len(v)))
	}
	return in, nil
}

// acceptedLevel bounds the tests of the KPI's accepted level: from its
// latest accepted change point (0: the start) to the first change point
// after that not yet accepted (no bound when none).
func acceptedLevel(ctx context.Context, st *store.Store, testID int64, kpi string) (since, until int64, err error) {
	cps, err := st.ChangePointsOf(ctx, testID, kpi)
	if err != nil {
		return 0, 0, err
	}
	for _, c := range cps {
		if c.AcceptedAt != nil && c.TestID > since {
			since = c.TestID
		}
	}
	until = math.MaxInt64
	for _, c := range cps {
		if c.AcceptedAt == nil && c.TestID > since && c.TestID < until {
			until = c.TestID
		}
	}
	return since, until, nil
}

// changePoints updates the KPI's change points with this test's value:
// only the tail of the history is examined again; change points before it
// stand, and accepted ones always do.
func changePoints(ctx context.Context, st *store.Store, testID int64, branch, kpi string) error {
	hist, err := st.KPIHistory(ctx, testID, branch, kpi)
	if err != nil || len(hist) < 2*changepoint.Defaults.MinSize {
		return err
	}
	stored, err := st.ChangePointsOf(ctx, testID, kpi)
	if err != nil {
		return err
	}
	index := map[int64]int{}
	x := make([]float64, len(hist))
	for i, h := range hist {
		x[i] = h.Value
		index[h.TestID] = i
	}
	var known []changepoint.Point
	for _, c := range stored {
		if i, ok := index[c.TestID]; ok {
			known = append(known, changepoint.Point{Index: i, Before: c.Before, After: c.After, DeltaPct: c.DeltaPct, PValue: c.PValue})
		}
	}
	found := changepoint.Append(x, known, changepoint.Defaults)
	from := hist[changepoint.Settled(len(x), changepoint.Defaults)].TestID
	var fresh []store.ChangePoint
	for _, p := range found {
		fresh = append(fresh, store.ChangePoint{TestID: hist[p.Index].TestID, Before: p.Before, After: p.After,
			DeltaPct: p.DeltaPct, PValue: p.PValue})
	}
	return st.ChangePointsReplaceFrom(ctx, testID, kpi, from, fresh)
}
