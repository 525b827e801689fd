package stack

import (
	"context"
	"os"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/temporalproto"

	"github.com/pitwall/pitwall/internal/sealed"
)

// RecordHistory writes a workflow's history to file, for the replay tests
// in workflows/, when PITWALL_RECORD_HISTORIES=1. The stack seals
// payloads; the history is written unsealed, since the replay tests run
// without the key. Record again after a change that is guarded by
// workflow.GetVersion; never to make a replay failure go away.
func (s *Stack) RecordHistory(tb testing.TB, workflowID, file string) {
	tb.Helper()
	if os.Getenv("PITWALL_RECORD_HISTORIES") != "1" {
		return
	}
	ctx := context.Background()
	// A test's state says it ended from within the workflow's last task:
	// wait until that task is in the history too.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_ = s.Temporal.GetWorkflow(wctx, workflowID, "").Get(wctx, nil)
	cancel()
	it := s.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			tb.Fatalf("history of %s: %v", workflowID, err)
		}
		hist.Events = append(hist.Events, ev)
	}
	codec, err := sealed.Load(s.PayloadKey)
	if err != nil {
		tb.Fatal(err)
	}
	err = proxy.VisitPayloads(ctx, hist, proxy.VisitPayloadsOptions{
		SkipSearchAttributes: true,
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return codec.Decode(ps)
		},
	})
	if err != nil {
		tb.Fatalf("unseal the history of %s: %v", workflowID, err)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}
