package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/verdict"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Confirm confirms a test's verdict (docs/confirmation.md): it leases the
// test's hosts once for the whole series, then runs the baseline's commit
// (arm A) and the test's own (arm B) in turn on the same host, each run a
// test of its own (a child PerfTest told that its hosts are held), in
// ABBA or seeded random order; after each pair the sequential test of
// internal/confirm looks at every KPI, and the series ends once each KPI
// has an answer (DIFFERENT or SAME) or the budget of pairs is spent. The
// confirmation ends confirmed when a KPI regressed, not confirmed when
// every KPI is the same or better, unknown otherwise; failed when a run
// fails, cancelled when its workflow is cancelled. The leases are always
// given back.
func Confirm(ctx workflow.Context, in contract.ConfirmInput) error {
	c := &confirmation{id: in.ID}
	return c.run(ctx)
}

type confirmation struct {
	id   int64
	plan *contract.ConfirmPlan
	// lease is the test ID the leases are held under (the first run's).
	lease  int64
	leased []string
	// a and b are each KPI's values of the runs of each arm, in run order.
	a, b     map[string][]float64
	outcomes []contract.ConfirmOutcome
}

func (c *confirmation) run(ctx workflow.Context) error {
	plan, err := contract.ConfirmLoad.ExecuteLocal(central(ctx), c.id).Result(ctx)
	if err != nil {
		return fmt.Errorf("load confirmation %d: %w", c.id, err)
	}
	c.plan = plan
	c.a, c.b = map[string][]float64{}, map[string][]float64{}
	state, reason := c.series(ctx)
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if ctx.Err() != nil {
		state, reason = wire.ConfirmCancelled, "cancelled"
	}
	for _, h := range c.leased {
		err := workflow.SignalExternalWorkflow(dctx, contract.LeaseWorkflowID(h), "", contract.SignalLeaseRelease,
			contract.LeaseRelease{TestID: c.lease}).Get(dctx, nil)
		if err != nil {
			workflow.GetLogger(dctx).Warn("release lease", "host", h, "error", err)
		}
	}
	return c.update(dctx, state, reason)
}

// series makes the runs until the answer; it returns the confirmation's
// ending and why.
func (c *confirmation) series(ctx workflow.Context) (string, string) {
	p := c.plan
	order, err := confirm.ParseOrder(p.Order)
	if err != nil {
		return wire.ConfirmFailed, err.Error()
	}
	arms := order.Interleave(2, p.Budget, p.Seed)
	for i, arm := range arms {
		in := contract.ConfirmRunInput{ID: c.id, Arm: wire.ArmBaseline, Commit: p.BaseCommit}
		if arm == 1 {
			in.Arm, in.Commit = wire.ArmCandidate, p.CandCommit
		}
		testID, err := contract.ConfirmRun.ExecuteLocal(central(ctx), in).Result(ctx)
		if err != nil {
			return wire.ConfirmFailed, because("create run", err)
		}
		if i == 0 {
			if why := c.acquire(ctx, testID); why != "" {
				return wire.ConfirmFailed, why
			}
			if err := c.update(ctx, wire.ConfirmRunning, ""); err != nil {
				return wire.ConfirmFailed, because("record host", err)
			}
		}
		if why := c.runOnce(ctx, testID, in.Arm); why != "" {
			return wire.ConfirmFailed, why
		}
		if i%2 == 0 {
			continue // a pair is not complete yet
		}
		if done := c.decide(); done || i == len(arms)-1 {
			return c.ending()
		}
		if err := c.update(ctx, wire.ConfirmRunning, ""); err != nil {
			return wire.ConfirmFailed, because("record progress", err)
		}
	}
	return c.ending()
}

// acquire leases every host the runs need, in the global order, under the
// first run's test ID, and waits until each is granted.
func (c *confirmation) acquire(ctx workflow.Context, testID int64) string {
	c.lease = testID
	self := workflow.GetInfo(ctx).WorkflowExecution.ID
	events := workflow.GetSignalChannel(ctx, contract.SignalLease)
	for _, h := range c.plan.Hosts {
		req := contract.LeaseRequestInput{Host: h, Request: contract.LeaseRequest{TestID: testID, WorkflowID: self}}
		c.leased = append(c.leased, h)
		if err := contract.LeaseAcquire.ExecuteLocal(central(ctx), req).Get(ctx, nil); err != nil {
			return because("lease "+h, err)
		}
		for {
			var ev contract.LeaseEvent
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(events, func(ch workflow.ReceiveChannel, _ bool) { ch.Receive(ctx, &ev) })
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
			sel.Select(ctx)
			if ctx.Err() != nil {
				return "cancelled"
			}
			if ev.Host == h && ev.Granted {
				break
			}
		}
	}
	return ""
}

// runOnce runs one test of the series as a child PerfTest on the held
// host, and adds its KPIs' values to its arm's.
func (c *confirmation) runOnce(ctx workflow.Context, testID int64, arm string) string {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: contract.WorkflowID(testID),
		TaskQueue:  contract.CentralQueue,
		// A cancelled confirmation waits until its run has aborted and
		// cleaned up before it gives the host back.
		WaitForCancellation: true,
	})
	var res contract.PerfTestResult
	err := workflow.ExecuteChildWorkflow(cctx, contract.PerfTestWorkflow,
		contract.PerfTestInput{TestID: testID, Host: c.plan.Host, Held: c.plan.Hosts}).Get(ctx, &res)
	if err != nil {
		return fmt.Sprintf("run %d (arm %s): %s", testID, arm, errorMessage(err))
	}
	if res.State != wire.StateFinished {
		return fmt.Sprintf("run %d (arm %s) %s: %s", testID, arm, res.State, res.Reason)
	}
	got, err := contract.ConfirmValues.ExecuteLocal(central(ctx), testID).Result(ctx)
	if err != nil {
		return because(fmt.Sprintf("read run %d", testID), err)
	}
	for _, k := range c.plan.KPIs {
		v, ok := got.Values[k.Name]
		if !ok {
			return fmt.Sprintf("run %d (arm %s) reported no %s", testID, arm, k.Name)
		}
		if arm == wire.ArmBaseline {
			c.a[k.Name] = append(c.a[k.Name], v)
		} else {
			c.b[k.Name] = append(c.b[k.Name], v)
		}
	}
	return ""
}

// decide runs the sequential test on every KPI; done when each has an
// answer.
func (c *confirmation) decide() bool {
	c.outcomes = c.outcomes[:0]
	done := true
	for _, k := range c.plan.KPIs {
		cfg := confirm.Config{LowerIsBetter: k.LowerIsBetter, Threshold: k.Threshold, MaxPairs: c.plan.Budget}
		r := cfg.Decide(c.a[k.Name], c.b[k.Name])
		c.outcomes = append(c.outcomes, contract.ConfirmOutcome{KPI: k.Name, Result: r})
		if r.Decision == confirm.NeedMore {
			done = false
		}
	}
	return done
}

// ending is the confirmation's state from its outcomes: confirmed when a
// KPI regressed, not confirmed when every KPI is the same or better.
func (c *confirmation) ending() (string, string) {
	var regressed, open []string
	for _, o := range c.outcomes {
		switch {
		case o.Decision == confirm.Different && o.Verdict == verdict.Regressed:
			regressed = append(regressed, fmt.Sprintf("%s %+.2f%% (%.0f%% CI %+.2f..%+.2f%%)", o.KPI, o.ChangePct,
				100*o.Confidence, o.CILowPct, o.CIHighPct))
		case o.Decision == confirm.Same || o.Decision == confirm.Different:
		default:
			open = append(open, o.KPI)
		}
	}
	runs := 2 * len(c.a[c.plan.KPIs[0].Name])
	switch {
	case len(regressed) > 0:
		return wire.ConfirmConfirmed, fmt.Sprintf("regressed after %d runs: %s", runs, strings.Join(regressed, "; "))
	case len(open) == 0 && len(c.outcomes) > 0:
		return wire.ConfirmNotConfirmed, fmt.Sprintf("no regression after %d runs", runs)
	}
	return wire.ConfirmUnknown, fmt.Sprintf("no answer on %s after %d runs (budget %d pairs)", strings.Join(open, ", "), runs, c.plan.Budget)
}

// update records the confirmation's state and outcomes so far.
func (c *confirmation) update(ctx workflow.Context, state, reason string) error {
	in := contract.ConfirmUpdateInput{ID: c.id, State: state, Reason: reason, Outcomes: c.outcomes}
	if len(c.leased) > 0 {
		in.Host = c.plan.Host
	}
	return contract.ConfirmUpdate.ExecuteLocal(central(ctx), in).Get(ctx, nil)
}
