package e2e

import (
	"path/filepath"
	"testing"
)

// recordHistory saves a workflow's history as workflows/testdata/name for
// the replay tests when PITWALL_RECORD_HISTORIES=1 (stack.RecordHistory).
func recordHistory(t *testing.T, workflowID, name string) {
	t.Helper()
	st.RecordHistory(t, workflowID, filepath.Join("../workflows/testdata", name))
}
