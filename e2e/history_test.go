package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
)

// recordHistory saves a finished workflow's history for the replay tests in
// workflows/ when PITWALL_RECORD_HISTORIES=1. Record again after a change
// that is guarded by workflow.GetVersion; never to make a replay failure go away.
func recordHistory(t *testing.T, workflowID, name string) {
	t.Helper()
	if os.Getenv("PITWALL_RECORD_HISTORIES") != "1" {
		return
	}
	it := st.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, ev)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("../workflows/testdata", name), b, 0o644))
}
