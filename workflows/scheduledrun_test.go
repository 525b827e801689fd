package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// scheduledRun runs ScheduledRun with fake activities: start gives the
// test (or why none started), the test ends in state, and check records
// what it was asked and pauses when pause says so.
func scheduledRun(t *testing.T, start *contract.ScheduledRunResult, state string, pause bool) (*contract.ScheduledRunResult, []contract.ScheduleCheckInput, int) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var checks []contract.ScheduleCheckInput
	waits := 0
	contract.ScheduleStart.Register(env, func(_ context.Context, in contract.ScheduleStartInput) (*contract.ScheduledRunResult, error) {
		require.Equal(t, int64(7), in.Schedule)
		require.NotEmpty(t, in.Run, "the run's workflow ID makes a retried start find its test")
		out := *start
		return &out, nil
	})
	contract.ScheduleWait.Register(env, func(_ context.Context, id int64) (string, error) {
		waits++
		require.Equal(t, start.Test, id)
		return state, nil
	})
	contract.ScheduleCheck.Register(env, func(_ context.Context, in contract.ScheduleCheckInput) (bool, error) {
		checks = append(checks, in)
		return pause, nil
	})
	env.ExecuteWorkflow(ScheduledRun, contract.ScheduledRunInput{Schedule: 7})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res contract.ScheduledRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return &res, checks, waits
}

func TestScheduledRunWaitsForItsTestThenChecks(t *testing.T) {
	t.Parallel()
	res, checks, waits := scheduledRun(t, &contract.ScheduledRunResult{Test: 41}, wire.StateFailed, true)
	require.Equal(t, 1, waits)
	require.Equal(t, []contract.ScheduleCheckInput{{Schedule: 7, Test: 41}}, checks)
	require.Equal(t, contract.ScheduledRunResult{Test: 41, State: wire.StateFailed, Paused: true}, *res)
}

func TestScheduledRunThatCouldNotStartATestIsChecked(t *testing.T) {
	t.Parallel()
	res, checks, waits := scheduledRun(t, &contract.ScheduledRunResult{Reason: "could not start a test: framework gone"}, "", true)
	require.Zero(t, waits, "no test to wait for")
	require.Equal(t, []contract.ScheduleCheckInput{{Schedule: 7, StartError: "could not start a test: framework gone"}}, checks)
	require.True(t, res.Paused)
}
