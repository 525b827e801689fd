package tests

import (
	"context"
	"fmt"
	"time"

	"github.com/pitwall/pitwall/internal/wire"
)

// Live is how far a running test is: its stage, which run, the KPIs of
// the iterations already collected, and how long such a test takes.
type Live struct {
	// Stage is the latest step: one the workflow has not stored yet (a
	// run's start or end), else the timeline's last.
	Stage string
	// Run is the run under way counting warm-ups (0: not known, as for a
	// test on several hosts or before its first run).
	Run, Warmup, Repeat int
	// Iterations are the collected kept runs' KPIs.
	Iterations []LiveIteration
	// Expected is the median duration (creation to end) of the newest
	// finished tests of the framework with the same parameters; From how
	// many (0: no estimate).
	Expected time.Duration
	From     int
	// Hosts are a multi-host test's hosts and how far each is (none for
	// a test on one host); LoadStart is when its load started (zero
	// before the barrier).
	Hosts     []LiveHost
	LoadStart time.Time
}

// LiveHost is one host of a multi-host test while it runs.
type LiveHost struct {
	Role, Host string
	Serve      bool
	// State: preparing, ready, serving, running, ended, failed, stopped.
	State string
}

// LoadHosts is how many hosts run the load now (serve roles not counted)
// and how many play a load role.
func (l *Live) LoadHosts() (running, of int) {
	for _, h := range l.Hosts {
		if h.Serve {
			continue
		}
		of++
		if h.State == "running" {
			running++
		}
	}
	return running, of
}

// LiveIteration is one collected iteration's KPIs.
type LiveIteration struct {
	N    int
	KPIs []wire.KPI
}

// expectedFrom is how many earlier tests the expected duration is taken over.
const expectedFrom = 20

// Progress asks a running test's workflow how far it is (the answer is
// not stored: a query adds nothing to its history) and estimates its
// duration from earlier tests. t must be a test the principal may see.
// A workflow that does not answer within a second leaves the run and
// iterations unknown.
func (s *Service) Progress(ctx context.Context, t *wire.Test) (*Live, error) {
	l := &Live{}
	if n := len(t.Timeline); n > 0 {
		l.Stage = t.Timeline[n-1].Stage
	}
	var err error
	if l.Expected, l.From, err = s.Store.TypicalDuration(ctx, t.ID, expectedFrom); err != nil {
		return nil, fmt.Errorf("expected duration of test %d: %w", t.ID, err)
	}
	if wire.Ended(t.State) || s.Temporal == nil {
		return l, nil
	}
	p, err := s.queryProgress(ctx, t.ID)
	if err != nil {
		// Not started yet, ended meanwhile, or busy: the page shows what it knows.
		if s.Log != nil {
			s.Log.Debug("progress query", "test", t.ID, "error", err)
		}
		return l, nil
	}
	l.Run, l.Warmup, l.Repeat = p.Run, p.Warmup, p.Repeat
	if n := len(p.Stages); n > 0 {
		l.Stage = p.Stages[n-1].Name
	}
	for _, h := range p.Hosts {
		l.Hosts = append(l.Hosts, LiveHost{Role: h.Role, Host: h.Host, Serve: h.Serve, State: h.State})
	}
	l.LoadStart = p.LoadStart
	for _, it := range p.Iterations {
		li := LiveIteration{N: max(it.Iteration, 1)}
		for _, k := range it.KPIs {
			li.KPIs = append(li.KPIs, wire.KPI{Name: k.Name, Value: k.Value, Unit: k.Unit, Iteration: li.N})
		}
		l.Iterations = append(l.Iterations, li)
	}
	return l, nil
}
