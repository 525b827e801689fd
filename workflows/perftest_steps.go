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

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// The steps PerfTest is made of: activity options, running a script or a
// hook, leasing hosts, and recording stages and states.

// agentHeartbeatTimeout is how long an agent may be silent in a running
// activity before the test counts it as lost.
const agentHeartbeatTimeout = 10 * time.Second

// centralRetry retries a central step for as long as it takes: the
// database may be restarting, and a test must still end in a true state.
var centralRetry = &temporal.RetryPolicy{
	InitialInterval:    200 * time.Millisecond,
	BackoffCoefficient: 2,
	MaximumInterval:    5 * time.Second,
}

// localOptions run a central step (database or Temporal client) as a local
// activity: in the workflow's own worker, the central one, within the
// current workflow task, which saves two task dispatches per step. It is
// retried with centralRetry for up to a day.
var localOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 24 * time.Hour,
	StartToCloseTimeout:    30 * time.Second,
	RetryPolicy:            centralRetry,
}

// pickOptions wait up to ten minutes for an agent to come online.
var pickOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 10 * time.Minute,
	StartToCloseTimeout:    30 * time.Second,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second},
}

// central is ctx for a central step.
func central(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, localOptions)
}

func (t *perfTest) agent(ctx workflow.Context, host string, startToClose time.Duration, attempts int32) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: contract.AgentQueue(host),
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
func (t *perfTest) recordRun(ctx workflow.Context, run *contract.ExecuteResult, i int, warm bool, n int) {
	name := t.runName()
	switch {
	case warm:
		name = fmt.Sprintf("warm-up %d", i)
	case t.runs() > 1:
		name = fmt.Sprintf("iteration %d", n)
	}
	ended := fmt.Sprintf("exit %d", run.ExitCode)
	if run.TimedOut {
		ended = "timed out"
	}
	ended += usage(run)
	t.stages = append(t.stages,
		contract.Stage{Name: name + " started", At: run.StartedAt},
		contract.Stage{Name: name + " ended", At: run.EndedAt, Detail: ended})
	t.stages = append(t.stages, interferenceStages(run.Interference, name)...)
}

// baselineNote says which tests a verdict used: all of them when few,
// else the oldest and the newest (the API lists them all).
func baselineNote(ids []int64) string {
	ids = slices.Sorted(slices.Values(ids))
	n := fmt.Sprintf("%d baseline test(s)", len(ids))
	switch {
	case len(ids) == 0:
		return n
	case len(ids) <= 5:
		refs := make([]string, len(ids))
		for i, id := range ids {
			refs[i] = fmt.Sprintf("#%d", id)
		}
		return n + ": " + strings.Join(refs, ", ")
	}
	return fmt.Sprintf("%s, #%d to #%d", n, ids[0], ids[len(ids)-1])
}

// countMigrations adds a kept run's CPU migrations to the test's, when
// the agent counted them (a value in the run's result, so replay sees the
// same). A load-generator container's run has none.
func (t *perfTest) countMigrations(run *contract.ExecuteResult) {
	if !run.MigrationsCounted {
		return
	}
	if t.migrations == nil {
		t.migrations = &contract.Migrations{Host: t.host}
	}
	t.migrations.Count += run.CPUMigrations
	t.migrations.Seconds += run.EndedAt.Sub(run.StartedAt).Seconds()
}

// usage is what the supervisor measured of a run's process tree, for its
// "ended" stage; "" from an agent that measured nothing.
func usage(run *contract.ExecuteResult) string {
	if run.UserCPU+run.SystemCPU == 0 && run.MaxRSS == 0 {
		return ""
	}
	u := fmt.Sprintf("; CPU %.2f s user + %.2f s system", run.UserCPU.Seconds(), run.SystemCPU.Seconds())
	if run.MaxRSS > 0 { // sampled: a run that short may end unseen
		u += fmt.Sprintf(", peak RSS %.1f MiB (largest process)", float64(run.MaxRSS)/(1<<20))
	}
	if run.Processes > 0 {
		u += fmt.Sprintf(", %d process(es) seen", run.Processes)
	}
	if run.Leftover > 0 {
		u += fmt.Sprintf(", %d still running at its end and killed", run.Leftover)
	}
	if run.MigrationsCounted {
		u += fmt.Sprintf(", %d CPU migration(s)", run.CPUMigrations)
	}
	return u
}

// agentLost says whether an agent's activity failed because the agent
// stopped answering; the test then counts the agent as lost.
func (t *perfTest) agentLost(err error) bool {
	var te *temporal.TimeoutError
	if errors.As(err, &te) && (te.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT || te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START) {
		t.lost = true
	}
	return t.lost
}

// runName names a run in stages: "load" for a load-generator container,
// else "script"; runner is what the reasons call it.
func (t *perfTest) runName() string {
	if t.plan.Load != nil {
		return "load"
	}
	return "script"
}

func (t *perfTest) runner() string {
	if t.plan.Load != nil {
		return "load generator"
	}
	return "script"
}

// runFailure explains an Execute (or a RunLoad) that did not return a result.
func (t *perfTest) runFailure(err error) string {
	if t.agentLost(err) {
		return fmt.Sprintf("agent lost: %s stopped answering", t.host)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == contract.ErrSupervisorLost {
		return app.Message() // it says what was lost
	}
	if errors.As(err, &app) && app.Type() == contract.ErrSetup {
		return because("setup", err) // a Setup folded into the Execute
	}
	return because("running", err)
}

// executeAttempts bounds the attempts of one Execute. Only the first
// starts the script; the others take the run over from its supervisor
// after the agent restarted (or came back from a network partition).
const executeAttempts = 10

// runScript runs the script or a hook on the execution host.
func (t *perfTest) runScript(ctx workflow.Context, name, path string, iteration int) (*contract.ExecuteResult, error) {
	p := t.plan
	in := t.executeInput(name, path, iteration)
	t.running = true
	run, err := contract.Execute.Execute(t.agent(ctx, t.host, p.Execution.Timeout+time.Minute, executeAttempts), in).Result(ctx)
	if err == nil && !run.Reattached.IsZero() {
		t.stages = append(t.stages, contract.Stage{Name: "agent restarted; script re-attached", At: run.Reattached, Detail: name})
	}
	return run, err
}

// executeInput is one run of the script or a hook on the execution host.
func (t *perfTest) executeInput(name, path string, iteration int) contract.ExecuteInput {
	p := t.plan
	in := contract.ExecuteInput{
		TestID: t.id, Framework: p.Framework, Script: path,
		Args: p.Execution.Args, Params: p.Params, Timeout: p.Execution.Timeout, Name: name, Iteration: iteration,
		Env: p.Execution.Env, Commit: p.Commit,
	}
	if t.setup != nil {
		in.Dir, in.ResultsDir = t.setup.Dir, t.setup.ResultsDir
	}
	if name == "script" {
		in.Interference = p.Interference
	}
	if t.containers != nil {
		in.ServiceEnv = t.containers.HostEnv
	}
	if name == "script" {
		// An input, not a command: replay compares nothing here.
		in.Profilers = p.Profilers
	}
	return in
}

// runLoad runs the load-generator container once on the execution host.
// One attempt: an agent that stops answering meanwhile is lost, and its
// containers are swept when it is back.
func (t *perfTest) runLoad(ctx workflow.Context, iteration int) (*contract.ExecuteResult, error) {
	p := t.plan
	in := contract.RunLoadInput{TestID: t.id, Framework: p.Framework, Image: t.containers.LoadImage, Load: *p.Load,
		Services: p.Services, Args: p.Execution.Args, Params: p.Params, ResultsDir: t.setup.ResultsDir,
		Timeout: p.Execution.Timeout, Iteration: iteration}
	t.running = true
	return contract.RunLoad.Execute(t.agent(ctx, t.host, p.Execution.Timeout+time.Minute, 1), in).Result(ctx)
}

// hook runs a lifecycle hook if the framework has it; it returns why the
// test fails, or "".
func (t *perfTest) hook(ctx workflow.Context, name string) string {
	path, ok := t.hookPath(name)
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

func hookFailure(name string, run *contract.ExecuteResult, err error) string {
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
	self := workflow.GetInfo(ctx).WorkflowExecution.ID
	for _, h := range hosts {
		if slices.Contains(t.held, h) {
			t.stage(ctx, "lease held "+h, "by the confirmation")
			continue
		}
		// The request is a local activity's input, not a command: adding
		// the priority changes nothing that replay compares.
		req := contract.LeaseRequestInput{Host: h, Request: contract.LeaseRequest{TestID: t.id, WorkflowID: self,
			Priority: wire.PriorityRank(t.plan.Priority), Quiet: h == t.host && t.claimWaiting}}
		t.leased = append(t.leased, h)
		if t.take {
			ev, err := contract.LeaseTake.ExecuteLocal(central(ctx), req).Result(ctx)
			if err != nil {
				return err
			}
			// A quiet request's waiting is recorded already (the claim).
			if ev.Granted || !req.Request.Quiet {
				held, err := t.onLease(ctx, h, hosts, ev)
				if err != nil {
					return err
				}
				if held {
					continue
				}
			}
		} else if err := contract.LeaseAcquire.ExecuteLocal(central(ctx), req).Get(ctx, nil); err != nil {
			return err
		}
		if err := t.awaitLease(ctx, h, hosts); err != nil {
			return err
		}
	}
	return nil
}

// awaitLease waits until host h is granted; while another test holds it,
// the test is waiting.
func (t *perfTest) awaitLease(ctx workflow.Context, h string, hosts []string) error {
	events := workflow.GetSignalChannel(ctx, contract.SignalLease)
	for {
		var ev contract.LeaseEvent
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(events, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &ev) })
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if held, err := t.onLease(ctx, h, hosts, ev); err != nil || held {
			return err
		}
	}
}

// onLease takes in how the request for host h stands (LeaseTake's answer
// or a SignalLease): held says h is the test's now; while another test
// holds it, the test is waiting.
func (t *perfTest) onLease(ctx workflow.Context, h string, hosts []string, ev contract.LeaseEvent) (held bool, err error) {
	switch {
	case ev.Host != h:
		// A late answer about a host already held.
		return false, nil
	case ev.Granted:
		if ev.Promoted {
			// A stage is held in memory until the next state change:
			// no command, so no version marker is needed.
			t.stage(ctx, wire.StagePromoted, fmt.Sprintf("waited %s for host %s behind higher-priority tests", ev.Waited.Round(time.Second), h))
		}
		t.stage(ctx, "lease acquired "+h, "")
		return true, nil
	}
	reason := fmt.Sprintf("waiting for host %s, held by test %d", h, ev.Holder)
	upsertState(ctx, wire.StateWaiting)
	return false, contract.Transition.ExecuteLocal(central(ctx), contract.TransitionInput{
		TestID: t.id, State: wire.StateWaiting, At: workflow.Now(ctx), Reason: reason, WaitingFor: h,
		Hosts: hosts, Stages: t.flush(),
	}).Get(ctx, nil)
}

// stage notes a step; it is stored with the next state change.
func (t *perfTest) stage(ctx workflow.Context, name, detail string) {
	t.stages = append(t.stages, contract.Stage{Name: name, At: workflow.Now(ctx), Detail: detail})
}

func (t *perfTest) flush() []contract.Stage {
	s := t.stages
	t.stages = nil
	return s
}

func (t *perfTest) transition(ctx workflow.Context, state, reason string) error {
	// Each upsert is a visibility write in Temporal; setup and collating
	// last a moment and Pitwall's own pages show them, so the Temporal UI
	// sees queued, waiting, running and the end.
	if state != wire.StateSetup && state != wire.StateCollating {
		upsertState(ctx, state)
	}
	hosts := append([]string{t.host}, t.stats...)
	slices.Sort(hosts)
	return contract.Transition.ExecuteLocal(central(ctx), contract.TransitionInput{
		TestID: t.id, State: state, At: workflow.Now(ctx), Reason: reason, Host: t.host,
		Hosts: slices.Compact(hosts), Stages: t.flush(),
	}).Get(ctx, nil)
}

// exitReason explains a failed script in one line, with its last words.
func exitReason(run contract.ExecuteResult) string {
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

// upsertState records a state change in the workflow's search attributes,
// if it started with them (they are registered in the namespace).
func upsertState(ctx workflow.Context, state string) {
	if !workflow.GetTypedSearchAttributes(ctx).ContainsKey(contract.SearchState) {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.SearchState.ValueSet(state)); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attribute", "error", err)
	}
}
