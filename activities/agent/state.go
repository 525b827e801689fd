package agent

import (
	"context"
	"sync"
	"time"

	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/workflows/contract"
)

// keptFor is how long an agent keeps what it remembers for a later task of
// a test: a stop that came before its monitor, a result for a retry.
const keptFor = 10 * time.Minute

// state is everything an agent remembers about its tests between
// activities, in one place under one lock.
type state struct {
	mu    sync.Mutex
	tests map[int64]*testState
	// usage is when each test with files on this agent last had an
	// activity here, and how many run now: the sweep of orphans reads it.
	usage map[int64]*usage
	// attempts are the activities running here, by workflow run and
	// activity ID (shared by an activity's attempts): closed when done.
	attempts map[string]chan struct{}
}

// oneAttempt lets one attempt of an activity run on this agent at a time.
// Temporal starts a new attempt when the last one's heartbeat reached it
// late (a starved host), while that one may still be running here: the new
// one waits until it is done, calling wait meanwhile (a heartbeat), and
// then finds what it left (a kept result, a run to take over) instead of
// racing it (the new attempt found no trace of a run the old one was
// cleaning up, or had not set up yet, and reported the run lost). Call
// what it returns when the attempt ends.
func (s *state) oneAttempt(ctx context.Context, key string, wait func()) (func(), error) {
	mine := make(chan struct{})
	for {
		s.mu.Lock()
		if s.attempts == nil {
			s.attempts = map[string]chan struct{}{}
		}
		busy := s.attempts[key]
		if busy == nil {
			s.attempts[key] = mine
			s.mu.Unlock()
			return func() {
				s.mu.Lock()
				delete(s.attempts, key)
				s.mu.Unlock()
				close(mine)
			}, nil
		}
		s.mu.Unlock()
		tick := time.NewTicker(HeartbeatInterval)
	waiting:
		for {
			select {
			case <-busy:
				break waiting
			case <-tick.C:
				wait()
			case <-ctx.Done():
				tick.Stop()
				return nil, ctx.Err()
			}
		}
		tick.Stop()
	}
}

type usage struct {
	last    time.Time
	running int
}

// touch notes that an activity of the test runs; call what it returns
// when the activity ends.
func (a *Activities) touch(testID int64) func() {
	s := &a.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usage == nil {
		s.usage = map[int64]*usage{}
	}
	u := s.usage[testID]
	if u == nil {
		u = &usage{}
		s.usage[testID] = u
	}
	u.last = time.Now()
	u.running++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		u.last = time.Now()
		u.running--
	}
}

// forget drops what the agent knows of a test's usage once its files are gone.
func (s *state) forget(testID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.usage[testID]; u != nil && u.running == 0 {
		delete(s.usage, testID)
	}
}

// testState is what the agent remembers about one test.
type testState struct {
	// script is the running script or hook, for Kill.
	script *runningScript
	// monitor is the running Monitor, for StopMonitor.
	monitor *monitorRun
	// containers watches the test's containers, from ContainersUp on.
	containers *session
	// logLines counts the output lines stored; logDropped those over the cap.
	logLines, logDropped int
	// stoppedEarly is when a StopMonitor came before its Monitor started.
	stoppedEarly time.Time
	// collected is the result of a Collect that removed the test's
	// directory, for a retry of that Collect; collectedAt is when.
	collected   *contract.CollectResult
	collectedAt time.Time
	// ran is the result of an Execute whose folded Collect removed the
	// test's directory, for a retry of that Execute (kept as collected is).
	ran *contract.ExecuteResult
	// setupFailed is set when a folded Setup failed on this agent before
	// it made the test's directory, so that a retry sets up again.
	setupFailed bool
}

// runningScript is the run an Execute of the test is waiting for.
type runningScript struct {
	run *supervise.Run
}

// owns says whether pid belongs to the test's running script: a process of
// the tree its supervisor owns. A PID the script names counts only then.
func (a *Activities) owns(testID int64, pid int) bool {
	var run *supervise.Run
	a.state.with(testID, func(ts *testState) {
		if ts.script != nil {
			run = ts.script.run
		}
	})
	return run != nil && run.Owns(pid)
}

// with runs fn on the test's state under the lock. A state left empty is
// forgotten; kept values older than keptFor go when a new one is kept.
func (s *state) with(testID int64, fn func(*testState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tests == nil {
		s.tests = map[int64]*testState{}
	}
	ts := s.tests[testID]
	if ts == nil {
		ts = &testState{}
		s.tests[testID] = ts
	}
	fn(ts)
	if ts.empty() {
		delete(s.tests, testID)
	}
}

// expire drops kept values older than keptFor; the caller holds s.mu.
func (s *state) expire(now time.Time) {
	for id, ts := range s.tests {
		if !ts.stoppedEarly.IsZero() && now.Sub(ts.stoppedEarly) > keptFor {
			ts.stoppedEarly = time.Time{}
		}
		if (ts.collected != nil || ts.ran != nil) && now.Sub(ts.collectedAt) > keptFor {
			ts.collected, ts.ran, ts.collectedAt = nil, nil, time.Time{}
		}
		if ts.empty() {
			delete(s.tests, id)
		}
	}
}

func (ts *testState) empty() bool {
	return ts.script == nil && ts.monitor == nil && ts.containers == nil && ts.logLines == 0 && ts.logDropped == 0 &&
		ts.stoppedEarly.IsZero() && ts.collected == nil && ts.ran == nil && !ts.setupFailed
}

// keepCollected remembers the result of a Collect that cleaned up.
func (s *state) keepCollected(testID int64, res *contract.CollectResult) {
	s.with(testID, func(ts *testState) {
		ts.collected, ts.collectedAt = res, time.Now()
		s.expire(ts.collectedAt)
	})
}

// keepRan remembers the result of an Execute whose folded Collect cleaned up.
func (s *state) keepRan(testID int64, res *contract.ExecuteResult) {
	s.with(testID, func(ts *testState) {
		ts.ran, ts.collectedAt = res, time.Now()
		s.expire(ts.collectedAt)
	})
}
