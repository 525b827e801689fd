package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/activities"
)

// holderCheck is how often a lease workflow checks that the test holding
// its host is still running, to reclaim a lease a test could not release.
const holderCheck = 30 * time.Second

// versionLocal is the version of HostLease from which its central steps
// run as local activities.
const versionLocal = "local-central"

// maxLeaseSignals bounds one run's history; the workflow continues as new
// with its state after this many requests and releases.
const maxLeaseSignals = 500

// HostLease guards one host (workflow ID LeaseWorkflowID(host)): it grants
// the host to one test at a time, in the order the requests arrived. Tests
// ask with SignalLeaseAcquire (through the LeaseRequest activity, which
// starts this workflow when needed) and give back with SignalLeaseRelease;
// they hear back on SignalLease.
func HostLease(ctx workflow.Context, in activities.HostLeaseInput) error {
	l := &hostLease{HostLeaseInput: in}
	return l.run(ctx)
}

type hostLease struct {
	activities.HostLeaseInput
	// local runs LeaseRecord and WorkflowRunning as local activities,
	// sends "queued behind" notices without waiting for each, and records
	// a release only when nobody takes the host at once.
	local bool
	// notices are queued-behind signals not yet known to be delivered.
	notices []workflow.Future
	// released is set when the holder gave the host back and that is not
	// recorded yet.
	released bool
}

func (l *hostLease) run(ctx workflow.Context) error {
	l.local = workflow.GetVersion(ctx, versionLocal, workflow.DefaultVersion, 1) == 1
	acquire := workflow.GetSignalChannel(ctx, activities.SignalLeaseAcquire)
	release := workflow.GetSignalChannel(ctx, activities.SignalLeaseRelease)
	for handled := 0; ; handled++ {
		l.grant(ctx)
		if handled >= maxLeaseSignals || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Take in what has already arrived, so no signal is lost.
			for l.drain(ctx, acquire, release) {
			}
			l.grant(ctx)
			for _, f := range l.notices {
				_ = f.Get(ctx, nil)
			}
			return workflow.NewContinueAsNewError(ctx, HostLease, l.HostLeaseInput)
		}
		if len(l.notices) > 64 {
			l.notices = slices.DeleteFunc(l.notices, func(f workflow.Future) bool { return f.IsReady() })
		}
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(acquire, func(c workflow.ReceiveChannel, _ bool) {
			var r activities.LeaseRequest
			c.Receive(ctx, &r)
			l.acquire(ctx, r)
		})
		sel.AddReceive(release, func(c workflow.ReceiveChannel, _ bool) {
			var r activities.LeaseRelease
			c.Receive(ctx, &r)
			l.release(ctx, r.TestID)
		})
		tctx, cancelTimer := workflow.WithCancel(ctx)
		if l.Holder != nil {
			sel.AddFuture(workflow.NewTimer(tctx, holderCheck), func(workflow.Future) { l.checkHolder(ctx) })
		}
		sel.Select(ctx)
		cancelTimer()
	}
}

// drain handles one pending signal without blocking; false when none is left.
func (l *hostLease) drain(ctx workflow.Context, acquire, release workflow.ReceiveChannel) bool {
	var r activities.LeaseRequest
	if acquire.ReceiveAsync(&r) {
		l.acquire(ctx, r)
		return true
	}
	var rel activities.LeaseRelease
	if release.ReceiveAsync(&rel) {
		l.release(ctx, rel.TestID)
		return true
	}
	return false
}

func (l *hostLease) acquire(ctx workflow.Context, r activities.LeaseRequest) {
	if l.Holder != nil && l.Holder.TestID == r.TestID {
		// A retried request: say again that it is granted.
		l.tell(ctx, r, activities.LeaseEvent{Host: l.Host, Granted: true})
		return
	}
	for _, q := range l.Queue {
		if q.TestID == r.TestID {
			return
		}
	}
	l.Queue = append(l.Queue, r)
	if l.Holder == nil {
		return
	}
	ev := activities.LeaseEvent{Host: l.Host, Holder: l.Holder.TestID}
	if !l.local {
		l.tell(ctx, r, ev)
		return
	}
	// A notice only informs; a test that is gone is found when granted.
	l.notices = append(l.notices, workflow.SignalExternalWorkflow(ctx, r.WorkflowID, "", activities.SignalLease, ev))
}

func (l *hostLease) release(ctx workflow.Context, testID int64) {
	if l.Holder != nil && l.Holder.TestID == testID {
		l.Holder = nil
		if l.local {
			l.released = true // grant records it if nobody takes the host
		} else {
			l.record(ctx, 0)
		}
		return
	}
	for i, q := range l.Queue {
		if q.TestID == testID {
			l.Queue = append(l.Queue[:i:i], l.Queue[i+1:]...)
			return
		}
	}
}

// grant hands a free host to the first waiting test that is still there.
func (l *hostLease) grant(ctx workflow.Context) {
	for l.Holder == nil && len(l.Queue) > 0 {
		next := l.Queue[0]
		l.Queue = l.Queue[1:]
		if !l.tell(ctx, next, activities.LeaseEvent{Host: l.Host, Granted: true}) {
			continue // the test is gone
		}
		l.Holder = &next
		l.Since = workflow.Now(ctx)
		l.record(ctx, next.TestID)
		l.released = false
	}
	if l.released {
		l.record(ctx, 0)
		l.released = false
	}
}

// tell signals a test; false when the test's workflow is no longer running.
func (l *hostLease) tell(ctx workflow.Context, r activities.LeaseRequest, ev activities.LeaseEvent) bool {
	err := workflow.SignalExternalWorkflow(ctx, r.WorkflowID, "", activities.SignalLease, ev).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("lease holder unreachable", "host", l.Host, "test", r.TestID, "error", err)
		return false
	}
	return true
}

func (l *hostLease) checkHolder(ctx workflow.Context) {
	var running bool
	err := centralCall(ctx, l.local, localOptions, centralOptions, a.WorkflowRunning, l.Holder.WorkflowID).Get(ctx, &running)
	if err == nil && !running {
		workflow.GetLogger(ctx).Warn("reclaiming lease of an ended test", "host", l.Host, "test", l.Holder.TestID)
		l.release(ctx, l.Holder.TestID)
	}
}

func (l *hostLease) record(ctx workflow.Context, testID int64) {
	err := centralCall(ctx, l.local, localOptions, centralOptions, a.LeaseRecord,
		activities.LeaseRecordInput{Host: l.Host, TestID: testID, Since: workflow.Now(ctx)}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("record lease", "host", l.Host, "error", err)
	}
}
