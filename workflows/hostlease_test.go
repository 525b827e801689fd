package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

func TestNextInQueue(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	req := func(id int64, prio int, queued time.Duration) contract.LeaseRequest {
		return contract.LeaseRequest{TestID: id, Priority: prio, MaxWait: time.Minute, Queued: t0.Add(queued)}
	}
	cases := []struct {
		name     string
		queue    []contract.LeaseRequest
		at       time.Duration
		want     int64
		promoted bool
	}{
		{"first come first served within a priority", []contract.LeaseRequest{req(1, 0, 0), req(2, 0, 1), req(3, 0, 2)}, 0, 1, false},
		{"high before low", []contract.LeaseRequest{req(1, -1, 0), req(2, -1, 1), req(3, -1, 2), req(4, 1, 3)}, 10 * time.Second, 4, false},
		{"the oldest of the highest", []contract.LeaseRequest{req(1, 0, 0), req(2, 1, 1), req(3, 1, 2)}, 0, 2, false},
		{"a low one past its wait is promoted", []contract.LeaseRequest{req(1, -1, 0), req(2, -1, 1), req(3, 1, 2)}, time.Minute, 1, true},
		{"promotion goes oldest first, whatever the priority",
			[]contract.LeaseRequest{req(1, 0, 0), req(2, -1, 1), req(3, 1, 2)}, 2 * time.Minute, 1, true},
		{"overdue but nothing higher waits: plain order", []contract.LeaseRequest{req(1, 1, 0), req(2, 1, 1)}, time.Hour, 1, false},
		{"an overdue top priority request is no promotion", []contract.LeaseRequest{req(1, -1, 5*time.Second), req(2, 1, 0)}, 61 * time.Second, 2, false},
		{"requests without a limit are never promoted",
			[]contract.LeaseRequest{{TestID: 1, Priority: -1, Queued: t0}, req(2, 1, 1)}, time.Hour, 2, false},
		{"requests from before priorities keep their order",
			[]contract.LeaseRequest{{TestID: 1}, {TestID: 2}}, time.Hour, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i, promoted := nextInQueue(c.queue, t0.Add(c.at))
			require.Equal(t, c.want, c.queue[i].TestID)
			require.Equal(t, c.promoted, promoted)
		})
	}
}

// A busy host: test 1 holds it, three low tests and then a high one
// queue. The high one goes next; a low one that has waited MaxWait is
// promoted over a second high one and told so; the rest follow by priority.
func TestHostLeaseServesPriorityAndPromotes(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var (
		mu      sync.Mutex
		holders []int64
		granted []string
	)
	leaseFakes(env, func(wfID string, ev contract.LeaseEvent) {
		if ev.Granted {
			granted = append(granted, fmt.Sprintf("%s promoted=%v waited=%s", wfID, ev.Promoted, ev.Waited))
		}
	}, func(id int64) {
		mu.Lock()
		defer mu.Unlock()
		if id != 0 {
			holders = append(holders, id)
		}
	})
	req := func(id int64, prio int) contract.LeaseRequest {
		return contract.LeaseRequest{TestID: id, WorkflowID: contract.WorkflowID(id), Priority: prio, MaxWait: 10 * time.Minute}
	}
	at := func(d time.Duration, fn func()) { env.RegisterDelayedCallback(fn, d) }
	acquire := func(r contract.LeaseRequest) func() {
		return func() { env.SignalWorkflow(contract.SignalLeaseAcquire, r) }
	}
	release := func(id int64) func() {
		return func() { env.SignalWorkflow(contract.SignalLeaseRelease, contract.LeaseRelease{TestID: id}) }
	}
	at(time.Second, acquire(req(1, 0)))
	at(2*time.Second, acquire(req(2, -1)))
	at(3*time.Second, acquire(req(3, -1)))
	at(4*time.Second, acquire(req(4, -1)))
	at(5*time.Second, acquire(req(5, 1)))
	at(6*time.Minute, release(1))         // 5 (high) next
	at(7*time.Minute, acquire(req(6, 1))) // another high one
	at(12*time.Minute, release(5))        // 2 has waited 11m58s: promoted over 6
	at(13*time.Minute, release(2))        // 3 and 4 are overdue too: promoted in order
	at(14*time.Minute, release(3))        //
	at(15*time.Minute, release(4))        // 6 last
	at(16*time.Minute, release(6))        //
	at(17*time.Minute, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(HostLease, contract.HostLeaseInput{Host: "bench-01"})
	require.Equal(t, []int64{1, 5, 2, 3, 4, 6}, holders)
	require.Equal(t, []string{
		"perftest-1 promoted=false waited=0s",
		"perftest-5 promoted=false waited=0s",
		"perftest-2 promoted=true waited=11m58s",
		"perftest-3 promoted=true waited=12m57s",
		"perftest-4 promoted=true waited=13m56s",
		"perftest-6 promoted=false waited=0s",
	}, granted)
}

// A test that ended without giving its host back loses it at a holder
// check. One timer runs across holders: it checks a holder that has held
// the host for a whole period when it fires, so an ended holder is found
// between one and two periods after its grant, and holders of a moment
// are never checked.
func TestHostLeaseReclaimsFromAnEndedHolder(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var (
		mu      sync.Mutex
		checked []string
	)
	grants := map[int64]time.Time{}
	contract.LeaseRecord.Register(env, func(context.Context, contract.LeaseRecordInput) error { return nil })
	contract.LeaseGrant.Register(env, func(_ context.Context, in contract.LeaseGrantInput) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		grants[in.Request.TestID] = in.Since
		return true, nil
	})
	contract.WorkflowRunning.Register(env, func(_ context.Context, id string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		checked = append(checked, id)
		return id != contract.WorkflowID(3), nil // test 3 ended without releasing
	})
	req := func(id int64) contract.LeaseRequest {
		return contract.LeaseRequest{TestID: id, WorkflowID: contract.WorkflowID(id), Quiet: true}
	}
	at := func(d time.Duration, fn func()) { env.RegisterDelayedCallback(fn, d) }
	at(1*time.Second, func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(1)) })
	at(2*time.Second, func() { env.SignalWorkflow(contract.SignalLeaseRelease, contract.LeaseRelease{TestID: 1}) })
	at(3*time.Second, func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(2)) })
	at(4*time.Second, func() { env.SignalWorkflow(contract.SignalLeaseRelease, contract.LeaseRelease{TestID: 2}) })
	at(5*time.Second, func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(3)) })
	at(6*time.Second, func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(4)) })
	at(140*time.Second, func() { env.SignalWorkflow(contract.SignalLeaseRelease, contract.LeaseRelease{TestID: 4}) })
	at(150*time.Second, func() { env.CancelWorkflow() })
	env.ExecuteWorkflow(HostLease, contract.HostLeaseInput{Host: "bench-01"})
	mu.Lock()
	defer mu.Unlock()
	// The timer started with test 1's grant fired at 31 s (test 3 had held
	// the host 26 s: not checked) and at 61 s (56 s: checked, reclaimed);
	// test 4, running, at 91 and 121 s, and released at 140 s.
	require.Equal(t, []string{"perftest-3", "perftest-4", "perftest-4"}, checked)
	require.Equal(t, 56*time.Second, grants[4].Sub(grants[3]))
}

// The queue, with each request's priority and arrival, survives
// continue-as-new: it is the next run's input.
func TestHostLeaseKeepsPrioritiesAcrossContinueAsNew(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	leaseFakes(env, func(string, contract.LeaseEvent) {}, func(int64) {})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalLeaseAcquire, contract.LeaseRequest{TestID: 1, WorkflowID: "perftest-1"})
		env.SignalWorkflow(contract.SignalLeaseAcquire, contract.LeaseRequest{TestID: 2, WorkflowID: "perftest-2", Priority: -1, MaxWait: time.Hour})
		// Enough requests and releases of a third test to reach the limit.
		for range maxLeaseSignals / 2 {
			env.SignalWorkflow(contract.SignalLeaseAcquire, contract.LeaseRequest{TestID: 3, WorkflowID: "perftest-3", Priority: 1})
			env.SignalWorkflow(contract.SignalLeaseRelease, contract.LeaseRelease{TestID: 3})
		}
	}, time.Second)
	env.ExecuteWorkflow(HostLease, contract.HostLeaseInput{Host: "bench-01"})
	err := env.GetWorkflowError()
	require.Error(t, err)
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can)
	var next contract.HostLeaseInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, int64(1), next.Holder.TestID)
	require.Len(t, next.Queue, 1)
	require.Equal(t, -1, next.Queue[0].Priority)
	require.Equal(t, time.Hour, next.Queue[0].MaxWait)
	require.False(t, next.Queue[0].Queued.IsZero(), "the wait goes on counting from the first arrival")
}

// leaseFakes stand in for what a lease workflow does outside itself: tell
// a test (a grant, or a notice) and record the holder. A grant is one
// local activity (LeaseGrant) in the lean version, a signal and a
// LeaseRecord before it; both reach told and recorded alike.
func leaseFakes(env *testsuite.TestWorkflowEnvironment, told func(wfID string, ev contract.LeaseEvent), recorded func(testID int64)) {
	var mu sync.Mutex
	contract.LeaseRecord.Register(env, func(_ context.Context, in contract.LeaseRecordInput) error {
		recorded(in.TestID)
		return nil
	})
	contract.LeaseGrant.Register(env, func(_ context.Context, in contract.LeaseGrantInput) (bool, error) {
		mu.Lock()
		told(in.Request.WorkflowID, in.Event)
		mu.Unlock()
		recorded(in.Request.TestID)
		return true, nil
	})
	contract.WorkflowRunning.Register(env, func(context.Context, string) (bool, error) { return true, nil })
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", contract.SignalLease, mock.Anything).
		Return(func(_, wfID, _, _ string, arg any) error {
			mu.Lock()
			told(wfID, arg.(contract.LeaseEvent))
			mu.Unlock()
			return nil
		})
}
