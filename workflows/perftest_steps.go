package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/activities"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// The steps PerfTest is made of: activity options, running a script or a
// hook, leasing hosts, and recording stages and states.

// centralOptions retry for as long as it takes: the database may be
// restarting, and a test must still end in a true state.
var centralOptions = workflow.ActivityOptions{
	TaskQueue:           CentralQueue,
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    200 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Second,
	},
}

// agentHeartbeatTimeout is how long an agent may be silent in a running
// activity before the test counts it as lost.
const agentHeartbeatTimeout = 10 * time.Second

// localOptions are centralOptions for a local activity: retried with the
// same backoff for up to a day.
var localOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 24 * time.Hour,
	StartToCloseTimeout:    30 * time.Second,
	RetryPolicy:            centralOptions.RetryPolicy,
}

// centralCall runs a step against the database or the Temporal client.
// As a local activity it runs in the workflow's own worker (the central
// one) within the current workflow task, with its result recorded in
// history, which saves two task dispatches per step; tests started before
// ShapeLocal replay it as an activity on the central queue.
func (t *perfTest) centralCall(ctx workflow.Context, fn any, args ...any) workflow.Future {
	return centralCall(ctx, t.local, localOptions, centralOptions, fn, args...)
}

func centralCall(ctx workflow.Context, local bool, lo workflow.LocalActivityOptions, ao workflow.ActivityOptions, fn any, args ...any) workflow.Future {
	if local {
		return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, lo), fn, args...)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), fn, args...)
}

func (t *perfTest) agent(ctx workflow.Context, host string, startToClose time.Duration, attempts int32) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: AgentQueue(host),
		// An agent that never picks the work up is lost.
		ScheduleToStartTimeout: 5 * time.Minute,
		StartToCloseTimeout:    startToClose,
		HeartbeatTimeout:       agentHeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Second,
			MaximumAttempts:    attempts,
		},
	})
}

// recordRun stages a run's start and end with the agent's own times.
func (t *perfTest) recordRun(ctx workflow.Context, run *activities.ExecuteResult, runs, i int, warm bool, n int) {
	name := "script"
	switch {
	case warm:
		name = fmt.Sprintf("warm-up %d", i)
	case runs > 1:
		name = fmt.Sprintf("iteration %d", n)
	}
	ended := fmt.Sprintf("exit %d", run.ExitCode)
	if run.TimedOut {
		ended = "timed out"
	}
	t.stages = append(t.stages,
		store.Stage{Name: name + " started", At: run.StartedAt},
		store.Stage{Name: name + " ended", At: run.EndedAt, Detail: ended})
}

// runFailure explains an Execute that did not return a result.
func (t *perfTest) runFailure(ctx workflow.Context, res *PerfTestResult, err error) *PerfTestResult {
	var te *temporal.TimeoutError
	res.State = wire.StateFailed
	switch {
	case errors.As(err, &te) && (te.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT || te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START):
		res.Reason = fmt.Sprintf("agent lost: %s stopped answering", t.host)
		t.lost = true
	default:
		res.Reason = "running: " + errorMessage(err)
	}
	return res
}

// runScript runs the script or a hook on the execution host.
func (t *perfTest) runScript(ctx workflow.Context, name, path string, iteration int) (*activities.ExecuteResult, error) {
	fw := t.plan.Framework
	timeout := time.Duration(fw.Execution.Timeout)
	in := activities.ExecuteInput{
		TestID: t.id, Framework: fw.Name, Script: path, Dir: t.setup.Dir, ResultsDir: t.setup.ResultsDir,
		Args: fw.Execution.Args, Params: t.plan.Params, Timeout: timeout, Name: name, Iteration: iteration,
	}
	t.running = true
	var run activities.ExecuteResult
	// A run happens once: a retry would measure something else.
	err := workflow.ExecuteActivity(t.agent(ctx, t.host, timeout+time.Minute, 1), a.Execute, in).Get(ctx, &run)
	if err != nil {
		return nil, err
	}
	return &run, nil
}

// hook runs a lifecycle hook if the framework has it; it returns why the
// test fails, or "".
func (t *perfTest) hook(ctx workflow.Context, name string) string {
	path, ok := t.setup.Hooks[name]
	if !ok {
		return ""
	}
	run, err := t.runScript(ctx, name, path, 0)
	if why := hookFailure(name, run, err); why != "" {
		return why
	}
	t.stage(ctx, "hook "+name+" done", "")
	return ""
}

func hookFailure(name string, run *activities.ExecuteResult, err error) string {
	switch {
	case err != nil:
		return fmt.Sprintf("hook %s: %s", name, errorMessage(err))
	case run.TimedOut:
		return fmt.Sprintf("hook %s ran longer than the framework's timeout", name)
	case run.ExitCode != 0:
		return "hook " + name + " failed: " + exitReason(*run)
	}
	return ""
}

// acquire leases every host the test needs, one at a time in name order,
// so that two tests needing overlapping hosts can never deadlock. While a
// host is held by another test, the test is waiting.
func (t *perfTest) acquire(ctx workflow.Context) error {
	hosts := append([]string{t.host}, t.stats...)
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	events := workflow.GetSignalChannel(ctx, activities.SignalLease)
	self := workflow.GetInfo(ctx).WorkflowExecution.ID
	for _, h := range hosts {
		req := activities.LeaseRequestInput{Host: h, LeaseWorkflowID: LeaseWorkflowID(h),
			Request: activities.LeaseRequest{TestID: t.id, WorkflowID: self}}
		t.leased = append(t.leased, h)
		if err := t.centralCall(ctx, a.LeaseRequest, req).Get(ctx, nil); err != nil {
			return err
		}
		for granted := false; !granted; {
			var ev activities.LeaseEvent
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(events, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &ev) })
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
			sel.Select(ctx)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			switch {
			case ev.Host != h:
				// A late answer about a host already held.
			case ev.Granted:
				granted = true
				t.stage(ctx, "lease acquired "+h, "")
			default:
				reason := fmt.Sprintf("waiting for host %s, held by test %d", h, ev.Holder)
				upsertState(ctx, wire.StateWaiting)
				err := t.centralCall(ctx, a.Transition, store.Transition{
					TestID: t.id, State: wire.StateWaiting, At: workflow.Now(ctx), Reason: reason, WaitingFor: h,
					Hosts: hosts, Stages: t.flush(),
				}).Get(ctx, nil)
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// stage notes a step; it is stored with the next state change.
func (t *perfTest) stage(ctx workflow.Context, name, detail string) {
	t.stages = append(t.stages, store.Stage{Name: name, At: workflow.Now(ctx), Detail: detail})
}

func (t *perfTest) flush() []store.Stage {
	s := t.stages
	t.stages = nil
	return s
}

func (t *perfTest) transition(ctx workflow.Context, state, reason string) error {
	// Each upsert is a visibility write in Temporal; setup and collating
	// last a moment and Pitwall's own pages show them, so from ShapeLocal
	// the Temporal UI sees queued, waiting, running and the end.
	if !t.local || (state != wire.StateSetup && state != wire.StateCollating) {
		upsertState(ctx, state)
	}
	hosts := append([]string{t.host}, t.stats...)
	slices.Sort(hosts)
	return t.centralCall(ctx, a.Transition, store.Transition{
		TestID: t.id, State: state, At: workflow.Now(ctx), Reason: reason, Host: t.host,
		Hosts: slices.Compact(hosts), Stages: t.flush(),
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
	if errors.Is(err, workflow.ErrCanceled) || temporal.IsCanceledError(err) {
		return "cancelled"
	}
	return err.Error()
}
