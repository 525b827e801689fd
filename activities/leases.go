package activities

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Signal names of the host lease protocol.
const (
	// SignalLeaseAcquire asks a HostLease workflow for its host.
	SignalLeaseAcquire = "acquire"
	// SignalLeaseRelease gives the host back (or leaves the queue).
	SignalLeaseRelease = "release"
	// SignalLease tells a PerfTest how its request stands.
	SignalLease = "lease"
	// LeaseWorkflowType is the registered name of the HostLease workflow.
	LeaseWorkflowType = "HostLease"
)

// LeaseRequest is a test asking for a host.
type LeaseRequest struct {
	TestID     int64
	WorkflowID string
}

// LeaseRelease gives a host back.
type LeaseRelease struct {
	TestID int64
}

// LeaseEvent answers a request: granted, or queued behind Holder.
type LeaseEvent struct {
	Host    string
	Granted bool
	Holder  int64
}

// HostLeaseInput is the state a HostLease workflow starts (or continues) with.
type HostLeaseInput struct {
	Host   string
	Holder *LeaseRequest
	Since  time.Time
	Queue  []LeaseRequest
}

// LeaseRequestInput names the host's lease workflow and the request to send it.
type LeaseRequestInput struct {
	Host            string
	LeaseWorkflowID string
	Request         LeaseRequest
}

// LeaseRequest sends an acquire signal to the host's lease workflow,
// starting that workflow if it is not running yet.
func (a *Activities) LeaseRequest(ctx context.Context, in LeaseRequestInput) error {
	_, err := a.Temporal.SignalWithStartWorkflow(ctx, in.LeaseWorkflowID, SignalLeaseAcquire, in.Request,
		client.StartWorkflowOptions{ID: in.LeaseWorkflowID, TaskQueue: CentralQueue},
		LeaseWorkflowType, HostLeaseInput{Host: in.Host})
	if err != nil {
		return fmt.Errorf("request lease of %s: %w", in.Host, err)
	}
	return nil
}

// LeaseRecordInput is a change of holder, for pages and the API.
type LeaseRecordInput struct {
	Host   string
	TestID int64
	Since  time.Time
}

// LeaseRecord stores who holds a host now (TestID 0: nobody).
func (a *Activities) LeaseRecord(ctx context.Context, in LeaseRecordInput) error {
	return a.Store.LeaseSet(ctx, in.Host, in.TestID, in.Since)
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
