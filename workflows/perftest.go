package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/activities"
	"github.com/pitwall/pitwall/internal/api"
	"github.com/pitwall/pitwall/internal/store"
)

// PerfTestInput names the test to run; everything else is loaded from the
// database so workflow history stays small.
type PerfTestInput struct {
	TestID int64
}

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

// PerfTest runs one test: pick the host, set up, run the script, collect and
// collate its results, and clean up whatever happened.
func PerfTest(ctx workflow.Context, in PerfTestInput) (*PerfTestResult, error) {
	t := &perfTest{id: in.TestID}
	return t.run(ctx)
}

type perfTest struct {
	id   int64
	plan *store.TestPlan
	host string
	// setup is set once the agent has a working directory to clean up.
	setup *activities.SetupResult
}

// centralOptions retry for as long as it takes: the database may be
// restarting, and a test must still end in a true state.
var centralOptions = workflow.ActivityOptions{
	TaskQueue:           CentralQueue,
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    200 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
	},
}

func (t *perfTest) central(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, centralOptions)
}

func (t *perfTest) agent(ctx workflow.Context, startToClose time.Duration, attempts int32) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: AgentQueue(t.host),
		// An agent that never picks the work up is lost.
		ScheduleToStartTimeout: 5 * time.Minute,
		StartToCloseTimeout:    startToClose,
		HeartbeatTimeout:       10 * activities.HeartbeatInterval,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    attempts,
		},
	})
}

func (t *perfTest) run(ctx workflow.Context) (*PerfTestResult, error) {
	log := workflow.GetLogger(ctx)
	if err := workflow.ExecuteActivity(t.central(ctx), a.TestLoad, t.id).Get(ctx, &t.plan); err != nil {
		return nil, fmt.Errorf("load test %d: %w", t.id, err)
	}
	res := t.execute(ctx)
	// Cleanup and the final transition run even when the test was aborted.
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if t.setup != nil {
		if err := workflow.ExecuteActivity(t.agent(dctx, time.Minute, 5), a.Cleanup, t.id).Get(dctx, nil); err != nil {
			log.Warn("cleanup failed", "test", t.id, "error", err)
		}
	}
	err := workflow.ExecuteActivity(t.central(dctx), a.Transition, store.Transition{
		TestID: t.id, State: res.State, At: workflow.Now(dctx), Reason: res.Reason, ExitCode: res.ExitCode,
	}).Get(dctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record end of test %d: %w", t.id, err)
	}
	log.Info("test ended", "test", t.id, "state", res.State, "reason", res.Reason)
	return res, nil
}

// execute runs every stage up to the ending and says how the test ended.
func (t *perfTest) execute(ctx workflow.Context) *PerfTestResult {
	fw := t.plan.Framework
	res := &PerfTestResult{}
	fail := func(stage string, err error) *PerfTestResult {
		res.State, res.Reason = api.StateFailed, stage+": "+errorMessage(err)
		if temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled) {
			res.State, res.Reason = api.StateAborted, "aborted during "+stage
		}
		return res
	}

	pick := activities.HostPickInput{Hosts: fw.Execution.Hosts, Labels: fw.Execution.Labels}
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              CentralQueue,
		ScheduleToCloseTimeout: 10 * time.Minute,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second},
	})
	if err := workflow.ExecuteActivity(pctx, a.HostPick, pick).Get(ctx, &t.host); err != nil {
		return fail("choose host", err)
	}
	res.Host = t.host
	if err := t.transition(ctx, api.StateSetup, ""); err != nil {
		return fail("setup", err)
	}
	setupIn := activities.SetupInput{TestID: t.id, Script: fw.Execution.Script, ScriptPath: fw.Execution.ScriptPath}
	if err := workflow.ExecuteActivity(t.agent(ctx, time.Minute, 3), a.Setup, setupIn).Get(ctx, &t.setup); err != nil {
		return fail("setup", err)
	}
	if err := t.transition(ctx, api.StateRunning, ""); err != nil {
		return fail("running", err)
	}
	timeout := time.Duration(fw.Execution.Timeout)
	execIn := activities.ExecuteInput{
		TestID: t.id, Framework: fw.Name, Script: t.setup.Script, Dir: t.setup.Dir,
		ResultsDir: t.setup.ResultsDir, Args: fw.Execution.Args, Params: t.plan.Params, Timeout: timeout,
	}
	var run activities.ExecuteResult
	// The script runs once: a retry would measure something else.
	err := workflow.ExecuteActivity(t.agent(ctx, timeout+time.Minute, 1), a.Execute, execIn).Get(ctx, &run)
	if err != nil {
		var te *temporal.TimeoutError
		if errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT {
			return fail("running", fmt.Errorf("agent lost: %s stopped heartbeating", t.host))
		}
		return fail("running", err)
	}
	exit := run.ExitCode
	res.ExitCode = &exit

	// What the script wrote is kept whatever its exit status.
	if err := t.transition(ctx, api.StateCollating, ""); err != nil {
		return fail("collating", err)
	}
	var got activities.CollectResult
	collectIn := activities.CollectInput{TestID: t.id, ResultsDir: t.setup.ResultsDir}
	if err := workflow.ExecuteActivity(t.agent(ctx, 5*time.Minute, 5), a.Collect, collectIn).Get(ctx, &got); err != nil {
		return fail("collect", err)
	}
	collate := activities.CollateInput{TestID: t.id, Iteration: 1, KPIs: got.KPIs, Notes: got.Notes}
	if err := workflow.ExecuteActivity(t.central(ctx), a.Collate, collate).Get(ctx, nil); err != nil {
		return fail("collate", err)
	}

	switch {
	case run.TimedOut:
		res.State, res.Reason = api.StateTimedOut, fmt.Sprintf("script ran longer than the framework's timeout of %s", timeout)
	case run.ExitCode != 0:
		res.State, res.Reason = api.StateFailed, exitReason(run)
	default:
		res.State = api.StateFinished
	}
	return res
}

func (t *perfTest) transition(ctx workflow.Context, state, reason string) error {
	return workflow.ExecuteActivity(t.central(ctx), a.Transition, store.Transition{
		TestID: t.id, State: state, At: workflow.Now(ctx), Reason: reason, Host: t.host,
	}).Get(ctx, nil)
}

// exitReason explains a failed script in one line, with its last words.
func exitReason(run activities.ExecuteResult) string {
	why := fmt.Sprintf("script exited with status %d", run.ExitCode)
	if run.Signal != "" {
		why = "script was killed by " + run.Signal
	}
	lines := strings.Split(strings.TrimSpace(run.StderrTail), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		if len(last) > 300 {
			last = last[:300] + "…"
		}
		why += ": " + last
	}
	return why
}

// errorMessage is the innermost application message of an activity error,
// without Temporal's wrapping.
func errorMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}
