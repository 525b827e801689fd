package workflows

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// A test whose host claim recorded it as waiting asks for its lease
// quietly and records no waiting state of its own.
func TestPerfTestWaitingFromTheClaim(t *testing.T) {
	t.Parallel()
	b := setup(t, fakes{holder: 5})
	var asked contract.HostPickInput
	b.env.OnActivity(contract.HostPick.Name, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.HostPickInput) (*contract.HostPickResult, error) {
			asked = in
			return &contract.HostPickResult{Execution: "bench-01", Statistics: []string{"bench-01"}, Waiting: true}, nil
		})
	res := b.run(t)
	require.Equal(t, wire.StateFinished, res.State)
	require.True(t, asked.RecordWaiting, "the claim records the waiting")
	require.Len(t, b.requests, 1)
	require.True(t, b.requests[0].Quiet, "so the lease workflow need send no notice")
	require.NotContains(t, b.states(), wire.StateWaiting, "no state change of the test's own")
}

// A test the claim did not see waiting but whose host is held records
// the waiting itself, from LeaseTake's answer, and runs on its grant.
func TestPerfTestQueuedRecordsWaiting(t *testing.T) {
	t.Parallel()
	b := setup(t, fakes{holder: 5})
	res := b.run(t)
	require.Equal(t, wire.StateFinished, res.State)
	require.False(t, b.requests[0].Quiet)
	require.Equal(t, wire.StateWaiting, b.states()[0])
	require.Equal(t, "waiting for host bench-01, held by test 5", b.transitions[0].Reason)
}

// A before_run hook runs between Setup and the script: no fold of the
// Setup; the last Collect still folds into the script's Execute. An
// after_run hook runs between the script and its Collect: no fold of it.
func TestPerfTestFoldsOnlyWhatRunsBackToBack(t *testing.T) {
	t.Parallel()
	for _, hook := range []string{"before_run", "after_run"} {
		t.Run(hook, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fakes{})
			b.env.OnActivity(contract.TestLoad.Name, mock.Anything, int64(7)).Return(&contract.TestPlan{TestID: 7, Framework: "sample",
				Repeat: 1, Execution: contract.Execution{Script: "#!/bin/sh\n", Timeout: time.Minute},
				Hooks: []contract.Hook{{Name: hook, Script: "#!/bin/sh\n"}}}, nil)
			res := b.run(t)
			require.Equal(t, wire.StateFinished, res.State)
			var names []string
			for _, e := range b.executes {
				names = append(names, fmt.Sprintf("%s setup=%v collect=%v", e.Name, e.Setup != nil, e.Collect != nil))
			}
			switch hook {
			case "before_run":
				require.Equal(t, []string{"before_run setup=false collect=false", "script setup=false collect=true"}, names)
				require.Equal(t, []string{wire.StateSetup, wire.StateRunning, wire.StateCollating, wire.StateFinished}, b.states())
			case "after_run":
				require.Equal(t, []string{"script setup=true collect=false", "after_run setup=false collect=false"}, names)
				require.Len(t, b.collects, 1)
				require.True(t, b.collects[0].Upload, "the Collect of its own does the last one's work")
			}
		})
	}
}

// A quiet request gets no notice while it waits, only its grant.
func TestHostLeaseQuietRequestGetsNoNotice(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var told []string
	leaseFakes(env, func(wfID string, ev contract.LeaseEvent) {
		told = append(told, fmt.Sprintf("%s granted=%v", wfID, ev.Granted))
	}, func(int64) {})
	req := func(id int64, quiet bool) contract.LeaseRequest {
		return contract.LeaseRequest{TestID: id, WorkflowID: contract.WorkflowID(id), Quiet: quiet}
	}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(1, false)) }, time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(2, true)) }, 2*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(3, false)) }, 3*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalLeaseRelease, contract.LeaseRelease{TestID: 1}) }, 4*time.Second)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 5*time.Second)
	env.ExecuteWorkflow(HostLease, contract.HostLeaseInput{Host: "bench-01"})
	require.Equal(t, []string{
		"perftest-1 granted=true",
		"perftest-3 granted=false",
		"perftest-2 granted=true",
	}, told, "2 asked quietly: no notice, then its grant")
}
