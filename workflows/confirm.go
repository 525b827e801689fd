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
	c := &confirmation{series: series{id: in.ID}}
	return c.run(ctx)
}

// series is what a confirmation and a bisection share: runs of commits,
// each a child PerfTest pinned to one host whose leases the series holds
// from its first run to its end.
type series struct {
	id   int64
	plan *contract.ConfirmPlan
	hold
}

// hold is the leases a series of runs holds from its first run to its
// end, and where its runs go: each a child PerfTest pinned to host and
// told that hosts are held.
type hold struct {
	host  string
	hosts []string
	// lease is the test ID the leases are held under (the first run's).
	lease  int64
	leased []string
	// take is set for a series on versionLeaseTake: its leases live in the
	// database (LeaseTake, ReleaseLeases), as PerfTest's on takeVersion.
	take bool
	// roles are a multi-host test's roles and the hosts each plays on.
	roles []contract.RoleHosts
}

// load loads the series' plan.
func (s *series) load(ctx workflow.Context) error {
	plan, err := contract.ConfirmLoad.ExecuteLocal(central(ctx), s.id).Result(ctx)
	if err != nil {
		return fmt.Errorf("load series %d: %w", s.id, err)
	}
	s.plan, s.host, s.hosts, s.roles = plan, plan.Host, plan.Hosts, plan.RoleHosts
	return nil
}

// release gives back the hosts the series leased.
func (s *hold) release(ctx workflow.Context) {
	if s.take {
		in := contract.ReleaseLeasesInput{TestID: s.lease, Hosts: s.leased}
		if err := contract.ReleaseLeases.ExecuteLocal(central(ctx), in).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("release leases", "hosts", s.leased, "error", err)
		}
		return
	}
	for _, h := range s.leased {
		err := workflow.SignalExternalWorkflow(ctx, contract.LeaseWorkflowID(h), "", contract.SignalLeaseRelease,
			contract.LeaseRelease{TestID: s.lease}).Get(ctx, nil)
		if err != nil {
			workflow.GetLogger(ctx).Warn("release lease", "host", h, "error", err)
		}
	}
}

// start creates a run of the series at commit; the first one leases the
// hosts and records the host.
func (s *series) start(ctx workflow.Context, arm, commit string, first func() error) (int64, string) {
	testID, err := contract.ConfirmRun.ExecuteLocal(central(ctx), contract.ConfirmRunInput{ID: s.id, Arm: arm, Commit: commit}).Result(ctx)
	if err != nil {
		return 0, because("create run", err)
	}
	if s.lease == 0 {
		if why := s.acquire(ctx, testID); why != "" {
			return 0, why
		}
		if err := first(); err != nil {
			return 0, because("record host", err)
		}
	}
	return testID, ""
}

type confirmation struct {
	series
	// a and b are each KPI's values of the runs of each arm, in run order.
	a, b     map[string][]float64
	outcomes []contract.ConfirmOutcome
}

func (c *confirmation) run(ctx workflow.Context) error {
	if err := c.load(ctx); err != nil {
		return err
	}
	c.a, c.b = map[string][]float64{}, map[string][]float64{}
	state, reason := c.runs(ctx)
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if ctx.Err() != nil {
		state, reason = wire.ConfirmCancelled, "cancelled"
	}
	c.release(dctx)
	return c.update(dctx, state, reason)
}

// runs makes the runs until the answer; it returns the confirmation's
// ending and why.
func (c *confirmation) runs(ctx workflow.Context) (string, string) {
	p := c.plan
	order, err := confirm.ParseOrder(p.Order)
	if err != nil {
		return wire.ConfirmFailed, err.Error()
	}
	arms := order.Interleave(2, p.Budget, p.Seed)
	for i, arm := range arms {
		name, commit := wire.ArmBaseline, p.BaseCommit
		if arm == 1 {
			name, commit = wire.ArmCandidate, p.CandCommit
		}
		testID, why := c.start(ctx, name, commit, func() error { return c.update(ctx, wire.ConfirmRunning, "") })
		if why != "" {
			return wire.ConfirmFailed, why
		}
		got, why := c.runOnce(ctx, testID, name)
		if why != "" {
			return wire.ConfirmFailed, why
		}
		for _, k := range p.KPIs {
			if name == wire.ArmBaseline {
				c.a[k.Name] = append(c.a[k.Name], got[k.Name])
			} else {
				c.b[k.Name] = append(c.b[k.Name], got[k.Name])
			}
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

// versionLeaseTake is the version marker of a series whose leases live
// in the database (LeaseTake) instead of HostLease workflows.
const versionLeaseTake = "lease-take"

// acquire leases every host the runs need, in the global order, under the
// first run's test ID, and waits until each is granted.
func (c *hold) acquire(ctx workflow.Context, testID int64) string {
	c.lease = testID
	c.take = workflow.GetVersion(ctx, versionLeaseTake, workflow.DefaultVersion, 1) == 1
	self := workflow.GetInfo(ctx).WorkflowExecution.ID
	events := workflow.GetSignalChannel(ctx, contract.SignalLease)
	for _, h := range c.hosts {
		req := contract.LeaseRequestInput{Host: h, Request: contract.LeaseRequest{TestID: testID, WorkflowID: self}}
		c.leased = append(c.leased, h)
		if c.take {
			ev, err := contract.LeaseTake.ExecuteLocal(central(ctx), req).Result(ctx)
			if err != nil {
				return because("lease "+h, err)
			}
			if ev.Granted {
				continue
			}
		} else if err := contract.LeaseAcquire.ExecuteLocal(central(ctx), req).Get(ctx, nil); err != nil {
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
// host and returns its KPIs' values (each KPI of the plan).
func (c *series) runOnce(ctx workflow.Context, testID int64, arm string) (map[string]float64, string) {
	res, err := c.child(ctx, testID)
	if err != nil {
		return nil, fmt.Sprintf("run %d (arm %s): %s", testID, arm, errorMessage(err))
	}
	if res.State != wire.StateFinished {
		return nil, fmt.Sprintf("run %d (arm %s) %s: %s", testID, arm, res.State, res.Reason)
	}
	got, err := contract.ConfirmValues.ExecuteLocal(central(ctx), testID).Result(ctx)
	if err != nil {
		return nil, because(fmt.Sprintf("read run %d", testID), err)
	}
	for _, k := range c.plan.KPIs {
		if _, ok := got.Values[k.Name]; !ok {
			return nil, fmt.Sprintf("run %d (arm %s) reported no %s", testID, arm, k.Name)
		}
	}
	return got.Values, ""
}

// child runs one test of the series as a child PerfTest on the held host.
func (c *hold) child(ctx workflow.Context, testID int64) (*contract.PerfTestResult, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: contract.WorkflowID(testID),
		TaskQueue:  contract.CentralQueue,
		// A cancelled series waits until its run has aborted and cleaned
		// up before it gives the host back.
		WaitForCancellation: true,
	})
	var res contract.PerfTestResult
	err := workflow.ExecuteChildWorkflow(cctx, contract.PerfTestWorkflow,
		contract.PerfTestInput{TestID: testID, Host: c.host, Held: c.hosts, RoleHosts: c.roles}).Get(ctx, &res)
	return &res, err
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
			regressed = append(regressed, fmt.Sprintf("%s %+.2f%% (%.3g%% CI %+.2f..%+.2f%%)", o.KPI, o.ChangePct,
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
	return c.record(ctx, contract.ConfirmUpdateInput{ID: c.id, State: state, Reason: reason, Outcomes: c.outcomes})
}

// record records where the series stands, with its host once held.
func (s *series) record(ctx workflow.Context, in contract.ConfirmUpdateInput) error {
	if len(s.leased) > 0 {
		in.Host = s.plan.Host
	}
	return contract.ConfirmUpdate.ExecuteLocal(central(ctx), in).Get(ctx, nil)
}
