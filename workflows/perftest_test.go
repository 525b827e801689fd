package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/pitwall/pitwall/activities"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// bundle is what each workflow test needs: an environment with every
// activity mocked, and the transitions the workflow recorded.
type bundle struct {
	env         *testsuite.TestWorkflowEnvironment
	acts        *activities.Activities
	transitions []store.Transition
	collated    []activities.CollateInput
	collects    []activities.CollectInput
	cleaned     bool
	released    int
}

// faults make one stage fail instead of succeeding.
type faults struct {
	hostPick error
	setup    error
}

func setup(t *testing.T, f ...faults) *bundle {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	b := &bundle{env: suite.NewTestWorkflowEnvironment(), acts: &activities.Activities{}}
	b.env.RegisterActivity(b.acts)
	plan := &store.TestPlan{ID: 7, Framework: framework.Framework{
		Name:      "sample",
		Repeat:    1,
		Execution: framework.Execution{Script: "#!/bin/sh\n", Args: framework.ArgsPositional, Timeout: framework.Duration(time.Minute)},
	}, Params: []framework.Param{{Name: "n", Value: "1"}}}
	b.env.OnActivity(b.acts.TestLoad, mock.Anything, int64(7)).Return(plan, nil)
	var fault faults
	if len(f) > 0 {
		fault = f[0]
	}
	if fault.hostPick != nil {
		b.env.OnActivity(b.acts.HostPick, mock.Anything, mock.Anything).Return(nil, fault.hostPick)
	} else {
		b.env.OnActivity(b.acts.HostPick, mock.Anything, mock.Anything).Return(
			&activities.HostPickResult{Execution: "bench-01", Statistics: []string{"bench-01"}}, nil)
		// The host's lease workflow answers the request.
		b.env.RegisterDelayedCallback(func() {
			b.env.SignalWorkflow(activities.SignalLease, activities.LeaseEvent{Host: "bench-01", Granted: true})
		}, time.Second)
	}
	b.env.OnActivity(b.acts.LeaseRequest, mock.Anything, mock.Anything).Return(nil)
	b.env.OnSignalExternalWorkflow(mock.Anything, LeaseWorkflowID("bench-01"), "", activities.SignalLeaseRelease, mock.Anything).
		Return(func(_, _, _, _ string, _ any) error {
			b.released++
			return nil
		})
	b.env.OnActivity(b.acts.Monitor, mock.Anything, mock.Anything).Return(&activities.MonitorResult{Samples: 3}, nil)
	b.env.OnActivity(b.acts.Upload, mock.Anything, mock.Anything).Return(&activities.UploadResult{Files: 1, Bytes: 10}, nil)
	b.env.OnActivity(b.acts.Verdict, mock.Anything, int64(7)).Return(&activities.VerdictResult{Verdict: "unchanged", Baseline: []int64{3, 5}}, nil)
	b.env.OnActivity(b.acts.Transition, mock.Anything, mock.Anything).Return(func(_ context.Context, tr store.Transition) error {
		b.transitions = append(b.transitions, tr)
		return nil
	})
	if fault.setup != nil {
		b.env.OnActivity(b.acts.Setup, mock.Anything, mock.Anything).Return(nil, fault.setup)
	} else {
		b.env.OnActivity(b.acts.Setup, mock.Anything, mock.Anything).Return(
			&activities.SetupResult{Dir: "/w/7", ResultsDir: "/w/7/results", Script: "/w/7/script"}, nil)
	}
	b.env.OnActivity(b.acts.Collect, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CollectInput) (*activities.CollectResult, error) {
		b.collects = append(b.collects, in)
		res := &activities.CollectResult{KPIs: []results.KPI{{Name: "Latency", Value: 12.5, Unit: "ms"}}}
		if in.Upload {
			res.Upload = &activities.UploadResult{Files: 1, Bytes: 10}
		}
		if in.Cleanup {
			b.cleaned = true
		}
		return res, nil
	})
	b.env.OnActivity(b.acts.Collate, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CollateInput) error {
		b.collated = append(b.collated, in)
		return nil
	})
	b.env.OnActivity(b.acts.Cleanup, mock.Anything, int64(7)).Return(func(_ context.Context, _ int64) error {
		b.cleaned = true
		return nil
	})
	return b
}

func (b *bundle) run(t *testing.T) *PerfTestResult {
	t.Helper()
	b.env.ExecuteWorkflow(PerfTest, PerfTestInput{TestID: 7, Shape: ShapeCurrent})
	require.True(t, b.env.IsWorkflowCompleted())
	require.NoError(t, b.env.GetWorkflowError())
	var res PerfTestResult
	require.NoError(t, b.env.GetWorkflowResult(&res))
	return &res
}

func (b *bundle) states() []string {
	var s []string
	for _, tr := range b.transitions {
		s = append(s, tr.State)
	}
	return s
}

func TestPerfTestSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.OnActivity(b.acts.Execute, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ExecuteInput) (*activities.ExecuteResult, error) {
		require.Equal(t, "/w/7/script", in.Script)
		require.Equal(t, time.Minute, in.Timeout)
		require.Equal(t, []framework.Param{{Name: "n", Value: "1"}}, in.Params)
		return &activities.ExecuteResult{ExitCode: 0}, nil
	})
	res := b.run(t)
	require.Equal(t, wire.StateFinished, res.State)
	require.Equal(t, "bench-01", res.Host)
	require.Equal(t, []string{wire.StateSetup, wire.StateRunning, wire.StateCollating, wire.StateFinished}, b.states())
	require.Len(t, b.collated, 1)
	require.Equal(t, "Latency", b.collated[0].Iterations[0].KPIs[0].Name)
	require.True(t, b.cleaned, "the last Collect cleans up: no before_cleanup hook runs there")
	require.Len(t, b.collects, 1)
	require.True(t, b.collects[0].StopMonitor, "the last Collect stops the execution host's monitor")
	require.True(t, b.collects[0].Upload, "and uploads the artifacts")
	require.Equal(t, 1, b.released, "the host is given back")
}

func TestPerfTestScriptFailureKeepsResults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.OnActivity(b.acts.Execute, mock.Anything, mock.Anything).Return(
		&activities.ExecuteResult{ExitCode: 3, StderrTail: "warming up\nerror: connection refused"}, nil)
	res := b.run(t)
	require.Equal(t, wire.StateFailed, res.State)
	require.Equal(t, "script exited with status 3: error: connection refused", res.Reason)
	require.Equal(t, 3, *res.ExitCode)
	require.Len(t, b.collated, 1, "what a failed script wrote is still kept")
	require.True(t, b.cleaned)
	last := b.transitions[len(b.transitions)-1]
	require.Equal(t, wire.StateFailed, last.State)
	require.Equal(t, res.Reason, last.Reason)
}

func TestPerfTestTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.OnActivity(b.acts.Execute, mock.Anything, mock.Anything).Return(
		&activities.ExecuteResult{ExitCode: 143, TimedOut: true, Signal: "terminated"}, nil)
	res := b.run(t)
	require.Equal(t, wire.StateTimedOut, res.State)
	require.Contains(t, res.Reason, "timeout of 1m0s")
	require.True(t, b.cleaned)
}

func TestPerfTestSetupFailureStillCleansUp(t *testing.T) {
	t.Parallel()
	b := setup(t, faults{setup: temporal.NewNonRetryableApplicationError(
		"script /opt/run.sh does not exist on agent bench-01", activities.ErrBadScript, nil)})
	b.env.OnActivity(b.acts.Execute, mock.Anything, mock.Anything).Return(nil, errors.New("not reached"))
	res := b.run(t)
	require.Equal(t, wire.StateFailed, res.State)
	require.Equal(t, "setup: script /opt/run.sh does not exist on agent bench-01", res.Reason)
	require.Equal(t, []string{wire.StateSetup, wire.StateFailed}, b.states())
	require.False(t, b.cleaned, "nothing was set up, so nothing to clean")
	require.Equal(t, 1, b.released, "the host is given back after a failure too")
}

func TestPerfTestUnknownHost(t *testing.T) {
	t.Parallel()
	b := setup(t, faults{hostPick: temporal.NewNonRetryableApplicationError(
		`execution host "db-9" is not a registered agent`, activities.ErrNoHost, nil)})
	res := b.run(t)
	require.Equal(t, wire.StateFailed, res.State)
	require.Equal(t, `choose host: execution host "db-9" is not a registered agent`, res.Reason)
	require.Equal(t, []string{wire.StateFailed}, b.states())
}

func TestPerfTestAbortKillsAndCleansUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	killed := false
	b.env.OnActivity(b.acts.Execute, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.ExecuteInput) (*activities.ExecuteResult, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	b.env.OnActivity(b.acts.Kill, mock.Anything, int64(7)).Return(func(context.Context, int64) error {
		killed = true
		return nil
	})
	b.env.OnActivity(b.acts.StopMonitor, mock.Anything, int64(7)).Return(nil)
	b.env.RegisterDelayedCallback(func() {
		b.env.SignalWorkflow(SignalAbort, AbortRequest{Reason: "wrong branch"})
	}, 2*time.Second)
	res := b.run(t)
	require.Equal(t, wire.StateAborted, res.State)
	require.Equal(t, "aborted: wrong branch", res.Reason)
	require.True(t, killed, "the script is killed at once")
	require.True(t, b.cleaned, "cleanup runs after an abort")
	require.Equal(t, 1, b.released, "the host is given back")
	require.Empty(t, b.collated, "an aborted run is not collated")
	require.Equal(t, wire.StateAborted, b.states()[len(b.states())-1])
}

func TestHostLeaseGrantsInOrder(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	var holders []int64
	env.OnActivity(acts.LeaseRecord, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.LeaseRecordInput) error {
		holders = append(holders, in.TestID)
		return nil
	})
	var told []string
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", activities.SignalLease, mock.Anything).
		Return(func(_, wfID, _, _ string, arg any) error {
			ev := arg.(activities.LeaseEvent)
			told = append(told, fmt.Sprintf("%s granted=%v holder=%d", wfID, ev.Granted, ev.Holder))
			return nil
		})
	req := func(id int64) activities.LeaseRequest {
		return activities.LeaseRequest{TestID: id, WorkflowID: WorkflowID(id)}
	}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(activities.SignalLeaseAcquire, req(1)) }, time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(activities.SignalLeaseAcquire, req(2)) }, 2*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(activities.SignalLeaseAcquire, req(3)) }, 3*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(activities.SignalLeaseRelease, activities.LeaseRelease{TestID: 2}) }, 4*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(activities.SignalLeaseRelease, activities.LeaseRelease{TestID: 1}) }, 5*time.Second)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 6*time.Second)
	env.ExecuteWorkflow(HostLease, activities.HostLeaseInput{Host: "bench-01"})
	require.Equal(t, []string{
		"perftest-1 granted=true holder=0",
		"perftest-2 granted=false holder=1",
		"perftest-3 granted=false holder=1",
		"perftest-3 granted=true holder=0",
	}, told, "2 left the queue while waiting, so 3 is next")
	require.Equal(t, []int64{1, 3}, holders, "3 takes the host as 1 gives it back: no free moment is recorded")
}
