package central

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
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

// ReleaseLeases gives a test's hosts back: a release signal to each host's
// lease workflow. A lease workflow that is not running holds nothing to
// give back. Sent again on a retry, a release changes nothing: the test
// no longer holds the host nor waits in its queue.
func (a *Activities) ReleaseLeases(ctx context.Context, in contract.ReleaseLeasesInput) error {
	for _, h := range in.Hosts {
		err := a.Temporal.SignalWorkflow(ctx, contract.LeaseWorkflowID(h), "", contract.SignalLeaseRelease, contract.LeaseRelease{TestID: in.TestID})
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("release lease of %s: %w", h, err)
		}
	}
	return nil
}

// LeaseGrant tells a test it holds the host and records it as the holder.
// It answers false, recording nothing, when the test's workflow is gone.
// A retry after the signal went out signals again: the test has the grant
// already and reads no second one.
func (a *Activities) LeaseGrant(ctx context.Context, in contract.LeaseGrantInput) (bool, error) {
	err := a.Temporal.SignalWorkflow(ctx, in.Request.WorkflowID, "", contract.SignalLease, in.Event)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("grant %s to test %d: %w", in.Host, in.Request.TestID, err)
	}
	if err := a.Store.LeaseSet(ctx, in.Host, in.Request.TestID, in.Since); err != nil {
		return false, fmt.Errorf("record holder of %s: %w", in.Host, err)
	}
	return true, nil
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
