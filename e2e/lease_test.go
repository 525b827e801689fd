package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// A test that holds its host and whose workflow is terminated gives
// nothing back; the lease sweep (every 2 s in this package) takes the host
// back, and the test queued behind it runs. Not parallel: other tests'
// tests would join the host's queue.
func TestLeaseSweepReclaimsFromATerminatedHolder(t *testing.T) {
	applySleeper(t, "lease-terminated", "0")
	holder := startTest(t, wire.RunRequest{Framework: "lease-terminated", Params: map[string]string{"secs": "30"}})
	waitFor(t, holder.ID, "running", func(x *wire.Test) bool { return x.State == wire.StateRunning })
	next := startTest(t, wire.RunRequest{Framework: "lease-terminated"})
	waitFor(t, next.ID, "waiting", func(x *wire.Test) bool { return x.State == wire.StateWaiting })
	require.NoError(t, st.Temporal.TerminateWorkflow(context.Background(), holder.WorkflowID, "", "e2e: a holder that gives nothing back"))
	got := st.Wait(t, next.ID)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Contains(t, stages(got), "lease acquired "+agent3)
}
