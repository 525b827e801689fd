package tests

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pitwall/pitwall/workflows/contract"
)

// This file is the service's one use of the workflows' contract: how a
// test's workflow is named, started, signalled and asked how far it is.

// workflowID names test id's workflow.
func workflowID(id int64) string { return contract.WorkflowID(id) }

// startWorkflow starts test id's PerfTest workflow.
func (s *Service) startWorkflow(ctx context.Context, id int64, framework, commit, branch string) error {
	opts := client.StartWorkflowOptions{
		ID:                    contract.WorkflowID(id),
		TaskQueue:             contract.CentralQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}
	if s.searchAttributes.Load() {
		opts.TypedSearchAttributes = contract.StartAttributes(id, framework, commit, branch)
	}
	_, err := s.Temporal.ExecuteWorkflow(ctx, opts, contract.PerfTestWorkflow, contract.PerfTestInput{TestID: id})
	return err
}

// signalAbort asks test id's workflow to stop.
func (s *Service) signalAbort(ctx context.Context, id int64, reason string) error {
	return s.Temporal.SignalWorkflow(ctx, contract.WorkflowID(id), "", contract.SignalAbort,
		contract.AbortRequest{Reason: reason})
}

// queryProgress asks test id's workflow how far its runs are, waiting at
// most a second for the answer.
func (s *Service) queryProgress(ctx context.Context, id int64) (*contract.Progress, error) {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	v, err := s.Temporal.QueryWorkflow(qctx, contract.WorkflowID(id), "", contract.QueryProgress)
	if err != nil {
		return nil, err
	}
	var p contract.Progress
	if err := v.Get(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// RegisterSearchAttributes registers Pitwall's search attributes in the
// namespace, retrying while Temporal comes up; tests started before it
// succeeds simply have none.
func (s *Service) RegisterSearchAttributes(ctx context.Context, namespace string) {
	for delay := 500 * time.Millisecond; ; delay = min(delay*2, 30*time.Second) {
		err := contract.RegisterSearchAttributes(ctx, s.Temporal, namespace)
		if err == nil {
			s.searchAttributes.Store(true)
			return
		}
		if status.Code(err) == codes.PermissionDenied || status.Code(err) == codes.Unimplemented {
			s.Log.Warn("search attributes not registered; tests will not be searchable in the Temporal UI", "error", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}
