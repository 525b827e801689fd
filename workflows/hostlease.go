package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// holderCheck is how often a lease workflow checks that the test holding
// its host is still running, to reclaim a lease a test could not release.
const holderCheck = 30 * time.Second

// maxLeaseSignals bounds one run's history; the workflow continues as new
// with its state after this many requests and releases.
const maxLeaseSignals = 500

// HostLease guards one host (workflow ID contract.LeaseWorkflowID(host)):
// it grants the host to one test at a time, higher priority first and in
// the order the requests arrived within a priority; a request that has
// waited its MaxWait is promoted ahead of every priority (next in). Tests ask with SignalLeaseAcquire (through the LeaseAcquire
// activity, which starts this workflow when needed) and give back with
// SignalLeaseRelease; they hear back on SignalLease. Like PerfTest, its
// shape changes from now on only behind workflow.GetVersion.
func HostLease(ctx workflow.Context, in contract.HostLeaseInput) error {
	l := &hostLease{HostLeaseInput: in}
	return l.run(ctx)
}

type hostLease struct {
	contract.HostLeaseInput
	// notices are queued-behind signals not yet known to be delivered.
	notices []workflow.Future
	// released is set when the holder gave the host back and that is not
	// recorded yet.
	released bool
	// lean is set for a run on the lean version (leanVersion): a grant is
	// one local activity (signal and record, no task for the signal's
	// delivery), and one holder check timer runs per holder, not one per
	// signal handled.
	lean bool
	// timer is the running holder check of the holder timerFor.
	timer     workflow.Future
	stopTimer workflow.CancelFunc
	timerFor  int64
	// oneTimer is set for a run on leaseTimerVersion: one holder check
	// timer runs while the host is held, whoever holds it, instead of one
	// per holder (started and cancelled for each test).
	oneTimer bool
}

// leaseTimerVersion is the version marker of the lease workflow's single
// holder-check timer (issue 22): a test that held the host for a moment
// cost a timer started and one cancelled (two events, a timer task and
// its later no-op firing); now the timer runs on across holders and, when
// it fires, checks whoever has held the host for a whole period.
const leaseTimerVersion = "lease-timer"

func (l *hostLease) run(ctx workflow.Context) error {
	l.lean = workflow.GetVersion(ctx, leanVersion, workflow.DefaultVersion, 1) == 1
	l.oneTimer = l.lean && workflow.GetVersion(ctx, leaseTimerVersion, workflow.DefaultVersion, 1) == 1
	acquire := workflow.GetSignalChannel(ctx, contract.SignalLeaseAcquire)
	release := workflow.GetSignalChannel(ctx, contract.SignalLeaseRelease)
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
			return workflow.NewContinueAsNewError(ctx, contract.HostLeaseWorkflow, l.HostLeaseInput)
		}
		if len(l.notices) > 64 {
			l.notices = slices.DeleteFunc(l.notices, func(f workflow.Future) bool { return f.IsReady() })
		}
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(acquire, func(c workflow.ReceiveChannel, _ bool) {
			var r contract.LeaseRequest
			c.Receive(ctx, &r)
			l.acquire(ctx, r)
		})
		sel.AddReceive(release, func(c workflow.ReceiveChannel, _ bool) {
			var r contract.LeaseRelease
			c.Receive(ctx, &r)
			l.release(ctx, r.TestID)
		})
		if l.lean {
			l.watchHolder(ctx, sel)
			sel.Select(ctx)
			continue
		}
		tctx, cancelTimer := workflow.WithCancel(ctx)
		if l.Holder != nil {
			sel.AddFuture(workflow.NewTimer(tctx, holderCheck), func(workflow.Future) { l.checkHolder(ctx) })
		}
		sel.Select(ctx)
		cancelTimer()
	}
}

// watchHolder adds the holder check to sel: one timer per holder, kept
// across the signals handled meanwhile (each new timer is a timer task
// for the server), started anew once it fired or the holder changed.
func (l *hostLease) watchHolder(ctx workflow.Context, sel workflow.Selector) {
	if l.oneTimer {
		l.watchHolders(ctx, sel)
		return
	}
	if l.timer != nil && (l.Holder == nil || l.timerFor != l.Holder.TestID) {
		l.stopTimer()
		l.timer, l.stopTimer = nil, nil
	}
	if l.Holder == nil {
		return
	}
	if l.timer == nil {
		tctx, cancel := workflow.WithCancel(ctx)
		l.timer, l.stopTimer, l.timerFor = workflow.NewTimer(tctx, holderCheck), cancel, l.Holder.TestID
	}
	sel.AddFuture(l.timer, func(workflow.Future) {
		l.timer, l.stopTimer = nil, nil
		l.checkHolder(ctx)
	})
}

// watchHolders adds the holder check to sel on leaseTimerVersion: one
// timer while the host is held, never cancelled; when it fires it checks
// the holder if that has held the host for a whole period (a newer holder
// waits for the next), and it starts again while the host is held. A
// holder is checked between one and two periods after its grant.
func (l *hostLease) watchHolders(ctx workflow.Context, sel workflow.Selector) {
	if l.timer == nil && l.Holder != nil {
		l.timer = workflow.NewTimer(ctx, holderCheck)
	}
	if l.timer == nil {
		return
	}
	sel.AddFuture(l.timer, func(workflow.Future) {
		l.timer = nil
		if l.Holder != nil && workflow.Now(ctx).Sub(l.Since) >= holderCheck {
			l.checkHolder(ctx)
		}
	})
}

// drain handles one pending signal without blocking; false when none is left.
func (l *hostLease) drain(ctx workflow.Context, acquire, release workflow.ReceiveChannel) bool {
	var r contract.LeaseRequest
	if acquire.ReceiveAsync(&r) {
		l.acquire(ctx, r)
		return true
	}
	var rel contract.LeaseRelease
	if release.ReceiveAsync(&rel) {
		l.release(ctx, rel.TestID)
		return true
	}
	return false
}

func (l *hostLease) acquire(ctx workflow.Context, r contract.LeaseRequest) {
	if l.Holder != nil && l.Holder.TestID == r.TestID {
		// A retried request: say again that it is granted.
		l.tell(ctx, r, contract.LeaseEvent{Host: l.Host, Granted: true})
		return
	}
	for _, q := range l.Queue {
		if q.TestID == r.TestID {
			return
		}
	}
	if r.Queued.IsZero() {
		r.Queued = workflow.Now(ctx)
	}
	l.Queue = append(l.Queue, r)
	if l.Holder == nil {
		return
	}
	// A test that recorded its waiting itself (from its host claim) needs
	// no notice: that saves it a signal, a workflow task and a state change.
	if r.Quiet && l.lean {
		return
	}
	// A notice only informs, so it is not waited for; a test that is gone
	// is found when granted.
	ev := contract.LeaseEvent{Host: l.Host, Holder: l.Holder.TestID}
	l.notices = append(l.notices, workflow.SignalExternalWorkflow(ctx, r.WorkflowID, "", contract.SignalLease, ev))
}

func (l *hostLease) release(ctx workflow.Context, testID int64) {
	if l.Holder != nil && l.Holder.TestID == testID {
		l.Holder = nil
		l.released = true // grant records it if nobody takes the host at once
		return
	}
	for i, q := range l.Queue {
		if q.TestID == testID {
			l.Queue = append(l.Queue[:i:i], l.Queue[i+1:]...)
			return
		}
	}
}

// grant hands a free host to the next waiting test (nextInQueue) that is
// still there.
func (l *hostLease) grant(ctx workflow.Context) {
	for l.Holder == nil && len(l.Queue) > 0 {
		now := workflow.Now(ctx)
		i, promoted := nextInQueue(l.Queue, now)
		next := l.Queue[i]
		l.Queue = slices.Delete(l.Queue, i, i+1)
		ev := contract.LeaseEvent{Host: l.Host, Granted: true}
		if promoted {
			ev.Promoted, ev.Waited = true, now.Sub(next.Queued)
			workflow.GetLogger(ctx).Info("lease promoted", "host", l.Host, "test", next.TestID, "waited", ev.Waited)
		}
		if l.lean {
			in := contract.LeaseGrantInput{Host: l.Host, Request: next, Event: ev, Since: now}
			ok, err := contract.LeaseGrant.ExecuteLocal(central(ctx), in).Result(ctx)
			if err != nil || !ok {
				workflow.GetLogger(ctx).Warn("lease holder unreachable", "host", l.Host, "test", next.TestID, "error", err)
				continue // the test is gone
			}
			l.Holder, l.Since, l.released = &next, now, false
			continue
		}
		if !l.tell(ctx, next, ev) {
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
func (l *hostLease) tell(ctx workflow.Context, r contract.LeaseRequest, ev contract.LeaseEvent) bool {
	err := workflow.SignalExternalWorkflow(ctx, r.WorkflowID, "", contract.SignalLease, ev).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("lease holder unreachable", "host", l.Host, "test", r.TestID, "error", err)
		return false
	}
	return true
}

func (l *hostLease) checkHolder(ctx workflow.Context) {
	running, err := contract.WorkflowRunning.ExecuteLocal(central(ctx), l.Holder.WorkflowID).Result(ctx)
	if err == nil && !running {
		workflow.GetLogger(ctx).Warn("reclaiming lease of an ended test", "host", l.Host, "test", l.Holder.TestID)
		l.release(ctx, l.Holder.TestID)
	}
}

func (l *hostLease) record(ctx workflow.Context, testID int64) {
	in := contract.LeaseRecordInput{Host: l.Host, TestID: testID, Since: workflow.Now(ctx)}
	err := contract.LeaseRecord.ExecuteLocal(central(ctx), in).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("record lease", "host", l.Host, "error", err)
	}
}

// nextInQueue chooses which waiting request gets the host: the highest
// priority, oldest first within it (the queue is in arrival order), unless
// a request of lower priority has waited its MaxWait: then the oldest such
// request is promoted and served first, and promoted is true so the test
// can say so. A promotion only ever jumps higher priorities; within one
// priority the order stays first come, first served.
//
// Requests from before priorities carry priority 0 and no MaxWait, so a
// queue of them is served exactly as before, in arrival order (which keeps
// recorded histories replaying without a version marker).
func nextInQueue(queue []contract.LeaseRequest, now time.Time) (i int, promoted bool) {
	best := 0
	for j, r := range queue {
		if r.Priority > queue[best].Priority {
			best = j
		}
	}
	for j, r := range queue {
		if r.Priority < queue[best].Priority && r.MaxWait > 0 && !r.Queued.IsZero() && now.Sub(r.Queued) >= r.MaxWait {
			return j, true
		}
	}
	return best, false
}
