package agent

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pitwall/pitwall/internal/supervise"
)

// Defaults of the sweep of orphans.
const (
	// DefaultReattachWindow is a little more than the time PerfTest gives a
	// lost agent to pick a retried Execute up (its schedule-to-start
	// timeout): a script nobody can claim after that is stopped.
	DefaultReattachWindow = 6 * time.Minute
	// DefaultIdleKeep keeps a test's files an hour after its last activity
	// on the agent when no cleanup came (the test ended while the agent
	// was away).
	DefaultIdleKeep = time.Hour
	sweepEvery      = 30 * time.Second
)

// Prepare readies the agent's work directory: the directory scripts reach
// their tests through (any test user may pass through it, none may list
// or write it) and the runs directory, the agent's alone. It runs before
// the agent takes work. (A function, not a method: every method of
// Activities that Register knows is an activity.)
func Prepare(a *Activities) error {
	if err := os.MkdirAll(a.WorkDir, 0o711); err != nil {
		return err
	}
	for dir, mode := range map[string]os.FileMode{
		a.WorkDir:                         0o711,
		filepath.Join(a.WorkDir, "tests"): 0o711,
		filepath.Join(a.WorkDir, "runs"):  0o700,
	} {
		if err := os.MkdirAll(dir, mode); err != nil {
			return err
		}
		if err := os.Chmod(dir, mode); err != nil {
			return err
		}
	}
	return nil
}

// Sweep ends what no test will claim, every sweepEvery until ctx ends:
// a script whose supervisor runs on with no Execute waiting for it for
// longer than the re-attach window (its agent restarted and the test gave
// up on it) is stopped, and a test whose files saw no activity for
// IdleKeep is removed with them. What the agent finds on disk when it
// starts counts from then: a restarted agent's scripts have the whole
// window for their Execute to come back.
func Sweep(ctx context.Context, a *Activities) {
	unclaimed := map[string]time.Time{}
	for {
		sweepOnce(a, unclaimed, time.Now())
		SweepContainers(ctx, a)
		select {
		case <-ctx.Done():
			return
		case <-time.After(sweepEvery):
		}
	}
}

// sweepOnce is one pass of Sweep; unclaimed is when each live run was
// first seen with no Execute waiting for it.
func sweepOnce(a *Activities, unclaimed map[string]time.Time, now time.Time) {
	window, idle := a.ReattachWindow, a.IdleKeep
	if window <= 0 {
		window = DefaultReattachWindow
	}
	if idle <= 0 {
		idle = DefaultIdleKeep
	}
	seen := map[string]bool{}
	for _, id := range a.testsOnDisk(now) {
		for _, run := range a.runsOf(id) {
			if !run.Alive() || a.waitedFor(id, run) {
				continue
			}
			seen[run.Dir] = true
			if first, ok := unclaimed[run.Dir]; !ok {
				unclaimed[run.Dir] = now
			} else if now.Sub(first) > window {
				a.logger().Warn("stopping a script no Execute claimed", "test", id, "run", filepath.Base(run.Dir), "since", first)
				_ = run.Stop()
			}
		}
		a.sweepInterference(id)
		if a.idle(id, now, idle) {
			a.logger().Warn("removing a test's files: no activity and no cleanup came", "test", id)
			if err := a.removeTest(id); err == nil {
				a.state.forget(id)
			}
		}
	}
	for dir := range unclaimed {
		if !seen[dir] {
			delete(unclaimed, dir)
		}
	}
}

// testsOnDisk lists the tests with files on the agent, noting those it
// did not know of as used now.
func (a *Activities) testsOnDisk(now time.Time) []int64 {
	var ids []int64
	found := map[int64]bool{}
	for _, sub := range []string{"tests", "runs"} {
		entries, _ := os.ReadDir(filepath.Join(a.WorkDir, sub))
		for _, e := range entries {
			id, err := strconv.ParseInt(e.Name(), 10, 64)
			if err != nil || found[id] {
				continue
			}
			found[id] = true
			ids = append(ids, id)
		}
	}
	s := &a.state
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usage == nil {
		s.usage = map[int64]*usage{}
	}
	for _, id := range ids {
		if s.usage[id] == nil {
			s.usage[id] = &usage{last: now}
		}
	}
	return ids
}

// waitedFor says whether an Execute of this agent is waiting for the run.
func (a *Activities) waitedFor(testID int64, run *supervise.Run) bool {
	waited := false
	a.state.with(testID, func(ts *testState) {
		waited = ts.script != nil && ts.script.run.Dir == run.Dir
	})
	return waited
}

// idle says whether a test had no activity on the agent for d and none runs.
func (a *Activities) idle(testID int64, now time.Time, d time.Duration) bool {
	s := &a.state
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.usage[testID]
	return u != nil && u.running == 0 && now.Sub(u.last) > d
}
