package activities

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/changepoint"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/verdict"
	"github.com/pitwall/pitwall/internal/wire"
)

// TestLoad returns the frozen framework version and parameters of a test.
func (a *Activities) TestLoad(ctx context.Context, testID int64) (*store.TestPlan, error) {
	p, err := a.Store.TestPlanGet(ctx, testID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "NotFound", err)
	}
	return p, err
}

// HostPickInput says which hosts a test may run on and which it watches.
type HostPickInput struct {
	// TestID claims the chosen host for the test (0 in inputs recorded
	// before claims existed: choose only).
	TestID     int64
	Hosts      []string
	Labels     map[string]string
	Statistics []string
}

// HostPickResult names the execution host and the statistics hosts.
type HostPickResult struct {
	Execution  string
	Statistics []string
}

// ErrNoHost is the error type of a test that has nowhere to run.
const ErrNoHost = "NoHost"

// HostPick chooses the execution host: the named one if it is registered,
// else the online agent whose labels match that the fewest unended tests
// have claimed, and claims it (store.HostClaim). Statistics hosts must be
// registered agents; none named means the execution host. A named host
// that was never registered is bad input; no online agent yet is worth retrying.
func (a *Activities) HostPick(ctx context.Context, in HostPickInput) (*HostPickResult, error) {
	agents, err := a.Store.AgentList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	known := map[string]bool{}
	for _, ag := range agents {
		known[ag.Name] = true
	}
	var candidates []string
	if len(in.Hosts) > 0 {
		if !known[in.Hosts[0]] {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("execution host %q is not a registered agent", in.Hosts[0]), ErrNoHost, nil)
		}
		candidates = in.Hosts[:1]
	} else {
		for _, ag := range agents {
			if ag.Online && labelsMatch(ag.Labels, in.Labels) {
				candidates = append(candidates, ag.Name)
			}
		}
		if len(candidates) == 0 {
			return nil, temporal.NewApplicationError("no online agent matches the framework's hosts and labels", ErrNoHost)
		}
	}
	res := &HostPickResult{}
	if res.Execution, err = a.Store.HostClaim(ctx, in.TestID, candidates); err != nil {
		return nil, fmt.Errorf("claim a host: %w", err)
	}
	for _, h := range in.Statistics {
		if !known[h] {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("statistics host %q is not a registered agent", h), ErrNoHost, nil)
		}
		if !slices.Contains(res.Statistics, h) {
			res.Statistics = append(res.Statistics, h)
		}
	}
	if len(res.Statistics) == 0 {
		res.Statistics = []string{res.Execution}
	}
	return res, nil
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Transition records a test's state change.
func (a *Activities) Transition(ctx context.Context, tr store.Transition) error {
	if tr.At.IsZero() {
		tr.At = time.Now()
	}
	return a.Store.TestTransition(ctx, tr)
}

// Iteration is what one run of the script reported.
type Iteration struct {
	Iteration int
	KPIs      []results.KPI
	Notes     []string
}

// CollateInput carries what the agent collected to the database.
type CollateInput struct {
	TestID     int64
	Iterations []Iteration
	// Hosts, ScriptSHA256 and HookSHA256 go into the test's fingerprint.
	Hosts        []string
	ScriptSHA256 string
	HookSHA256   map[string]string
	// Skipped are results-directory entries that were not regular files.
	Skipped []string
}

// Collate stores a test's KPIs, per iteration, and its notes, and merges
// its samples into full chunks.
func (a *Activities) Collate(ctx context.Context, in CollateInput) error {
	var (
		notes []string
		its   []store.IterationResults
	)
	for _, it := range in.Iterations {
		notes = append(notes, it.Notes...)
		its = append(its, store.IterationResults{Iteration: it.Iteration, KPIs: it.KPIs})
	}
	if err := a.Store.TestResultsStore(ctx, in.TestID, its, notes); err != nil {
		return err
	}
	if err := a.Store.NotesReplace(ctx, in.TestID, "upload", in.Skipped); err != nil {
		return err
	}
	// The monitors have flushed: the samples the test keeps are merged into
	// full chunks once, whatever the server compacted on the way.
	for _, h := range in.Hosts {
		if err := a.Store.SampleCompact(ctx, in.TestID, h); err != nil {
			return err
		}
	}
	return a.fingerprint(ctx, in)
}

// fingerprint stores the environment the test ran in: each host's facts
// as its agent last reported them, and what exactly ran with what.
func (a *Activities) fingerprint(ctx context.Context, in CollateInput) error {
	t, err := a.Store.TestGet(ctx, in.TestID)
	if err != nil {
		return err
	}
	agents, err := a.Store.AgentFacts(ctx, in.Hosts)
	if err != nil {
		return err
	}
	fp := wire.Fingerprint{
		Hosts: map[string]wire.HostFingerprint{}, ScriptSHA256: in.ScriptSHA256, Hooks: in.HookSHA256,
		Params: map[string]string{}, Commit: t.Commit, Branch: t.Branch, PR: t.PR, Tags: t.Tags,
	}
	for _, h := range in.Hosts {
		ag := agents[h]
		fp.Hosts[h] = wire.HostFingerprint{Facts: ag.Facts, AgentVersion: ag.Version}
	}
	for _, p := range t.Params {
		fp.Params[p.Name] = p.Value
	}
	return a.Store.FingerprintSet(ctx, in.TestID, fp)
}

// VerdictResult is a test's overall verdict.
type VerdictResult struct {
	Verdict  string
	Baseline []int64
}

// Verdict judges each KPI of a finished test against its baseline and
// stores the verdicts with their evidence.
func (a *Activities) Verdict(ctx context.Context, testID int64) (*VerdictResult, error) {
	plan, err := a.Store.TestPlanGet(ctx, testID)
	if err != nil {
		return nil, err
	}
	base, err := a.Store.BaselineFor(ctx, testID, plan.Framework.BaselineBranch)
	if err != nil {
		return nil, err
	}
	values, err := a.Store.KPIValues(ctx, append([]int64{testID}, base...))
	if err != nil {
		return nil, err
	}
	results := map[string]verdict.Result{}
	var all []string
	for _, k := range plan.Framework.KPIs {
		cand := values[testID][k.Name]
		if len(cand) == 0 {
			continue
		}
		in := verdict.Input{Candidate: cand, LowerIsBetter: k.Better != framework.BetterHigher}
		in.Threshold, _ = framework.ParseThreshold(k.Threshold)
		// An accepted change sets a new level: older tests no longer count;
		// a change not yet accepted is a regression under triage, so tests
		// after it do not count either.
		since, until, err := a.acceptedLevel(ctx, testID, k.Name)
		if err != nil {
			return nil, err
		}
		for _, b := range base {
			if b < since || b >= until {
				continue
			}
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
		r := verdict.Decide(in)
		results[k.Name] = r
		all = append(all, r.Verdict)
	}
	overall := verdict.Overall(all)
	if err := a.Store.VerdictStore(ctx, testID, overall, base, results); err != nil {
		return nil, err
	}
	for _, k := range plan.Framework.KPIs {
		if err := a.changePoints(ctx, testID, plan.Framework.BaselineBranch, k.Name); err != nil {
			return nil, err
		}
	}
	return &VerdictResult{Verdict: overall, Baseline: base}, nil
}

// acceptedLevel bounds the tests of the KPI's accepted level: from its
// latest accepted change point (0: the start) to the first change point
// after that not yet accepted (no bound when none).
func (a *Activities) acceptedLevel(ctx context.Context, testID int64, kpi string) (since, until int64, err error) {
	cps, err := a.Store.ChangePointsOf(ctx, testID, kpi)
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
func (a *Activities) changePoints(ctx context.Context, testID int64, branch, kpi string) error {
	hist, err := a.Store.KPIHistory(ctx, testID, branch, kpi)
	if err != nil || len(hist) < 2*changepoint.Defaults.MinSize {
		return err
	}
	stored, err := a.Store.ChangePointsOf(ctx, testID, kpi)
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
	return a.Store.ChangePointsReplaceFrom(ctx, testID, kpi, from, fresh)
}
