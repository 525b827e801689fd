package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/activities"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// SignalAbort asks a PerfTest to stop; its payload is an AbortRequest.
const SignalAbort = "abort"

// AbortRequest says who aborted a test and why.
type AbortRequest struct {
	Reason string
}

// PerfTestInput names the test to run; everything else is loaded from the
// database so workflow history stays small.
type PerfTestInput struct {
	TestID int64
	// Shape is the workflow's shape, fixed when the test is started, so
	// tests in flight replay the way they ran: 0 for tests started before
	// shapes existed, ShapeCurrent for new ones.
	Shape int
}

// Workflow shapes (PerfTestInput.Shape).
const (
	// ShapeLocal runs the central steps as local activities, stops the
	// execution host's monitor with the last Collect, cleans up with the
	// upload when no before_cleanup hook needs the directory, and upserts
	// only the states the Temporal UI needs.
	ShapeLocal = 1
	// ShapeCurrent is the shape new tests start with.
	ShapeCurrent = ShapeLocal
)

// PerfTestResult is how a test ended.
type PerfTestResult struct {
	State    string
	Reason   string
	Host     string
	ExitCode *int
}

// a is the typed handle for activity method values; it is never called
// directly, only named.
var a *activities.Activities

// PerfTest runs one test: lease its hosts, set up, start the monitors, run
// the hooks and the script (repeated as the framework asks), collect and
// collate its results, and always clean up and give the hosts back.
func PerfTest(ctx workflow.Context, in PerfTestInput) (*PerfTestResult, error) {
	t := &perfTest{id: in.TestID, local: in.Shape >= ShapeLocal}
	return t.run(ctx)
}

type perfTest struct {
	id int64
	// local is set from ShapeLocal on.
	local bool
	plan  *store.TestPlan
	host  string
	stats []string
	// leased are the hosts whose leases were asked for, to give back.
	leased []string
	// setup is set once the agent has a working directory to clean up.
	setup *activities.SetupResult
	// cleaned is set when Upload already removed that directory.
	cleaned bool
	// running is true while the script (or a hook) may be running.
	running bool
	killed  bool
	// lost is set when the execution host's agent stopped answering.
	lost  bool
	abort *AbortRequest
	// stages wait to go out with the next state change.
	stages []store.Stage
}

func (t *perfTest) run(ctx workflow.Context) (*PerfTestResult, error) {
	log := workflow.GetLogger(ctx)
	if err := t.centralCall(ctx, a.TestLoad, t.id).Get(ctx, &t.plan); err != nil {
		return nil, fmt.Errorf("load test %d: %w", t.id, err)
	}
	// The test's own work runs under a context an abort cancels; what must
	// happen whatever the ending runs under a disconnected one.
	work, cancelWork := workflow.WithCancel(ctx)
	workflow.Go(ctx, func(gctx workflow.Context) {
		var req AbortRequest
		workflow.GetSignalChannel(gctx, SignalAbort).Receive(gctx, &req)
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
	err := t.centralCall(dctx, a.Transition, store.Transition{
		TestID: t.id, State: res.State, At: workflow.Now(dctx), Reason: res.Reason, ExitCode: res.ExitCode, Stages: t.flush(),
	}).Get(dctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record end of test %d: %w", t.id, err)
	}
	log.Info("test ended", "test", t.id, "state", res.State, "reason", res.Reason)
	return res, nil
}

// aborted ends a running script at once (not at its next heartbeat) and
// says why the test stopped.
func (t *perfTest) aborted(dctx workflow.Context, res *PerfTestResult) *PerfTestResult {
	t.kill(dctx)
	reason := "aborted"
	if t.abort == nil {
		reason = "aborted: the workflow was cancelled"
	} else if t.abort.Reason != "" {
		reason = "aborted: " + t.abort.Reason
	}
	return &PerfTestResult{State: wire.StateAborted, Reason: reason, Host: res.Host, ExitCode: res.ExitCode}
}

// kill ends the script on the execution host at once, if one may be running.
func (t *perfTest) kill(ctx workflow.Context) {
	if !t.running || t.killed {
		return
	}
	t.killed = true
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	kctx := workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		TaskQueue: AgentQueue(t.host), ScheduleToCloseTimeout: 10 * time.Second,
	})
	_ = workflow.ExecuteActivity(kctx, a.Kill, t.id).Get(dctx, nil)
}

// finish runs what every ending needs: the before_cleanup hook, cleanup on
// the agent, and giving the hosts back.
func (t *perfTest) finish(dctx workflow.Context, res *PerfTestResult) {
	log := workflow.GetLogger(dctx)
	if t.lost {
		// Nothing can run there now; the agent clears up when it is back.
		t.stage(dctx, "cleanup skipped", "agent lost")
	} else if t.setup != nil && !t.cleaned {
		if path, ok := t.setup.Hooks["before_cleanup"]; ok {
			run, err := t.runScript(dctx, "before_cleanup", path, 0)
			if why := hookFailure("before_cleanup", run, err); why != "" && res.State == wire.StateFinished {
				res.State, res.Reason = wire.StateFailed, why
			}
		}
		if err := workflow.ExecuteActivity(t.agent(dctx, t.host, time.Minute, 5), a.Cleanup, t.id).Get(dctx, nil); err != nil {
			log.Warn("cleanup failed", "test", t.id, "error", err)
		} else {
			t.stage(dctx, "cleaned up", "")
		}
	}
	for _, h := range t.leased {
		err := workflow.SignalExternalWorkflow(dctx, LeaseWorkflowID(h), "", activities.SignalLeaseRelease,
			activities.LeaseRelease{TestID: t.id}).Get(dctx, nil)
		if err != nil {
			log.Warn("release lease", "host", h, "error", err)
		}
	}
	if len(t.leased) > 0 {
		t.stage(dctx, "leases released", strings.Join(t.leased, ", "))
	}
}

// execute runs every stage up to the ending and says how the test ended.
func (t *perfTest) execute(ctx workflow.Context) *PerfTestResult {
	fw := t.plan.Framework
	res := &PerfTestResult{}
	fail := func(stage string, err error) *PerfTestResult {
		res.State, res.Reason = wire.StateFailed, stage+": "+errorMessage(err)
		return res
	}

	var picked activities.HostPickResult
	pick := activities.HostPickInput{Hosts: fw.Execution.Hosts, Labels: fw.Execution.Labels, Statistics: fw.Statistics.Hosts}
	if t.local {
		pick.TestID = t.id
	}
	// Waiting for an agent to come online is worth ten minutes.
	pickRetry := &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second}
	err := centralCall(ctx, t.local,
		workflow.LocalActivityOptions{ScheduleToCloseTimeout: 10 * time.Minute, StartToCloseTimeout: 30 * time.Second, RetryPolicy: pickRetry},
		workflow.ActivityOptions{TaskQueue: CentralQueue, ScheduleToCloseTimeout: 10 * time.Minute, StartToCloseTimeout: 30 * time.Second, RetryPolicy: pickRetry},
		a.HostPick, pick).Get(ctx, &picked)
	if err != nil {
		return fail("choose host", err)
	}
	t.host, t.stats = picked.Execution, picked.Statistics
	res.Host = t.host
	if err := t.acquire(ctx); err != nil {
		return fail("lease hosts", err)
	}
	if err := t.transition(ctx, wire.StateSetup, ""); err != nil {
		return fail("setup", err)
	}
	setupIn := activities.SetupInput{TestID: t.id, Script: fw.Execution.Script, ScriptPath: fw.Execution.ScriptPath, Hooks: fw.Hooks.List()}
	if err := workflow.ExecuteActivity(t.agent(ctx, t.host, time.Minute, 3), a.Setup, setupIn).Get(ctx, &t.setup); err != nil {
		return fail("setup", err)
	}
	t.stage(ctx, "setup done", "")
	for _, hook := range []string{"before_setup", "after_setup"} {
		if why := t.hook(ctx, hook); why != "" {
			res.State, res.Reason = wire.StateFailed, why
			return res
		}
	}

	// Monitors run on every statistics host until the script's runs end.
	monCtx, stopMonitors := workflow.WithCancel(ctx)
	defer stopMonitors()
	var monitors []workflow.Future
	timeout := time.Duration(fw.Execution.Timeout)
	runs := fw.Warmup + fw.Repeat
	for _, h := range t.stats {
		in := activities.MonitorInput{TestID: t.id, Interval: time.Duration(fw.Statistics.Interval)}
		if h == t.host {
			in.ResultsDir = t.setup.ResultsDir
		}
		mctx := workflow.WithActivityOptions(monCtx, workflow.ActivityOptions{
			TaskQueue:              AgentQueue(h),
			ScheduleToStartTimeout: 5 * time.Minute,
			StartToCloseTimeout:    time.Duration(runs)*(timeout+10*time.Minute) + time.Hour,
			HeartbeatTimeout:       agentHeartbeatTimeout,
			WaitForCancellation:    true,
			RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		})
		monitors = append(monitors, workflow.ExecuteActivity(mctx, a.Monitor, in))
	}
	t.stage(ctx, "monitors started", strings.Join(t.stats, ", "))
	// stoppedByCollect is set when the last Collect stopped the execution
	// host's monitor.
	stoppedByCollect := false
	stop := func() {
		// Monitors stop and flush even when the test was aborted.
		dctx, cancel := workflow.NewDisconnectedContext(ctx)
		defer cancel()
		var stops []workflow.Future
		for _, h := range t.stats {
			if t.lost && h == t.host {
				continue // its monitor times out by itself
			}
			if stoppedByCollect && h == t.host {
				continue
			}
			sctx := workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
				TaskQueue: AgentQueue(h), ScheduleToCloseTimeout: 5 * time.Second,
			})
			stops = append(stops, workflow.ExecuteActivity(sctx, a.StopMonitor, t.id))
		}
		for _, f := range stops {
			if f.Get(dctx, nil) != nil {
				stopMonitors() // that agent is away: cancel instead
			}
		}
		for i, f := range monitors {
			var m activities.MonitorResult
			if err := f.Get(dctx, &m); err != nil && !temporal.IsCanceledError(err) {
				t.stage(ctx, "monitor lost on "+t.stats[i], errorMessage(err))
				continue
			}
			t.stage(ctx, "monitor stopped on "+t.stats[i], fmt.Sprintf("%d samples", m.Samples))
		}
	}

	if err := t.transition(ctx, wire.StateRunning, ""); err != nil {
		stop()
		return fail("running", err)
	}
	var iterations []activities.Iteration
	var last activities.ExecuteResult
	var uploaded *activities.UploadResult
	for i := 1; i <= runs; i++ {
		warm := i <= fw.Warmup
		n := i - fw.Warmup // the iteration's number among the kept ones
		if why := t.hook(ctx, "before_run"); why != "" {
			stop()
			res.State, res.Reason = wire.StateFailed, why
			return res
		}
		iter := 0
		if runs > 1 {
			iter = i
		}
		run, err := t.runScript(ctx, "script", t.setup.Script, iter)
		if err != nil {
			stop()
			return t.runFailure(ctx, res, err)
		}
		last = *run
		exit := run.ExitCode
		res.ExitCode = &exit
		t.recordRun(ctx, run, runs, i, warm, n)
		if !run.TimedOut && run.ExitCode == 0 {
			if why := t.hook(ctx, "after_run"); why != "" {
				stop()
				res.State, res.Reason = wire.StateFailed, why
				return res
			}
		}
		// What the script wrote is kept whatever its exit status.
		collectIn := activities.CollectInput{TestID: t.id, ResultsDir: t.setup.ResultsDir, Discard: warm}
		if fw.Repeat > 1 && !warm {
			collectIn.Iteration = n
		}
		_, cleanupHook := t.setup.Hooks["before_cleanup"]
		if t.local && (i == runs || run.TimedOut || run.ExitCode != 0) {
			// The last run: Collect also stops this host's monitor, uploads
			// the artifacts and, when nothing runs there later, cleans up.
			collectIn.StopMonitor = slices.Contains(t.stats, t.host)
			collectIn.Upload = true
			collectIn.Cleanup = !cleanupHook
		}
		cctx := t.agent(ctx, t.host, 5*time.Minute, 5)
		if collectIn.Upload {
			cctx = t.agent(ctx, t.host, 30*time.Minute, 5)
		}
		var got activities.CollectResult
		if err := workflow.ExecuteActivity(cctx, a.Collect, collectIn).Get(ctx, &got); err != nil {
			stop()
			return fail("collect", err)
		}
		stoppedByCollect = collectIn.StopMonitor
		uploaded = got.Upload
		if uploaded != nil {
			t.stage(ctx, "artifacts collected", fmt.Sprintf("%d file(s), %d bytes", uploaded.Files, uploaded.Bytes))
			if collectIn.Cleanup {
				t.cleaned = true
				t.stage(ctx, "cleaned up", "")
			}
		}
		if !warm {
			iterations = append(iterations, activities.Iteration{Iteration: n, KPIs: got.KPIs, Notes: got.Notes})
		}
		if run.TimedOut || run.ExitCode != 0 {
			break
		}
	}
	t.running = false
	stop()

	if err := t.transition(ctx, wire.StateCollating, ""); err != nil {
		return fail("collating", err)
	}
	collate := activities.CollateInput{TestID: t.id, Iterations: iterations,
		Hosts: t.leased, ScriptSHA256: t.setup.ScriptSHA256, HookSHA256: t.setup.HookSHA256}
	// From ShapeLocal the last Collect uploaded; tests started before
	// artifacts existed replay without the upload.
	switch {
	case uploaded != nil:
		collate.Skipped = uploaded.Skipped
	case workflow.GetVersion(ctx, "artifacts", workflow.DefaultVersion, 1) == 1:
		var up activities.UploadResult
		uctx := t.agent(ctx, t.host, 30*time.Minute, 5)
		if err := workflow.ExecuteActivity(uctx, a.Upload, activities.UploadInput{TestID: t.id, ResultsDir: t.setup.ResultsDir}).Get(ctx, &up); err != nil {
			return fail("collect artifacts", err)
		}
		t.stage(ctx, "artifacts collected", fmt.Sprintf("%d file(s), %d bytes", up.Files, up.Bytes))
		collate.Skipped = up.Skipped
	}
	if err := t.centralCall(ctx, a.Collate, collate).Get(ctx, nil); err != nil {
		return fail("collate", err)
	}
	t.stage(ctx, "collated", fmt.Sprintf("%d iteration(s)", len(iterations)))

	switch {
	case last.TimedOut:
		res.State, res.Reason = wire.StateTimedOut, fmt.Sprintf("script ran longer than the framework's timeout of %s", timeout)
	case last.ExitCode != 0:
		res.State, res.Reason = wire.StateFailed, exitReason(last)
	default:
		res.State = wire.StateFinished
		// Tests started before verdicts existed replay without them.
		if t.local || workflow.GetVersion(ctx, "verdict", workflow.DefaultVersion, 1) == 1 {
			var v activities.VerdictResult
			if err := t.centralCall(ctx, a.Verdict, t.id).Get(ctx, &v); err != nil {
				return fail("verdict", err)
			}
			t.stage(ctx, "verdict", fmt.Sprintf("%s against %d baseline test(s)", v.Verdict, len(v.Baseline)))
		}
	}
	return res
}
