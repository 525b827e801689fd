package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/pitwall/pitwall/internal/wire"
)

// Tests are findable in the Temporal UI by ID, framework, commit, branch and state.
func TestSearchAttributesFindTests(t *testing.T) {
	t.Parallel()
	applyFramework(t, "name: searchable\nexecution: {script: \"#!/bin/sh\\n\"}\n")
	// The server registers the attributes in the background at start.
	time.Sleep(200 * time.Millisecond)
	got := runTest(t, wire.RunRequest{Framework: "searchable", Commit: "cafe01", Branch: "feature-x"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	query := fmt.Sprintf("PitwallTestID = %d AND PitwallFramework = 'searchable' AND PitwallCommit = 'cafe01' "+
		"AND PitwallBranch = 'feature-x' AND PitwallState = 'finished'", got.ID)
	require.Eventually(t, func() bool {
		resp, err := stack.temporal.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: stack.namespace, Query: query,
		})
		return err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == got.WorkflowID
	}, 20*time.Second, 100*time.Millisecond, query)
}
