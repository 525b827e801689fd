package e2e

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// What Pitwall puts in Temporal is sealed (internal/sealed): a test's
// workflow history, as Temporal stores it and its web UI shows it, holds
// neither the script, nor parameter values, nor KPIs, nor the output a
// failure quotes; the test still runs, since every process has the key.
func TestWorkflowHistoriesHoldNoScriptsParametersOrResults(t *testing.T) {
	t.Parallel()
	st.Apply(t, `name: sealed-history
execution:
  script: |
    #!/bin/sh
    echo "sealed-script-marker-$1" >&2
    echo "SealedKPI, 4242.5" > results.csv
parameters:
  - name: secret
    default: none
`)
	got := st.Run(t, wire.RunRequest{Framework: "sealed-history", Params: map[string]string{"secret": "sealed-param-marker"}})
	got = st.Wait(t, got.ID)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Len(t, got.KPIs, 1)
	require.Equal(t, 4242.5, got.KPIs[0].Value)

	ctx := context.Background()
	var raw bytes.Buffer
	req := &workflowservice.GetWorkflowExecutionHistoryRequest{Namespace: st.Namespace,
		Execution:              &commonpb.WorkflowExecution{WorkflowId: contract.WorkflowID(got.ID)},
		HistoryEventFilterType: enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT}
	for {
		resp, err := st.Temporal.WorkflowService().GetWorkflowExecutionHistory(ctx, req)
		require.NoError(t, err)
		for _, ev := range resp.GetHistory().GetEvents() {
			b, err := ev.Marshal()
			require.NoError(t, err)
			raw.Write(b)
		}
		if len(resp.NextPageToken) == 0 {
			break
		}
		req.NextPageToken = resp.NextPageToken
	}
	require.Greater(t, raw.Len(), 1000, "the history was read")
	for _, secret := range []string{"sealed-script-marker", "sealed-param-marker", "SealedKPI", "4242.5"} {
		require.NotContains(t, raw.String(), secret, "the raw history holds %q", secret)
	}
	require.Contains(t, raw.String(), "binary/pitwall-sealed")
}
