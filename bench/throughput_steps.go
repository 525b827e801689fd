package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/pitwall/pitwall/workflows/contract"
)

// stepsReport is where a round's tests spent their time on their host and
// what Temporal work each cost, read from the workflows' histories after
// the round (so reading them costs the round nothing).
type stepsReport struct {
	// tests is how many tests' histories were read.
	tests int
	// per test: PerfTest's workflow tasks, activity tasks, local
	// activities (markers) and history events; the same for the lease
	// workflows and the Notify workflows, summed over the round and
	// divided by its tests.
	wft, act, markers, events             float64
	leaseWFT, leaseEvents                 float64
	notifyWorkflows, notifyWFT, notifyAct float64
	// slowEvals counts Notify workflows whose alerts evaluation took over
	// 5 s (not divided by the tests).
	slowEvals                          int
	cycle, handoff, granted, queueWait float64
	// gaps are the mean milliseconds a test spent between two consecutive
	// events of its history from the grant on, by the pair's names.
	gaps map[string]float64
	// leaseGaps are the same for the lease workflows' events in the round.
	leaseGaps map[string]float64
	// slowest are the round's longest hand-offs, longest first (at most
	// slowestKept), each with the next test's history: a stalled round
	// says where it waited.
	slowest []handOff
	// longest is the round's longest hand-off.
	longest time.Duration
}

// handOff is one host's wait from a test's end to the next test's grant.
type handOff struct {
	host       string
	prev, next int64
	wait       time.Duration
	// prevClose is when the previous test's workflow completed; timeline
	// is the next test's events, their times from prevClose.
	prevClose time.Time
	timeline  string
}

// slowestKept is how many of the longest hand-offs a round reports;
// slowHandOff is the shortest one worth reporting.
const (
	slowestKept = 3
	slowHandOff = 2 * time.Second
)

// eventName is an event's type, shortened, with the activity's or
// signal's name where there is one.
func eventName(ev *historypb.HistoryEvent, acts map[int64]string) string {
	name := ev.GetEventType().String() // WorkflowTaskStarted
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		acts[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		return name + "(" + acts[ev.GetEventId()] + ")"
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
		return name + "(" + acts[ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()] + ")"
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		return name + "(" + acts[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()] + ")"
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		return name + "(" + ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() + ")"
	}
	return name
}

// history reads a workflow's events (nil when it has none).
func history(ctx context.Context, e *env, id string) ([]*historypb.HistoryEvent, error) {
	it := e.st.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var evs []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			if strings.Contains(err.Error(), "not found") {
				return nil, nil
			}
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// readSteps reads the histories of a round's tests, their Notify
// workflows and the lease workflows of the hosts they ran on.
func readSteps(ctx context.Context, e *env, ids []int64, from, to time.Time) (*stepsReport, error) {
	r := &stepsReport{gaps: map[string]float64{}, leaseGaps: map[string]float64{}}
	type run struct {
		id             int64
		host           string
		grant, closeAt time.Time
	}
	var runs []run
	rows, err := e.st.Pool.Query(ctx, `SELECT id, host FROM tests WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	hostOf := map[int64]string{}
	for rows.Next() {
		var id int64
		var h string
		if err := rows.Scan(&id, &h); err != nil {
			rows.Close()
			return nil, err
		}
		hostOf[id] = h
	}
	rows.Close()
	for _, id := range ids {
		evs, err := history(ctx, e, contract.WorkflowID(id))
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			continue
		}
		r.tests++
		r.events += float64(len(evs))
		acts := map[int64]string{}
		var grant, closeAt time.Time
		var prev *historypb.HistoryEvent
		prevName := ""
		for _, ev := range evs {
			name := eventName(ev, acts)
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
				r.wft++
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				r.act++
			case enumspb.EVENT_TYPE_MARKER_RECORDED:
				r.markers++
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				if grant.IsZero() && ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == contract.SignalLease {
					grant = ev.GetEventTime().AsTime()
					r.queueWait += grant.Sub(evs[0].GetEventTime().AsTime()).Seconds()
				}
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
				closeAt = ev.GetEventTime().AsTime()
			}
			if !grant.IsZero() && prev != nil {
				r.gaps[prevName+" → "+name] += ev.GetEventTime().AsTime().Sub(prev.GetEventTime().AsTime()).Seconds() * 1000
			}
			if !grant.IsZero() {
				prev, prevName = ev, name
			}
		}
		if grant.IsZero() {
			// Taken at once (LeaseTake): granted in the first workflow
			// task. Its gaps are not counted above: they would mix in the
			// start.
			for _, ev := range evs {
				if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
					grant = ev.GetEventTime().AsTime()
					break
				}
			}
		}
		if !grant.IsZero() && !closeAt.IsZero() {
			runs = append(runs, run{id: id, host: hostOf[id], grant: grant, closeAt: closeAt})
			r.granted += closeAt.Sub(grant).Seconds()
		}
		nevs, err := history(ctx, e, contract.NotifyWorkflowID(id))
		if err != nil {
			return nil, err
		}
		if len(nevs) > 0 {
			r.notifyWorkflows++
		}
		var evalStart time.Time
		for _, ev := range nevs {
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
				r.notifyWFT++
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				r.notifyAct++
				if evalStart.IsZero() {
					evalStart = ev.GetEventTime().AsTime()
				}
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED, enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
				if !evalStart.IsZero() {
					// The first activity is the evaluation: over 5 s it
					// waited on something (a pool connection, a lock).
					if d := ev.GetEventTime().AsTime().Sub(evalStart); d > 5*time.Second {
						r.slowEvals++
					}
					evalStart = time.Time{}
				}
			}
		}
	}
	// A host's cycle: from one test's end to the next's, split into the
	// hand-off (an end to the next grant) and the granted test's own time.
	hosts := map[string][]run{}
	for _, x := range runs {
		hosts[x.host] = append(hosts[x.host], x)
	}
	var cycles int
	for h, rs := range hosts {
		sort.Slice(rs, func(i, j int) bool { return rs[i].grant.Before(rs[j].grant) })
		for i := 1; i < len(rs); i++ {
			r.cycle += rs[i].closeAt.Sub(rs[i-1].closeAt).Seconds()
			wait := rs[i].grant.Sub(rs[i-1].closeAt)
			r.handoff += wait.Seconds()
			r.longest = max(r.longest, wait)
			cycles++
			if wait >= slowHandOff {
				r.slowest = append(r.slowest, handOff{host: h, prev: rs[i-1].id, next: rs[i].id, wait: wait, prevClose: rs[i-1].closeAt})
			}
		}
		evs, err := history(ctx, e, contract.LeaseWorkflowID(h))
		if err != nil {
			return nil, err
		}
		acts := map[int64]string{}
		var prev *historypb.HistoryEvent
		prevName := ""
		for _, ev := range evs {
			at := ev.GetEventTime().AsTime()
			name := eventName(ev, acts)
			if at.Before(from) || at.After(to) {
				continue
			}
			r.leaseEvents++
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED {
				r.leaseWFT++
			}
			if prev != nil {
				r.leaseGaps[prevName+" → "+name] += at.Sub(prev.GetEventTime().AsTime()).Seconds() * 1000
			}
			prev, prevName = ev, name
		}
	}
	slices.SortFunc(r.slowest, func(a, b handOff) int { return cmp.Compare(b.wait, a.wait) })
	r.slowest = r.slowest[:min(len(r.slowest), slowestKept)]
	for i := range r.slowest {
		if r.slowest[i].timeline, err = timeline(ctx, e, r.slowest[i].next, r.slowest[i].prevClose); err != nil {
			return nil, err
		}
	}
	if r.tests == 0 {
		return r, nil
	}
	n := float64(r.tests)
	for _, p := range []*float64{&r.wft, &r.act, &r.markers, &r.events, &r.leaseWFT, &r.leaseEvents,
		&r.notifyWorkflows, &r.notifyWFT, &r.notifyAct, &r.queueWait} {
		*p /= n
	}
	if len(runs) > 0 {
		r.granted /= float64(len(runs))
	}
	if cycles > 0 {
		r.cycle /= float64(cycles)
		r.handoff /= float64(cycles)
	}
	for k := range r.gaps {
		r.gaps[k] /= n
	}
	for k := range r.leaseGaps {
		r.leaseGaps[k] /= n
	}
	return r, nil
}

// timeline is test id's history as event names and their times from
// since, one line each.
func timeline(ctx context.Context, e *env, id int64, since time.Time) (string, error) {
	evs, err := history(ctx, e, contract.WorkflowID(id))
	if err != nil {
		return "", err
	}
	acts := map[int64]string{}
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n        %+9.3f s  %s", ev.GetEventTime().AsTime().Sub(since).Seconds(), eventName(ev, acts))
	}
	return b.String(), nil
}

// log writes the report: the counts, the host cycle, and the largest gaps.
func (r *stepsReport) log(e *env, round int) {
	e.logf("throughput round %d steps (%d histories): per test %.1f PerfTest workflow tasks, %.1f activity tasks, %.1f local activities, %.1f events; "+
		"lease workflows %.1f workflow tasks, %.1f events; %.2f Notify workflows with %.1f workflow tasks and %.1f activity tasks (%d evaluations over 5 s)",
		round, r.tests, r.wft, r.act, r.markers, r.events, r.leaseWFT, r.leaseEvents, r.notifyWorkflows, r.notifyWFT, r.notifyAct, r.slowEvals)
	e.logf("throughput round %d host cycle: %.0f ms a test = hand-off (end to next grant) %.0f ms + grant to end %.0f ms; queued before the grant %.2f s on average",
		round, r.cycle*1000, r.handoff*1000, r.granted*1000, r.queueWait)
	for _, h := range r.slowest {
		e.logf("throughput round %d: %s waited %s from test %d's end to test %d's grant; test %d's history from that end:%s",
			round, h.host, h.wait.Round(time.Millisecond), h.prev, h.next, h.next, h.timeline)
	}
	for _, part := range []struct {
		what string
		gaps map[string]float64
	}{{"PerfTest from the grant", r.gaps}, {"lease workflows, per test", r.leaseGaps}} {
		keys := make([]string, 0, len(part.gaps))
		for k := range part.gaps {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			switch {
			case part.gaps[a] > part.gaps[b]:
				return -1
			case part.gaps[a] < part.gaps[b]:
				return 1
			}
			return strings.Compare(a, b)
		})
		var b strings.Builder
		for _, k := range keys[:min(len(keys), 12)] {
			fmt.Fprintf(&b, "\n    %7.1f ms  %s", part.gaps[k], k)
		}
		e.logf("throughput round %d, %s, mean ms a test between events:%s", round, part.what, b.String())
	}
}
