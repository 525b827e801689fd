package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Each generator that ran is two stages, began and stopped, at the agent's
// times; one that never started is one stage saying why.
func TestInterferenceStages(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	got := interferenceStages([]contract.InterferenceSpan{
		{Kind: "cpu", Host: "bench-01", Command: []string{"stress-ng", "--cpu", "2"}, Began: t0, Stopped: t0.Add(10 * time.Second), Why: "its duration"},
		{Kind: "io", Host: "bench-01", Stopped: t0.Add(20 * time.Second), Why: "not started: the script ended before its start"},
	}, "iteration 2")
	require.Equal(t, []contract.Stage{
		{Name: "interference cpu began", At: t0, Detail: "bench-01, iteration 2: stress-ng --cpu 2"},
		{Name: "interference cpu stopped", At: t0.Add(10 * time.Second), Detail: "bench-01, iteration 2: after 10.0 s; its duration"},
		{Name: "interference io not started", At: t0.Add(20 * time.Second), Detail: "bench-01, iteration 2: not started: the script ended before its start"},
	}, got)
	require.Empty(t, interferenceStages(nil, "script"))
}

// PerfTest puts a run's generators on the timeline with its start and end.
func TestPerfTestRecordsInterference(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	b := setup(t, fakes{execute: func(_ context.Context, in contract.ExecuteInput) (*contract.ExecuteResult, error) {
		return &contract.ExecuteResult{StartedAt: t0, EndedAt: t0.Add(20 * time.Second), Interference: []contract.InterferenceSpan{
			{Kind: "cpu", Host: "bench-01", Command: []string{"stress-ng"}, Began: t0.Add(5 * time.Second), Stopped: t0.Add(15 * time.Second), Why: "its duration"},
		}}, nil
	}})
	res := b.run(t)
	require.Equal(t, wire.StateFinished, res.State, res.Reason)
	var stages []contract.Stage
	for _, tr := range b.transitions {
		stages = append(stages, tr.Stages...)
	}
	names := stageNames(stages)
	require.Contains(t, names, "interference cpu began")
	require.Contains(t, names, "interference cpu stopped")
	for _, s := range stages {
		if s.Name == "interference cpu began" {
			require.Equal(t, t0.Add(5*time.Second), s.At, "at the agent's time")
		}
	}
}
