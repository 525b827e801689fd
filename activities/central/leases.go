package central

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/workflows/contract"
)

// A host's lease lives in the database (store.LeaseTake): a test takes a
// free host at once, or queues; the holder's ReleaseLeases hands the host
// to the next request and signals that request's workflow (SignalLease).
// SweepLeases mends what a crash between those two steps, or a workflow
// that ended without giving its hosts back, left behind.

// LeaseTake takes the host for the request, or queues the request.
func (a *Activities) LeaseTake(ctx context.Context, in contract.LeaseRequestInput) (contract.LeaseEvent, error) {
	r := in.Request
	holder, err := a.Store.LeaseTake(ctx, in.Host, store.LeaseRequest{TestID: r.TestID, WorkflowID: r.WorkflowID,
		Priority: r.Priority, MaxWait: a.PriorityMaxWait})
	if err != nil {
		return contract.LeaseEvent{}, err
	}
	if holder == r.TestID {
		return contract.LeaseEvent{Host: in.Host, Granted: true}, nil
	}
	return contract.LeaseEvent{Host: in.Host, Holder: holder}, nil
}

// LeaseAcquire takes the host or queues the request, and signals a grant
// at once to the requester, which waits for it.
func (a *Activities) LeaseAcquire(ctx context.Context, in contract.LeaseRequestInput) error {
	ev, err := a.LeaseTake(ctx, in)
	if err != nil || !ev.Granted {
		return err
	}
	if err := a.Temporal.SignalWorkflow(ctx, in.Request.WorkflowID, "", contract.SignalLease, ev); err != nil {
		return fmt.Errorf("grant %s to test %d: %w", in.Host, in.Request.TestID, err)
	}
	return nil
}

// ReleaseLeases gives a test's hosts back: each goes to its next request,
// which is told. Called again after a failure, it gives back nothing more
// and tells a holder that was not told yet.
func (a *Activities) ReleaseLeases(ctx context.Context, in contract.ReleaseLeasesInput) error {
	for _, h := range in.Hosts {
		if err := a.giveBack(ctx, h, in.TestID); err != nil {
			return err
		}
	}
	return nil
}

// giveBack takes testID off host and tells the host's next holder; a
// holder whose workflow is gone gives the host back in turn.
func (a *Activities) giveBack(ctx context.Context, host string, testID int64) error {
	g, err := a.Store.LeaseGiveBack(ctx, host, testID)
	for err == nil && g != nil {
		ev := contract.LeaseEvent{Host: host, Granted: true, Promoted: g.Promoted, Waited: g.Waited}
		serr := a.Temporal.SignalWorkflow(ctx, g.WorkflowID, "", contract.SignalLease, ev)
		var nf *serviceerror.NotFound
		switch {
		case errors.As(serr, &nf):
			a.log().Warn("lease holder gone", "host", host, "test", g.TestID, "workflow", g.WorkflowID)
			g, err = a.Store.LeaseGiveBack(ctx, host, g.TestID)
		case serr != nil:
			return fmt.Errorf("grant %s to test %d: %w", host, g.TestID, serr)
		default:
			if g.Promoted {
				a.log().Info("lease promoted", "host", host, "test", g.TestID, "waited", g.Waited)
			}
			return a.Store.LeaseTold(ctx, host, g.TestID)
		}
	}
	if err != nil {
		return fmt.Errorf("give back %s: %w", host, err)
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

// WorkflowRunning reports whether a workflow is still running, so a lease
// held by a test that ended without releasing it can be reclaimed.
func (a *Activities) WorkflowRunning(ctx context.Context, workflowID string) (bool, error) {
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return false, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	return d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// SweepLeases mends the leases of holders that took their host more than
// age ago: a holder whose grant was not told (its releaser stopped in
// between) is told now, and a holder whose workflow is no longer running
// (it ended without giving the host back: terminated, or its release
// failed for good) gives the host back, to the next request. It returns
// how many leases it mended. Rows a HostLease workflow recorded (no
// workflow ID) are that workflow's to check. (A function, not a method:
// every exported method of Activities is an activity.)
func SweepLeases(ctx context.Context, a *Activities, age time.Duration) (int, error) {
	holders, err := a.Store.LeaseHolders(ctx, time.Now().Add(-age))
	if err != nil {
		return 0, fmt.Errorf("list lease holders: %w", err)
	}
	mended := 0
	for _, h := range holders {
		if h.WorkflowID == "" {
			continue
		}
		running, err := a.WorkflowRunning(ctx, h.WorkflowID)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return mended, err
		}
		switch {
		case !running:
			a.log().Warn("reclaiming lease of an ended test", "host", h.Host, "test", h.TestID, "workflow", h.WorkflowID)
		case !h.Told:
			a.log().Warn("telling a lease holder of its grant again", "host", h.Host, "test", h.TestID)
		default:
			continue
		}
		// Giving back a holder that runs changes nothing but telling it.
		id := h.TestID
		if running {
			id = 0
		}
		if err := a.giveBack(ctx, h.Host, id); err != nil {
			return mended, err
		}
		mended++
	}
	return mended, nil
}

// SweepLeasesEvery runs SweepLeases every period (over holders older than
// period) until ctx ends.
func SweepLeasesEvery(ctx context.Context, a *Activities, period time.Duration, log *slog.Logger) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := SweepLeases(ctx, a, period)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("lease sweep", "error", err)
		case n > 0:
			log.Info("lease sweep", "mended", n)
		}
	}
}
