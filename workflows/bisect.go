package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Bisect finds the first bad commit between a good and a bad end
// (docs/confirmation.md): internal/confirm's Bisection says which runs to
// make, in rounds of the good end, the step's middle commit and the bad
// end, interleaved; each run is a child PerfTest pinned to the confirmed
// test's host, all under one lease held from the first run to the end.
// A middle commit whose run fails is taken as one that does not build and
// skipped. The standing is recorded after every round, so the API shows
// each step as it ends; the bisection ends found, range or unknown, failed
// when a run of an end fails or Pitwall cannot go on, cancelled when its
// workflow is cancelled. The leases are always given back.
func Bisect(ctx workflow.Context, in contract.ConfirmInput) error {
	b := &bisection{series: series{id: in.ID}}
	if err := b.load(ctx); err != nil {
		return err
	}
	state, reason := b.runs(ctx)
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if ctx.Err() != nil {
		state, reason = wire.ConfirmCancelled, "cancelled"
	}
	b.release(dctx)
	return b.update(dctx, state, reason)
}

type bisection struct {
	series
	b *confirm.Bisection
}

// roleArm is the arm a run of each role is recorded as.
var roleArm = map[confirm.Role]string{confirm.GoodEnd: wire.ArmBaseline, confirm.Middle: wire.ArmMiddle,
	confirm.BadEnd: wire.ArmCandidate}

func (b *bisection) runs(ctx workflow.Context) (string, string) {
	p := b.plan
	if len(p.KPIs) != 1 {
		return wire.ConfirmFailed, fmt.Sprintf("a bisection follows one KPI, not %d", len(p.KPIs))
	}
	order, err := confirm.ParseOrder(p.Order)
	if err != nil {
		return wire.ConfirmFailed, err.Error()
	}
	k := p.KPIs[0]
	b.b, err = confirm.NewBisection(p.Commits, confirm.BisectConfig{
		Test:  confirm.Config{LowerIsBetter: k.LowerIsBetter, Threshold: k.Threshold, MaxPairs: p.Budget},
		Order: order, Seed: p.Seed})
	if err != nil {
		return wire.ConfirmFailed, err.Error()
	}
	for {
		runs, done := b.b.Next()
		if done {
			break
		}
		for _, r := range runs {
			if why := b.one(ctx, r, k.Name); why != "" {
				return wire.ConfirmFailed, why
			}
		}
		if err := b.update(ctx, wire.ConfirmRunning, ""); err != nil {
			return wire.ConfirmFailed, because("record progress", err)
		}
	}
	return b.ending()
}

// one makes one run the bisection asked for and tells it the figure, or
// that the commit does not build when the run of a middle commit failed.
func (b *bisection) one(ctx workflow.Context, r confirm.Run, kpi string) string {
	arm := roleArm[r.Role]
	testID, why := b.start(ctx, arm, r.Commit, func() error { return b.update(ctx, wire.ConfirmRunning, "") })
	if why != "" {
		return why
	}
	res, err := b.child(ctx, testID)
	if err != nil {
		return fmt.Sprintf("run %d (commit %s): %s", testID, r.Commit, errorMessage(err))
	}
	if res.State != wire.StateFinished {
		if r.Role != confirm.Middle || res.State != wire.StateFailed {
			return fmt.Sprintf("run %d (commit %s) %s: %s", testID, r.Commit, res.State, res.Reason)
		}
		if err := b.b.Broken(r); err != nil {
			return err.Error()
		}
		return ""
	}
	got, err := contract.ConfirmValues.ExecuteLocal(central(ctx), testID).Result(ctx)
	if err != nil {
		return because(fmt.Sprintf("read run %d", testID), err)
	}
	v, ok := got.Values[kpi]
	if !ok {
		return fmt.Sprintf("run %d (commit %s) reported no %s", testID, r.Commit, kpi)
	}
	if err := b.b.Observe(r, v); err != nil {
		return err.Error()
	}
	return ""
}

// ending is the bisection's state from its result.
func (b *bisection) ending() (string, string) {
	r := b.b.Result()
	switch r.Outcome {
	case confirm.Found:
		return wire.BisectFound, fmt.Sprintf("first bad commit %s (after %s) found in %d steps and %d runs",
			r.FirstBad, r.Good, len(r.Steps), r.Runs)
	case confirm.Range:
		return wire.BisectRange, fmt.Sprintf("the first bad commit is one of %s (the others do not build); %d runs",
			strings.Join(r.Candidates, ", "), r.Runs)
	}
	last := "no step"
	if n := len(r.Steps); n > 0 {
		s := r.Steps[n-1]
		last = fmt.Sprintf("commit %s: %s", s.Commit, s.VsGood.Evidence)
	}
	return wire.ConfirmUnknown, fmt.Sprintf("could not tell; narrowed to %s after %d runs (%s)",
		strings.Join(r.Candidates, ", "), r.Runs, last)
}

// update records the bisection's standing.
func (b *bisection) update(ctx workflow.Context, state, reason string) error {
	in := contract.ConfirmUpdateInput{ID: b.id, State: state, Reason: reason}
	if b.b != nil {
		r := b.b.Result()
		in.Bisect = &r
	}
	return b.record(ctx, in)
}
