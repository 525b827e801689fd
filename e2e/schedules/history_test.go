package schedules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// recordHistory saves a finished workflow's history as
// workflows/testdata/name for the replay tests when
// PITWALL_RECORD_HISTORIES=1 (stack.RecordHistory).
func recordHistory(t *testing.T, workflowID, name string) {
	t.Helper()
	if os.Getenv("PITWALL_RECORD_HISTORIES") != "1" {
		return
	}
	require.NoError(t, st.Temporal.GetWorkflow(t.Context(), workflowID, "").Get(t.Context(), nil))
	st.RecordHistory(t, workflowID, filepath.Join("../../workflows/testdata", name))
}
