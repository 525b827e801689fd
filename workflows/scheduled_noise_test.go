package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// scheduledNoise runs ScheduledNoise with fake activities: start gives
// the measurements (and skipped hosts), wait their endings.
func scheduledNoise(t *testing.T, start *contract.ScheduledNoiseResult, states []string) (*contract.ScheduledNoiseResult, int) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	waits := 0
	contract.NoiseScheduleStart.Register(env, func(_ context.Context, in contract.ScheduledNoiseStartInput) (*contract.ScheduledNoiseResult, error) {
		require.Equal(t, "perf", in.Team)
		require.Equal(t, "api", in.Framework)
		require.NotEmpty(t, in.Run)
		out := *start
		return &out, nil
	})
	contract.NoiseScheduleWait.Register(env, func(_ context.Context, ids []int64) ([]string, error) {
		waits++
		require.Equal(t, start.Measurements, ids)
		return states, nil
	})
	env.ExecuteWorkflow(ScheduledNoise, contract.ScheduledNoiseInput{Team: "perf", Framework: "api"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res contract.ScheduledNoiseResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return &res, waits
}

func TestScheduledNoiseWaitsForItsMeasurements(t *testing.T) {
	t.Parallel()
	res, waits := scheduledNoise(t, &contract.ScheduledNoiseResult{Measurements: []int64{4, 5}, Skipped: []string{"b3: offline"}},
		[]string{wire.NoiseFinished, wire.NoiseFailed})
	require.Equal(t, 1, waits)
	require.Equal(t, contract.ScheduledNoiseResult{Measurements: []int64{4, 5}, Skipped: []string{"b3: offline"},
		States: []string{wire.NoiseFinished, wire.NoiseFailed}}, *res)
}

func TestScheduledNoiseWithNoHostWaitsForNothing(t *testing.T) {
	t.Parallel()
	res, waits := scheduledNoise(t, &contract.ScheduledNoiseResult{Skipped: []string{"the framework has no noise key any more"}}, nil)
	require.Zero(t, waits)
	require.Equal(t, []string{"the framework has no noise key any more"}, res.Skipped)
}
