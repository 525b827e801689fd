// Package judge decides a finished test's verdicts: each KPI against the
// tests of its baseline at the KPI's accepted level, stored with their
// evidence, and the KPI's change points updated with this test's value.
// The statistics are internal/verdict's and internal/changepoint's; this
// package gathers their inputs from the store and stores their answers.
package judge

import (
	"context"
	"fmt"
	"maps"
	"slices"

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
	compareTo, err := st.CompareTo(ctx, testID)
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", testID, err)
	}
	own, err := st.KPIValues(ctx, []int64{testID})
	if err != nil {
		return nil, fmt.Errorf("load KPI values: %w", err)
	}
	units, err := st.KPIUnits(ctx, testID)
	if err != nil {
		return nil, fmt.Errorf("load KPI units: %w", err)
	}
	// hw is the hardware the baselines must share ("": any).
	var hw string
	if plan.Framework.SameHardware() {
		if hw, err = st.TestHardware(ctx, testID); err != nil {
			return nil, fmt.Errorf("load test %d: %w", testID, err)
		}
	}
	results := map[string]verdict.Result{}
	bases := map[string][]int64{}
	var all []string
	used := map[int64]bool{}
	for _, k := range plan.Framework.KPIs {
		if len(own[testID][k.Name]) == 0 {
			continue
		}
		base, other, err := baseline(ctx, st, testID, branch, k.Name, units[k.Name], compareTo, hw)
		if err != nil {
			return nil, err
		}
		values, err := st.KPIValues(ctx, base)
		if err != nil {
			return nil, fmt.Errorf("load KPI values: %w", err)
		}
		in := input(own[testID][k.Name], k, base, values)
		if in.NoiseCV, err = st.NoiseFloorOfTest(ctx, testID, k.Name); err != nil {
			return nil, fmt.Errorf("noise floor of %s: %w", k.Name, err)
		}
		if k.Test == verdict.MethodMannWhitney {
			if err := withSamples(ctx, st, &in, testID, k.Name, base, values); err != nil {
				return nil, err
			}
		}
		r := verdict.Decide(in)
		if other > 0 {
			r.Evidence = HardwareEvidence(r, hw, other)
		}
		results[k.Name] = r
		bases[k.Name] = base
		all = append(all, r.Verdict)
		for _, b := range base {
			used[b] = true
		}
	}
	overall := verdict.Overall(all)
	base := slices.Sorted(maps.Keys(used))
	slices.Reverse(base)
	if err := st.VerdictStore(ctx, testID, overall, base, results, bases); err != nil {
		return nil, fmt.Errorf("store verdicts of test %d: %w", testID, err)
	}
	for _, k := range plan.Framework.KPIs {
		if plan.ConfirmationArm != "" {
			break // a confirmation's run is not part of the KPI's history
		}
		if err := changePoints(ctx, st, testID, branch, k); err != nil {
			return nil, fmt.Errorf("update change points of %s: %w", k.Name, err)
		}
	}
	return &Result{Verdict: overall, Baseline: base}, nil
}

// baseline is the tests a KPI is judged against: the one the test was
// asked to be compared to, else the most recent tests of the KPI's
// accepted level with a value in the same unit (a KPI reported in another
// unit than declared has none: no-baseline, not a false alarm). While a
// change is not yet accepted, tests after it are still judged against the
// level before it, so a regression stays visible until someone accepts
// it or a fix brings the KPI back. With hw set, only tests on that
// hardware count; other is how many of the most recent tests that would
// otherwise have been among them ran on other hardware.
func baseline(ctx context.Context, st *store.Store, testID int64, branch, kpi, unit string, compareTo int64, hw string) (base []int64, other int, err error) {
	if compareTo != 0 {
		return []int64{compareTo}, 0, nil
	}
	level, err := acceptedLevel(ctx, st, testID, kpi)
	if err != nil {
		return nil, 0, fmt.Errorf("find accepted level of %s: %w", kpi, err)
	}
	level.AnyHardware = hw == ""
	if base, err = st.BaselineFor(ctx, testID, branch, kpi, unit, level, store.BaselineMax); err != nil {
		return nil, 0, fmt.Errorf("find baseline of %s: %w", kpi, err)
	}
	if hw == "" {
		return base, 0, nil
	}
	level.AnyHardware = true
	all, err := st.BaselineFor(ctx, testID, branch, kpi, unit, level, store.BaselineMax)
	if err != nil {
		return nil, 0, fmt.Errorf("find baseline of %s: %w", kpi, err)
	}
	for _, id := range all {
		if !slices.Contains(base, id) {
			other++
		}
	}
	return base, other, nil
}

// HardwareEvidence is a verdict's evidence when tests on other hardware
// were left out of its baseline (other of them, among the most recent
// that would have counted): "no baseline on this hardware" when none was
// left, else a note after the evidence.
func HardwareEvidence(r verdict.Result, hw string, other int) string {
	if r.Verdict == verdict.NoBaseline {
		return fmt.Sprintf("no baseline on this hardware (%s): %d earlier test(s) of this KPI ran on other hardware, "+
			"which the framework's baseline_hardware (same) leaves out; set baseline_hardware: any to compare across hardware", hw, other)
	}
	return fmt.Sprintf("%s; baselines limited to this hardware (%s): %d test(s) on other hardware left out", r.Evidence, hw, other)
}

// input is what verdict.Decide needs for one KPI: the test's values and
// those of its baseline tests.
func input(candidate []float64, k framework.KPI, base []int64, values map[int64]map[string][]float64) verdict.Input {
	in := verdict.Input{Candidate: candidate, LowerIsBetter: k.Better != framework.BetterHigher, Method: k.Test}
	in.Threshold, _ = framework.ParseThreshold(k.Threshold)
	for _, b := range base {
		v := values[b][k.Name]
		if len(v) == 0 {
			continue
		}
		in.Baseline = append(in.Baseline, v...)
		var sum float64
		for _, x := range v {
			sum += x
		}
		in.BaselineMeans = append(in.BaselineMeans, sum/float64(len(v)))
	}
	return in
}

// withSamples gives the rank test the samples of the KPI's PromQL range
// query instead of one value per iteration, when the test and every
// baseline test with the KPI have them (samples and iterations are not
// mixed: a baseline from before the query had a step keeps iterations).
// The baseline means, for the prediction interval, stay per test.
func withSamples(ctx context.Context, st *store.Store, in *verdict.Input, testID int64, kpi string, base []int64, values map[int64]map[string][]float64) error {
	samples, err := st.KPISamples(ctx, append([]int64{testID}, base...), kpi)
	if err != nil {
		return fmt.Errorf("load samples of %s: %w", kpi, err)
	}
	if len(samples[testID]) == 0 {
		return nil
	}
	var baseline []float64
	for _, b := range base {
		if len(values[b][kpi]) == 0 {
			continue
		}
		if len(samples[b]) == 0 {
			return nil
		}
		baseline = append(baseline, samples[b]...)
	}
	in.Candidate, in.Baseline, in.Samples = samples[testID], baseline, "PromQL range-query samples"
	return nil
}

// acceptedLevel bounds the tests of the KPI's accepted level as the test
// sees it: from the latest accepted change point before it (0: the start)
// to the first strong change point after that not yet accepted (0: no
// bound).
func acceptedLevel(ctx context.Context, st *store.Store, testID int64, kpi string) (store.Level, error) {
	cps, err := st.ChangePointsOf(ctx, testID, kpi)
	if err != nil {
		return store.Level{}, err
	}
	return LevelBefore(cps, testID), nil
}

// LevelBefore bounds the accepted level a test numbered testID is judged
// at, from the change points of its KPI history: from the latest accepted
// one before it to the first strong one after that not yet accepted.
func LevelBefore(cps []store.ChangePoint, testID int64) store.Level {
	var l store.Level
	for _, c := range cps {
		if c.AcceptedAt != nil && c.TestID < testID && c.TestID > l.Since {
			l.Since = c.TestID
		}
	}
	for _, c := range cps {
		// A weak change is below the KPI's threshold: not a new level.
		if c.AcceptedAt == nil && !c.Weak && c.TestID > l.Since && c.TestID < testID && (l.Until == 0 || c.TestID < l.Until) {
			l.Until = c.TestID
		}
	}
	return l
}

// changePoints updates the KPI's change points with this test's value:
// only the tail of the history is examined again; change points before it
// stand, and accepted ones always do.
func changePoints(ctx context.Context, st *store.Store, testID int64, branch string, k framework.KPI) error {
	return analyse(ctx, st, testID, branch, k, false)
}

// Reanalyse finds the change points of every KPI history of a team's
// framework again from their first run, as if each history were new, and
// stores them: unaccepted ones no longer found go, accepted ones stand.
// It returns how many histories it analysed.
func Reanalyse(ctx context.Context, st *store.Store, team, name string) (int, error) {
	f, err := st.FrameworkGet(ctx, team, name)
	if err != nil {
		return 0, err
	}
	heads, err := st.SeriesHeads(ctx, team, name, f.BaselineBranch)
	if err != nil {
		return 0, fmt.Errorf("histories of %s: %w", name, err)
	}
	n := 0
	for _, head := range heads {
		for _, k := range f.KPIs {
			if err := analyse(ctx, st, head, f.BaselineBranch, k, true); err != nil {
				return n, fmt.Errorf("change points of %s: %w", k.Name, err)
			}
			n++
		}
	}
	return n, nil
}

// analyse stores the change points of the KPI's history up to testID:
// appended (the tail only examined again) or, whole, from its first run.
func analyse(ctx context.Context, st *store.Store, testID int64, branch string, k framework.KPI, whole bool) error {
	o := changepoint.Defaults
	if t, err := framework.ParseThreshold(k.Threshold); err == nil {
		o.MinDeltaPct = t * 100
	}
	hist, err := st.KPIHistory(ctx, testID, branch, k.Name)
	if err != nil || len(hist) == 0 {
		return err
	}
	x := make([]float64, len(hist))
	for i, h := range hist {
		x[i] = h.Value
	}
	var found []changepoint.Point
	from := hist[0].TestID
	if whole {
		found = changepoint.Detect(x, o)
	} else {
		if len(hist) < 2*o.MinSize {
			return nil
		}
		known, err := knownPoints(ctx, st, testID, k.Name, hist)
		if err != nil {
			return err
		}
		found = changepoint.Append(x, known, o)
		from = hist[changepoint.Settled(len(x), o)].TestID
	}
	fresh := []store.ChangePoint{}
	for _, p := range found {
		fresh = append(fresh, store.ChangePoint{TestID: hist[p.Index].TestID, Before: p.Before, After: p.After,
			DeltaPct: p.DeltaPct, PValue: p.PValue, Weak: p.Weak})
	}
	return st.ChangePointsReplaceFrom(ctx, testID, k.Name, from, fresh)
}

// knownPoints are the stored change points of a history, by index.
func knownPoints(ctx context.Context, st *store.Store, testID int64, kpi string, hist []store.HistoryPoint) ([]changepoint.Point, error) {
	stored, err := st.ChangePointsOf(ctx, testID, kpi)
	if err != nil {
		return nil, err
	}
	index := map[int64]int{}
	for i, h := range hist {
		index[h.TestID] = i
	}
	var known []changepoint.Point
	for _, c := range stored {
		if i, ok := index[c.TestID]; ok {
			known = append(known, changepoint.Point{Index: i, Before: c.Before, After: c.After, DeltaPct: c.DeltaPct, PValue: c.PValue, Weak: c.Weak})
		}
	}
	return known, nil
}
