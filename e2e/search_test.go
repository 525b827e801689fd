package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Tests are findable in the Temporal UI by ID, framework, commit, branch and state.
func TestSearchAttributesFindTests(t *testing.T) {
	t.Parallel()
	st.Apply(t, "name: searchable\nexecution: {script: \"#!/bin/sh\\n\"}\n")
	// The server registers the attributes in the background at start (and
	// the stack once before it): a workflow started earlier would carry none.
	require.Eventually(t, func() bool {
		resp, err := st.Temporal.OperatorService().ListSearchAttributes(t.Context(),
			&operatorservice.ListSearchAttributesRequest{Namespace: st.Namespace})
		if err != nil {
			return false
		}
		for _, k := range []temporal.SearchAttributeKey{contract.SearchTestID, contract.SearchFramework,
			contract.SearchCommit, contract.SearchBranch, contract.SearchState} {
			if _, ok := resp.CustomAttributes[k.GetName()]; !ok {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "the search attributes are registered")
	got := st.Run(t, wire.RunRequest{Framework: "searchable", Commit: "cafe01", Branch: "feature-x"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	query := fmt.Sprintf("PitwallTestID = %d AND PitwallFramework = 'searchable' AND PitwallCommit = 'cafe01' "+
		"AND PitwallBranch = 'feature-x' AND PitwallState = 'finished'", got.ID)
	require.Eventually(t, func() bool {
		resp, err := st.Temporal.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: st.Namespace, Query: query,
		})
		return err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == got.WorkflowID
	}, 20*time.Second, 100*time.Millisecond, query)
}
