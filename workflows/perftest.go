package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// PerfTest runs one test: lease its hosts, set up, start the monitors, run
// the hooks and the script (repeated as the framework asks), collect and
// collate its results, and always clean up and give the hosts back.
//
// This is the shape Pitwall first ships with; tests in flight replay it
// from their history, so change it from now on only behind
// workflow.GetVersion (and record new histories for replay_test.go).
func PerfTest(ctx workflow.Context, in contract.PerfTestInput) (*contract.PerfTestResult, error) {
	t := &perfTest{id: in.TestID, pin: in.Host, held: in.Held, pinRoles: in.RoleHosts}
	return t.run(ctx)
}

type perfTest struct {
	id   int64
	plan *contract.TestPlan
	// pin is the execution host a confirmation's run must use; held are
	// the hosts its confirmation leased for it.
	pin  string
	held []string
	// pinRoles are the hosts a confirmation's run of a multi-host test
	// plays its roles on.
	pinRoles []contract.RoleHosts
	host     string
	stats    []string
	// leased are the hosts whose leases were asked for, to give back.
	leased []string
	// setup is set once the agent has a working directory to clean up.
	setup *contract.SetupResult
	// cleaned is set when the last Collect already removed that directory.
	cleaned bool
	// running is true while the script (or a hook) may be running.
	running bool
	// killing is the Kill sent to the execution host on an abort.
	killing workflow.Future
	// lost is set when the execution host's agent stopped answering.
	lost  bool
	abort *contract.AbortRequest
	// stages wait to go out with the next state change.
	stages []contract.Stage
	// monitors run on the statistics hosts while the script runs.
	monitors *monitors
	// current is the run under way (counting warm-ups), for the progress query.
	current int
	// iterations are the kept runs' results; last is the last run.
	iterations []contract.Iteration
	last       contract.ExecuteResult
	// uploaded is what the last Collect sent as artifacts.
	uploaded *contract.UploadResult
	// containers are the test's images and services, once ready.
	containers *contract.ContainersUpResult
	// window is from the start of the first kept run to the end of the
	// last, by the agent's clock; prom is what the PromQL queries gave.
	windowStart, windowEnd time.Time
	prom                   *contract.PromQueriesResult
	// migrations sum the kept script runs' CPU migrations (nil: none
	// counted).
	migrations *contract.Migrations
	// roles is set on the multi-host path (perftest_roles.go).
	roles *roleRun
	// lean is set for tests that started on the version of PerfTest that
	// does less per test (perftest_lean.go): waiting recorded with the
	// host claim, Setup and the last Collect folded into an Execute, the
	// leases given back by a local activity.
	lean bool
	// monitorInRun is set for tests that started on monitorVersion: the
	// execution host's Monitor may ride in the Execute (monitorFoldable).
	monitorInRun bool
	// take is set for a test on takeVersion: it asks for its hosts with
	// LeaseTake, whose answer says at once whether it holds each.
	take bool
	// claimWaiting is set when the host claim recorded the test as waiting.
	claimWaiting bool
	// foldSetup is set while the first Execute is still to set the test
	// up; setupSent once an Execute was asked to (there may be something
	// to clean up even when no result came back).
	foldSetup, setupSent bool
}

func (t *perfTest) run(ctx workflow.Context) (*contract.PerfTestResult, error) {
	v := workflow.GetVersion(ctx, leanVersion, workflow.DefaultVersion, takeVersion)
	t.lean, t.monitorInRun, t.take = v >= 1, v >= monitorVersion, v >= takeVersion
	plan, err := contract.TestLoad.ExecuteLocal(central(ctx), t.id).Result(ctx)
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", t.id, err)
	}
	t.plan = plan
	// A query adds no event to the history: safe for running tests.
	if err := workflow.SetQueryHandler(ctx, contract.QueryProgress, t.progress); err != nil {
		return nil, fmt.Errorf("progress query: %w", err)
	}
	// The test's own work runs under a context an abort cancels; what must
	// happen whatever the ending runs under a disconnected one.
	work, cancelWork := workflow.WithCancel(ctx)
	workflow.Go(ctx, func(gctx workflow.Context) {
		var req contract.AbortRequest
		workflow.GetSignalChannel(gctx, contract.SignalAbort).Receive(gctx, &req)
		t.abort = &req
		cancelWork()
		t.kill(gctx)
	})
	res := t.execute(work)
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if t.abort != nil || ctx.Err() != nil {
		res = t.aborted(dctx, res)
	}
	t.finish(dctx, res)
	upsertState(dctx, res.State)
	err = contract.Transition.ExecuteLocal(central(dctx), contract.TransitionInput{
		TestID: t.id, State: res.State, At: workflow.Now(dctx), Reason: res.Reason, ExitCode: res.ExitCode, Stages: t.flush(),
	}).Get(dctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record end of test %d: %w", t.id, err)
	}
	workflow.GetLogger(ctx).Info("test ended", "test", t.id, "state", res.State, "reason", res.Reason)
	return res, nil
}

// execute runs every stage up to the ending and says how the test ended.
func (t *perfTest) execute(ctx workflow.Context) *contract.PerfTestResult {
	if t.multiHost(ctx) {
		return t.executeRoles(ctx)
	}
	res := &contract.PerfTestResult{}
	why := t.prepare(ctx, res)
	if why == "" {
		why = t.measure(ctx, res)
	}
	if why == "" && t.plan.Prometheus && !t.windowEnd.IsZero() {
		why = t.promQueries(ctx)
	}
	if why == "" {
		why = t.conclude(ctx, res)
	}
	if why != "" {
		res.State, res.Reason = wire.StateFailed, why
	}
	return res
}

// prepare chooses and leases the hosts, sets the test up on the execution
// host and runs the setup hooks; it returns why the test fails, or "".
func (t *perfTest) prepare(ctx workflow.Context, res *contract.PerfTestResult) string {
	p := t.plan
	pick := contract.HostPickInput{TestID: t.id, Hosts: p.Execution.Hosts, Labels: p.Execution.Labels, Statistics: p.Statistics.Hosts,
		Containers: p.Containers()}
	if t.pin != "" {
		pick.Hosts, pick.Labels = []string{t.pin}, nil
	}
	// A confirmation's run has its hosts held for it: it never waits.
	pick.RecordWaiting = t.lean && len(t.held) == 0
	picked, err := contract.HostPick.ExecuteLocal(workflow.WithLocalActivityOptions(ctx, pickOptions), pick).Result(ctx)
	if err != nil {
		return because("choose host", err)
	}
	t.host, t.stats = picked.Execution, picked.Statistics
	t.claimWaiting = picked.Waiting
	res.Host = t.host
	if err := t.acquire(ctx); err != nil {
		return because("lease hosts", err)
	}
	if t.lean && t.setupFoldable() {
		// The first Execute sets the test up: nothing runs between them.
		t.foldSetup = true
		return ""
	}
	if err := t.transition(ctx, wire.StateSetup, ""); err != nil {
		return because("setup", err)
	}
	in := contract.SetupInput{TestID: t.id, Script: p.Execution.Script, ScriptPath: p.Execution.ScriptPath, Hooks: p.Hooks}
	if t.setup, err = contract.Setup.Execute(t.agent(ctx, t.host, time.Minute, 3), in).Result(ctx); err != nil {
		return because("setup", err)
	}
	t.stage(ctx, "setup done", "")
	if why := t.hook(ctx, "before_setup"); why != "" {
		return why
	}
	if p.Containers() {
		if why := t.containersUp(ctx); why != "" {
			return why
		}
	}
	return t.hook(ctx, "after_setup")
}

// containersUp builds or pulls the test's images and starts its services
// on the execution host, and notes each image and service as a stage.
// (Tests without containers never come here; those with them run a
// version of PerfTest that knows them.)
func (t *perfTest) containersUp(ctx workflow.Context) string {
	workflow.GetVersion(ctx, "containers", workflow.DefaultVersion, 1)
	p := t.plan
	in := contract.ContainersUpInput{TestID: t.id, Framework: p.Framework, Commit: p.Commit,
		Services: p.Services, Load: p.Load, Params: p.Params, ResultsDir: t.setup.ResultsDir, Interval: p.Statistics.Interval,
		NoStats: p.Statistics.Off}
	up, err := contract.ContainersUp.Execute(t.agent(ctx, t.host, 30*time.Minute, 2), in).Result(ctx)
	if err != nil {
		if t.agentLost(err) {
			return fmt.Sprintf("agent lost: %s stopped answering", t.host)
		}
		return because("containers", err)
	}
	for _, img := range up.Images {
		what := "built"
		switch {
		case img.Reused:
			what = "reused"
		case img.Pulled:
			what = "pulled"
		}
		t.stage(ctx, "image "+img.For+" "+what, fmt.Sprintf("%s in %s", img.Image, img.Duration.Round(time.Millisecond)))
	}
	for _, s := range up.Services {
		detail := "ready after " + s.Ready.Round(time.Millisecond).String()
		if s.Address != "" {
			detail = s.Address + ", " + detail
		}
		t.stage(ctx, "service "+s.Name+" ready", detail)
	}
	t.containers = up
	return ""
}

// measure runs the script as often as the framework asks, with the
// monitors watching; it returns why the test fails, or "".
func (t *perfTest) measure(ctx workflow.Context, res *contract.PerfTestResult) string {
	t.monitors = t.startMonitors(ctx)
	defer t.stopMonitors(ctx)
	if err := t.transition(ctx, wire.StateRunning, ""); err != nil {
		return because("running", err)
	}
	for i := 1; i <= t.runs(); i++ {
		t.current = i
		run, why := t.runOnce(ctx, res, i)
		if why != "" {
			return why
		}
		if run.TimedOut || run.ExitCode != 0 {
			break
		}
	}
	t.running = false
	return ""
}

// progress answers QueryProgress: copies, so the answer cannot race the
// workflow's own changes.
func (t *perfTest) progress() (contract.Progress, error) {
	p := contract.Progress{Run: t.current, Stages: slices.Clone(t.stages), Iterations: slices.Clone(t.iterations)}
	if t.plan != nil {
		p.Warmup, p.Repeat = t.plan.Warmup, t.plan.Repeat
	}
	if t.roles != nil {
		p.Hosts, p.LoadStart = t.roles.hostsProgress(), t.roles.loadStart
	}
	return p, nil
}

// runs is how often the script runs: the warm-up runs and the kept ones.
func (t *perfTest) runs() int { return t.plan.Warmup + t.plan.Repeat }

// runOnce runs the script once between its hooks and collects what it
// wrote; it returns why the test fails, or "".
func (t *perfTest) runOnce(ctx workflow.Context, res *contract.PerfTestResult, i int) (*contract.ExecuteResult, string) {
	warm := i <= t.plan.Warmup
	n := i - t.plan.Warmup // the iteration's number among the kept ones
	if why := t.hook(ctx, "before_run"); why != "" {
		return nil, why
	}
	iter := 0
	if t.runs() > 1 {
		iter = i
	}
	var run *contract.ExecuteResult
	var err error
	// The last run's Collect follows it at once when no after_run hook
	// runs between them: the lean shape folds it into the Execute.
	var fold *contract.CollectInput
	if t.lean && t.plan.Load == nil && i == t.runs() && !t.hasHook("after_run") {
		in := t.collectInput(true, warm, n)
		fold = &in
	}
	switch {
	case t.plan.Load != nil:
		run, err = t.runLoad(ctx, iter)
	case t.lean:
		run, err = t.runLean(ctx, iter, fold)
	default:
		run, err = t.runScript(ctx, "script", t.setup.Script, iter)
	}
	if err != nil {
		return nil, t.runFailure(err)
	}
	t.last = *run
	exit := run.ExitCode
	res.ExitCode = &exit
	t.recordRun(ctx, run, i, warm, n)
	if !warm {
		if t.windowStart.IsZero() {
			t.windowStart = run.StartedAt
		}
		t.windowEnd = run.EndedAt
		t.countMigrations(run)
	}
	if !run.TimedOut && run.ExitCode == 0 {
		if why := t.hook(ctx, "after_run"); why != "" {
			return nil, why
		}
	}
	if fold != nil {
		if run.Collected == nil {
			return nil, "collect: the agent returned no results (an agent older than the central worker?)"
		}
		t.collected(ctx, *fold, run.Collected, warm, n)
		return run, ""
	}
	// What the script wrote is kept whatever its exit status.
	last := i == t.runs() || run.TimedOut || run.ExitCode != 0
	if why := t.collect(ctx, last, warm, n); why != "" {
		return nil, why
	}
	return run, ""
}

// collect reads a run's results on the execution host. The last Collect
// also stops this host's monitor, uploads the artifacts and, when no
// before_cleanup hook runs there later, cleans up: one task, not four.
func (t *perfTest) collect(ctx workflow.Context, last, warm bool, n int) string {
	in := t.collectInput(last, warm, n)
	cctx := t.agent(ctx, t.host, 5*time.Minute, 5)
	if last {
		cctx = t.agent(ctx, t.host, 30*time.Minute, 5)
	}
	got, err := contract.Collect.Execute(cctx, in).Result(ctx)
	if err != nil {
		return because("collect", err)
	}
	t.collected(ctx, in, got, warm, n)
	return ""
}

// collected takes in what a Collect (or a folded one) read.
func (t *perfTest) collected(ctx workflow.Context, in contract.CollectInput, got *contract.CollectResult, warm bool, n int) {
	t.monitors.stoppedByCollect = in.StopMonitor
	t.uploaded = got.Upload
	if got.Upload != nil {
		t.stage(ctx, "artifacts collected", fmt.Sprintf("%d file(s), %d bytes", got.Upload.Files, got.Upload.Bytes))
		if in.Cleanup {
			t.cleaned = true
			t.stage(ctx, "cleaned up", "")
		}
	}
	if !warm {
		t.iterations = append(t.iterations, contract.Iteration{Iteration: n, File: got.File, KPIs: got.KPIs, Notes: got.Notes})
	}
}

// collectInput is what a run's Collect reads and, after the last run, does.
func (t *perfTest) collectInput(last, warm bool, n int) contract.CollectInput {
	in := contract.CollectInput{TestID: t.id, Discard: warm}
	if t.setup != nil {
		in.ResultsDir = t.setup.ResultsDir
	}
	if t.plan.Repeat > 1 && !warm {
		in.Iteration = n
	}
	if last {
		in.StopMonitor = slices.Contains(t.monitors.hosts, t.host)
		in.Upload, in.Cleanup = true, !t.hasHook("before_cleanup")
	}
	return in
}

// conclude stores what the runs reported and says how the test ended:
// timed out, failed, or finished with a verdict. It returns why the test
// fails for another reason, or "".
func (t *perfTest) conclude(ctx workflow.Context, res *contract.PerfTestResult) string {
	if err := t.transition(ctx, wire.StateCollating, ""); err != nil {
		return because("collating", err)
	}
	in := contract.CollateInput{TestID: t.id, Iterations: t.iterations,
		Hosts: t.leased, ScriptSHA256: t.setup.ScriptSHA256, HookSHA256: t.setup.HookSHA256}
	if t.prom != nil {
		in.PromKPIs, in.PromNotes = t.prom.KPIs, t.prom.Notes
	}
	if t.uploaded != nil {
		in.Skipped = t.uploaded.Skipped
	}
	in.Migrations = t.migrations
	if err := contract.Collate.ExecuteLocal(central(ctx), in).Get(ctx, nil); err != nil {
		return because("collate", err)
	}
	t.stage(ctx, "collated", fmt.Sprintf("%d iteration(s)", len(t.iterations)))
	switch {
	case t.last.TimedOut:
		res.State = wire.StateTimedOut
		res.Reason = fmt.Sprintf("%s ran longer than the framework's timeout of %s", t.runner(), t.plan.Execution.Timeout)
	case t.last.ExitCode != 0:
		res.State, res.Reason = wire.StateFailed, exitReason(t.last)
		if t.plan.Load != nil {
			res.Reason = "load generator" + strings.TrimPrefix(res.Reason, "script")
		}
	case t.prom != nil && t.prom.Failed != "":
		res.State, res.Reason = wire.StateFailed, t.prom.Failed
	default:
		v, err := contract.Verdict.ExecuteLocal(central(ctx), t.id).Result(ctx)
		if err != nil {
			return because("verdict", err)
		}
		res.State = wire.StateFinished
		t.stage(ctx, "verdict", v.Verdict+" against "+baselineNote(v.Baseline))
	}
	return ""
}

// promOptions give the PromQL queries time: each may take the section's
// timeout, and the server may be away for a while.
var promOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: time.Hour,
	StartToCloseTimeout:    15 * time.Minute,
	RetryPolicy:            centralRetry,
}

// promQueries runs the framework's PromQL queries over the window of the
// kept runs, on the central worker, and notes the window as a stage.
func (t *perfTest) promQueries(ctx workflow.Context) string {
	workflow.GetVersion(ctx, "prometheus", workflow.DefaultVersion, 1)
	in := contract.PromQueriesInput{TestID: t.id, Start: t.windowStart, End: t.windowEnd}
	got, err := contract.PromQueries.ExecuteLocal(workflow.WithLocalActivityOptions(ctx, promOptions), in).Result(ctx)
	if err != nil {
		return because("prometheus queries", err)
	}
	t.prom = got
	t.stage(ctx, "prometheus queried", fmt.Sprintf("%d KPI(s), %d note(s), window %s to %s (%s)", len(got.KPIs), len(got.Notes),
		got.Start.UTC().Format("15:04:05.000"), got.End.UTC().Format("15:04:05.000"), got.End.Sub(got.Start).Round(time.Millisecond)))
	return ""
}

// aborted ends a running script at once (not at its next heartbeat),
// waits until it is gone, so the cleanup that follows does not race it, and
// says why the test stopped.
func (t *perfTest) aborted(dctx workflow.Context, res *contract.PerfTestResult) *contract.PerfTestResult {
	t.kill(dctx)
	if t.killing != nil {
		_ = t.killing.Get(dctx, nil)
	}
	reason := "aborted"
	if t.abort == nil {
		reason = "aborted: the workflow was cancelled"
	} else if t.abort.Reason != "" {
		reason = "aborted: " + t.abort.Reason
	}
	return &contract.PerfTestResult{State: wire.StateAborted, Reason: reason, Host: res.Host, ExitCode: res.ExitCode}
}

// kill sends Kill to the execution host, once, if a script may be running
// there. It runs disconnected: the abort that asks for it cancels the rest.
func (t *perfTest) kill(ctx workflow.Context) {
	if !t.running || t.killing != nil {
		return
	}
	if t.roles != nil {
		t.killing = t.killRoles(ctx)
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	kctx := workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		TaskQueue: contract.AgentQueue(t.host), ScheduleToCloseTimeout: 10 * time.Second,
	})
	t.killing = contract.Kill.Execute(kctx, t.id)
}

// finish runs what every ending needs: the before_cleanup hook, cleanup on
// the agent, and giving the hosts back.
func (t *perfTest) finish(dctx workflow.Context, res *contract.PerfTestResult) {
	if t.roles != nil {
		t.finishRoles(dctx, res)
	} else if t.lost {
		// Nothing can run there now; the agent clears up when it is back.
		t.stage(dctx, "cleanup skipped", "agent lost")
	} else if (t.setup != nil || t.setupSent) && !t.cleaned {
		t.cleanup(dctx, res)
	}
	if t.lean {
		t.releaseLeases(dctx)
		return
	}
	for _, h := range t.leased {
		err := workflow.SignalExternalWorkflow(dctx, contract.LeaseWorkflowID(h), "", contract.SignalLeaseRelease,
			contract.LeaseRelease{TestID: t.id}).Get(dctx, nil)
		if err != nil {
			workflow.GetLogger(dctx).Warn("release lease", "host", h, "error", err)
		}
	}
	if len(t.leased) > 0 {
		t.stage(dctx, "leases released", strings.Join(t.leased, ", "))
	}
}

// cleanup runs the before_cleanup hook, whose failure fails a test that
// would have finished, and removes the test's directory on the agent.
func (t *perfTest) cleanup(dctx workflow.Context, res *contract.PerfTestResult) {
	if path, ok := t.hookPath("before_cleanup"); ok {
		run, err := t.runScript(dctx, "before_cleanup", path, 0)
		if why := hookFailure("before_cleanup", run, err); why != "" && res.State == wire.StateFinished {
			res.State, res.Reason = wire.StateFailed, why
		}
	}
	if err := contract.Cleanup.Execute(t.agent(dctx, t.host, time.Minute, 5), t.id).Get(dctx, nil); err != nil {
		workflow.GetLogger(dctx).Warn("cleanup failed", "test", t.id, "error", err)
		return
	}
	t.stage(dctx, "cleaned up", "")
}

// because is why a stage failed, in one line.
func because(stage string, err error) string { return stage + ": " + errorMessage(err) }
