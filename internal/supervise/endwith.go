package supervise

import "syscall"

// endedWith says whether the run the spec's EndWith names is over: its
// supervisor has written a status or is gone. A run whose state cannot be
// read yet is not over.
func (s *supervisor) endedWith() bool {
	if s.spec.EndWith == "" {
		return false
	}
	r, err := Open(s.spec.EndWith)
	if err != nil {
		return false
	}
	if _, ok := r.Status(); ok {
		return true
	}
	return !r.Alive()
}

// checkEndWith ends this run once the run it goes with is over, so that a
// companion (an interference generator beside a script) never outlives
// it, even while no agent is there to stop it.
func (s *supervisor) checkEndWith() {
	if s.status.Stopped || !s.endedWith() {
		return
	}
	s.status.Stopped, s.status.EndedWith = true, true
	s.killTree(syscall.SIGKILL)
}
