package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
