package schedules

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/temporalproto"

	"github.com/pitwall/pitwall/internal/sealed"
)

// recordHistory saves a finished workflow's history for the replay tests in
// workflows/ when PITWALL_RECORD_HISTORIES=1 (as e2e's recordHistory does).
func recordHistory(t *testing.T, workflowID, name string) {
	t.Helper()
	if os.Getenv("PITWALL_RECORD_HISTORIES") != "1" {
		return
	}
	require.NoError(t, st.Temporal.GetWorkflow(t.Context(), workflowID, "").Get(t.Context(), nil))
	it := st.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, ev)
	}
	codec, err := sealed.Load(st.PayloadKey)
	require.NoError(t, err)
	require.NoError(t, proxy.VisitPayloads(context.Background(), hist, proxy.VisitPayloadsOptions{
		SkipSearchAttributes: true,
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return codec.Decode(ps)
		},
	}))
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join("../../workflows/testdata", name), b, 0o644))
}
