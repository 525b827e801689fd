package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// leanVersion is the version marker of PerfTest's lean shape (issue 22):
// a test that starts on it
//   - is recorded as waiting by its host claim (HostPick), and asks its
//     lease quietly (LeaseRequest.Quiet): no queued notice, so no signal,
//     workflow task, state change or search-attribute upsert for it;
//   - has its Setup done by its first Execute when nothing runs between
//     them (no before_setup, after_setup or before_run hook, no
//     containers, no load generator), and no "setup" state of its own;
//   - has its last run's Collect done by that run's Execute when no
//     after_run hook runs between them;
//   - gives its hosts back from a local activity (ReleaseLeases) rather
//     than by signals whose delivery it waits for in a task of its own.
//
// Tests that started before it replay the shape they started with.
//
// Version 2 of the same marker (monitorVersion; one marker, so no second
// TemporalChangeVersion upsert) also folds the execution host's Monitor
// into that Execute when the test runs its script once (monitorFoldable):
// one agent activity a test instead of two.
const leanVersion = "lean"

// monitorVersion is leanVersion's version that folds the Monitor in.
const monitorVersion = 2

// takeVersion is leanVersion's version whose leases live in the database
// (contract.LeaseTake) instead of HostLease workflows: a test takes a
// free host at once, with no signal nor workflow task to hear so, and a
// test that queues hears of its grant from its predecessor's
// ReleaseLeases. No lease workflow runs: per test, about two workflow
// tasks, ten history events and two signals fewer.
const takeVersion = 3

// setupFoldable says whether the test's first agent activity after Setup
// is its script's first Execute, so that the Execute can set up.
func (t *perfTest) setupFoldable() bool {
	p := t.plan
	if p.Containers() || p.Load != nil {
		return false
	}
	for _, name := range []string{"before_setup", "after_setup", "before_run"} {
		if t.hasHook(name) {
			return false
		}
	}
	return true
}

// runLean runs the script once on the lean shape: the first run sets the
// test up, and fold, when set, is the Collect done right after the run.
func (t *perfTest) runLean(ctx workflow.Context, iteration int, fold *contract.CollectInput) (*contract.ExecuteResult, error) {
	in := t.executeInput("script", "", iteration)
	if t.setup != nil {
		in.Script = t.setup.Script
	}
	startToClose := t.plan.Execution.Timeout + time.Minute
	if t.foldSetup {
		p := t.plan
		in.Setup = &contract.SetupInput{TestID: t.id, Script: p.Execution.Script, ScriptPath: p.Execution.ScriptPath, Hooks: p.Hooks}
		t.setupSent = true
	}
	if fold != nil {
		in.Collect = fold
		startToClose += 30 * time.Minute // the upload, as the last Collect has
		if t.monitors != nil && t.monitors.inRun != nil {
			in.Monitor = t.monitors.inRun
		}
	}
	t.running = true
	run, err := contract.Execute.Execute(t.agent(ctx, t.host, startToClose, executeAttempts), in).Result(ctx)
	if err != nil {
		return nil, err
	}
	if t.foldSetup {
		if run.Setup == nil {
			return nil, temporal.NewNonRetryableApplicationError(
				"agent "+t.host+" did not set the test up (is it older than the central worker?)", contract.ErrSetup, nil)
		}
		t.setup, t.foldSetup = run.Setup, false
		at := run.Setup.Done
		if at.IsZero() {
			at = workflow.Now(ctx)
		}
		t.stages = append(t.stages, contract.Stage{Name: "setup done", At: at})
	}
	if in.Monitor != nil {
		if run.Monitor == nil {
			return nil, temporal.NewNonRetryableApplicationError(
				"agent "+t.host+" did not monitor the run (is it older than the central worker?)", contract.ErrSetup, nil)
		}
		t.monitors.ranInRun = run.Monitor
	}
	if !run.Reattached.IsZero() {
		t.stages = append(t.stages, contract.Stage{Name: "agent restarted; script re-attached", At: run.Reattached, Detail: "script"})
	}
	return run, nil
}

// releaseLeases gives every leased host back in one local activity.
func (t *perfTest) releaseLeases(dctx workflow.Context) {
	if len(t.leased) == 0 {
		return
	}
	// The stage is stamped when the release is asked: the next holder may
	// hear of its grant, and stamp its own stage, before the local
	// activity's answer moves this workflow's clock on.
	released := contract.Stage{Name: "leases released", At: workflow.Now(dctx), Detail: strings.Join(t.leased, ", ")}
	in := contract.ReleaseLeasesInput{TestID: t.id, Hosts: t.leased}
	if err := contract.ReleaseLeases.ExecuteLocal(central(dctx), in).Get(dctx, nil); err != nil {
		workflow.GetLogger(dctx).Warn("release leases", "hosts", t.leased, "error", err)
	}
	t.stages = append(t.stages, released)
}

// hookPath is the file that runs a hook, once the test is set up.
func (t *perfTest) hookPath(name string) (string, bool) {
	if t.setup == nil {
		return "", false
	}
	path, ok := t.setup.Hooks[name]
	return path, ok
}

// hasHook says whether the test has a hook, before it is set up too.
func (t *perfTest) hasHook(name string) bool {
	if t.setup != nil {
		_, ok := t.setup.Hooks[name]
		return ok
	}
	for _, h := range t.plan.Hooks {
		if h.Name == name && (h.Path != "" || h.Script != "") {
			return true
		}
	}
	return false
}
