package contract

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Activity names an activity that takes I and returns O. Workflows
// schedule it and workers register it through this one value, so the name
// is written once and both sides agree on the types at compile time.
type Activity[I, O any] struct {
	// Name is the activity's registered type name.
	Name string
}

// Action names an activity that takes I and returns only an error.
type Action[I any] struct {
	// Name is the activity's registered type name.
	Name string
}

// Future is the pending result of an Activity.
type Future[O any] struct {
	workflow.Future
}

// Result waits for the activity and returns its result.
func (f Future[O]) Result(ctx workflow.Context) (O, error) {
	var o O
	err := f.Get(ctx, &o)
	return o, err
}

// Register registers fn under the activity's name.
func (a Activity[I, O]) Register(r worker.ActivityRegistry, fn func(context.Context, I) (O, error)) {
	r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.Name})
}

// Execute schedules the activity with the options ctx carries.
func (a Activity[I, O]) Execute(ctx workflow.Context, in I) Future[O] {
	return Future[O]{workflow.ExecuteActivity(ctx, a.Name, in)}
}

// ExecuteLocal runs the activity as a local activity: in the workflow's
// own worker, with the local activity options ctx carries.
func (a Activity[I, O]) ExecuteLocal(ctx workflow.Context, in I) Future[O] {
	return Future[O]{workflow.ExecuteLocalActivity(ctx, a.Name, in)}
}

// Register registers fn under the action's name.
func (a Action[I]) Register(r worker.ActivityRegistry, fn func(context.Context, I) error) {
	r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.Name})
}

// Execute schedules the action with the options ctx carries.
func (a Action[I]) Execute(ctx workflow.Context, in I) workflow.Future {
	return workflow.ExecuteActivity(ctx, a.Name, in)
}

// ExecuteLocal runs the action as a local activity.
func (a Action[I]) ExecuteLocal(ctx workflow.Context, in I) workflow.Future {
	return workflow.ExecuteLocalActivity(ctx, a.Name, in)
}

// The central worker's activities: they touch the database or the
// Temporal client and run as local activities of the workflows.
var (
	// TestLoad returns what a test runs: its framework and parameters.
	TestLoad = Activity[int64, *TestPlan]{"TestLoad"}
	// HostPick chooses and claims the execution host and the statistics hosts.
	HostPick = Activity[HostPickInput, *HostPickResult]{"HostPick"}
	// Transition records a test's state change and its stages.
	Transition = Action[TransitionInput]{"Transition"}
	// Collate stores a test's KPIs, notes and fingerprint.
	Collate = Action[CollateInput]{"Collate"}
	// Verdict judges a finished test against its baseline.
	Verdict = Activity[int64, *VerdictResult]{"Verdict"}
	// LeaseTake takes a host for the requester when nobody holds it, else
	// queues the request behind the holder: the answer says which
	// (Granted, or Holder). A queued request hears of its grant by the
	// signal SignalLease, sent by the holder's ReleaseLeases.
	LeaseTake = Activity[LeaseRequestInput, LeaseEvent]{"LeaseTake"}
	// LeaseAcquire is LeaseTake whose answer, when granted, comes as a
	// SignalLease to the requester too: for workflows started before
	// LeaseTake, which wait for that signal.
	LeaseAcquire = Action[LeaseRequestInput]{"LeaseAcquire"}
	// ReleaseLeases gives hosts back (or leaves their queues): each host
	// goes to its next request, told by the signal SignalLease.
	ReleaseLeases = Action[ReleaseLeasesInput]{"ReleaseLeases"}
	// LeaseGrant signals a test that it holds a host (SignalLease) and
	// records it as the holder; false when the test's workflow is gone.
	// Run by HostLease workflows only.
	LeaseGrant = Activity[LeaseGrantInput, bool]{"LeaseGrant"}
	// LeaseRecord stores who holds a host now (HostLease workflows only).
	LeaseRecord = Action[LeaseRecordInput]{"LeaseRecord"}
	// WorkflowRunning reports whether a workflow is still running.
	WorkflowRunning = Activity[string, bool]{"WorkflowRunning"}
	// PromQueries runs the framework's PromQL queries over the test's window.
	PromQueries = Activity[PromQueriesInput, *PromQueriesResult]{"PromQueries"}
)

// The agent's activities: they run on the host's own queue (AgentQueue).
var (
	// Setup prepares a test's working directory and puts its scripts in place.
	Setup = Activity[SetupInput, *SetupResult]{"Setup"}
	// Execute runs the script or a hook once.
	Execute = Activity[ExecuteInput, *ExecuteResult]{"Execute"}
	// Collect reads a run's results, and after the last run uploads and cleans up.
	Collect = Activity[CollectInput, *CollectResult]{"Collect"}
	// Cleanup removes a test's directory from the agent.
	Cleanup = Action[int64]{"Cleanup"}
	// Kill ends a test's running script at once.
	Kill = Action[int64]{"Kill"}
	// Monitor samples a statistics host until StopMonitor or cancellation.
	Monitor = Activity[MonitorInput, *MonitorResult]{"Monitor"}
	// StopMonitor ends a test's monitor on the host, which then flushes.
	StopMonitor = Action[int64]{"StopMonitor"}
	// ContainersUp builds or pulls a test's images and starts its services.
	ContainersUp = Activity[ContainersUpInput, *ContainersUpResult]{"ContainersUp"}
	// RunLoad runs the load-generator container once.
	RunLoad = Activity[RunLoadInput, *ExecuteResult]{"RunLoad"}
)
