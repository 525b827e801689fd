package central

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/workflows/contract"
)

// LeaseAcquire sends an acquire signal to the host's lease workflow,
// starting that workflow if it is not running yet. The request carries
// the worker's promotion limit, so the lease workflow needs no settings.
func (a *Activities) LeaseAcquire(ctx context.Context, in contract.LeaseRequestInput) error {
	in.Request.MaxWait = a.PriorityMaxWait
	id := contract.LeaseWorkflowID(in.Host)
	_, err := a.Temporal.SignalWithStartWorkflow(ctx, id, contract.SignalLeaseAcquire, in.Request,
		client.StartWorkflowOptions{ID: id, TaskQueue: contract.CentralQueue},
		contract.HostLeaseWorkflow, contract.HostLeaseInput{Host: in.Host})
	if err != nil {
		return fmt.Errorf("request lease of %s: %w", in.Host, err)
	}
	return nil
}

// LeaseRecord stores who holds a host now (TestID 0: nobody).
func (a *Activities) LeaseRecord(ctx context.Context, in contract.LeaseRecordInput) error {
	if err := a.Store.LeaseSet(ctx, in.Host, in.TestID, in.Since); err != nil {
		return fmt.Errorf("record holder of %s: %w", in.Host, err)
	}
	return nil
}

// WorkflowRunning reports whether a workflow is still running, so a lease
// held by a test that ended without releasing it can be reclaimed.
func (a *Activities) WorkflowRunning(ctx context.Context, workflowID string) (bool, error) {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return false, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	return d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}
