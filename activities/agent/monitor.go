package agent

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/sampler"
	"github.com/pitwall/pitwall/workflows/contract"
)

// MonitorShip is how often sampled points go to the server, at most: a
// batch goes when it is this old or holds shipPoints points, whichever
// comes first, and at the end.
const MonitorShip = 2 * time.Second

// shipPoints is how many buffered points make a batch go before
// MonitorShip (a short interval, or many processes sampled).
const shipPoints = 4000

// maxBufferedPoints bounds what an agent holds while the server is away
// (about an hour of a busy host at 1 s); newer points are dropped past it.
const maxBufferedPoints = 2_000_000

// pointBuffer holds sampled points until the shipper takes them.
type pointBuffer struct {
	mu      sync.Mutex
	series  map[string]*ingest.Series
	n       int
	dropped int
}

func (b *pointBuffer) add(ms int64, pts []sampler.Point) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n+len(pts) > maxBufferedPoints {
		b.dropped += len(pts)
		return
	}
	if b.series == nil {
		b.series = map[string]*ingest.Series{}
	}
	for _, p := range pts {
		s := b.series[p.Metric]
		if s == nil {
			s = &ingest.Series{Metric: p.Metric}
			b.series[p.Metric] = s
		}
		s.TS = append(s.TS, ms)
		s.Values = append(s.Values, p.Value)
	}
	b.n += len(pts)
}

// size is how many points the buffer holds.
func (b *pointBuffer) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// take empties the buffer into a batch's series.
func (b *pointBuffer) take() []ingest.Series {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]ingest.Series, 0, len(b.series))
	for _, s := range b.series {
		out = append(out, *s)
	}
	b.series, b.n = nil, 0
	return out
}

// Monitor samples the host from /proc at the interval until StopMonitor
// (or cancellation) ends it, then flushes what it holds and returns. Points
// go to the server's ingest endpoint in batches, never into workflow
// history; sampling never waits for the server.
func (a *Activities) Monitor(ctx context.Context, in contract.MonitorInput) (*contract.MonitorResult, error) {
	if in.Interval <= 0 {
		in.Interval = time.Second
	}
	if in.ExecutionHost && in.ResultsDir == "" {
		// The Setup is folded into the first Execute: the results
		// directory is where that Setup puts it.
		in.ResultsDir = resultsDir(a.testDir(in.TestID))
	}
	m := &monitoring{a: a, ctx: ctx, in: in, s: sampler.New(), res: &contract.MonitorResult{}, buf: &pointBuffer{},
		grid: stampGrid{every: in.Interval}, pidsOf: &pidsFile{dir: in.ResultsDir}}
	defer m.s.Close()
	defer m.pidsOf.close()

	// The shipper sends what is buffered when the monitor says so, retrying
	// a batch until the server has it; a batch keeps its ID across retries.
	// It never holds sampling up: a batch asked for while one is on its way
	// goes when that one is through, with everything buffered by then.
	shipCtx, stopShipping := context.WithCancel(context.WithoutCancel(ctx))
	defer stopShipping()
	m.ship = make(chan struct{}, 1)
	flush := make(chan struct{})
	shipped := make(chan struct{})
	go func() {
		defer close(shipped)
		a.shipSamples(shipCtx, in.TestID, fmt.Sprintf("mon-%d", activity.GetInfo(ctx).Attempt), m.buf, m.ship, 0, flush)
	}()

	run := a.monitorStarted(in.TestID)
	defer a.monitorEnded(in.TestID, run)
	m.loop(run.stop)
	// Stopping flushes everything: the last sample, then what is held.
	m.take(time.Now())
	close(flush)
	a.awaitDelivery(shipped, "samples", in.TestID)
	m.buf.mu.Lock()
	m.res.Dropped = m.buf.dropped
	m.buf.mu.Unlock()
	return m.res, nil
}

// monitoring is one Monitor activity's state while it samples.
type monitoring struct {
	a      *Activities
	ctx    context.Context
	in     contract.MonitorInput
	s      *sampler.Sampler
	res    *contract.MonitorResult
	buf    *pointBuffer
	grid   stampGrid
	pidsOf *pidsFile
	// ship asks the shipper for a batch.
	ship               chan struct{}
	lastShip, lastBeat time.Time
	// ownBeats: the heartbeat has a timer of its own, not the ticks.
	ownBeats bool
}

// take samples the host and the PIDs the script names.
func (m *monitoring) take(now time.Time) {
	var pids []int
	if m.in.ResultsDir != "" {
		pids = slices.DeleteFunc(m.pidsOf.read(), func(pid int) bool { return !m.a.owns(m.in.TestID, pid) })
	}
	pts := m.s.Sample(now, pids)
	m.res.Samples++
	m.res.Points += len(pts)
	m.a.counted("host", len(pts))
	m.buf.add(m.grid.stamp(now), pts)
}

// loop samples until the activity's context ends or stop closes. One
// timer wakes it: each tick samples, asks for a batch when MonitorShip
// has passed or enough points wait, and heartbeats when
// HeartbeatInterval has passed. At a 1 s interval that timer is the
// agent's pulse, shared with its other once-a-second chores. An interval
// longer than HeartbeatInterval keeps a heartbeat timer of its own.
func (m *monitoring) loop(stop <-chan struct{}) {
	start := time.Now()
	m.take(start)
	m.lastShip, m.lastBeat = start, start
	var pulses <-chan struct{}
	var ticks <-chan time.Time
	onPulse := false
	if m.in.Interval == pulseEvery {
		c, stopListening := m.a.pulse.listen()
		defer stopListening()
		pulses = c
	} else {
		sample := time.NewTicker(m.in.Interval)
		defer sample.Stop()
		ticks = sample.C
	}
	var beats <-chan time.Time
	if m.in.Interval > HeartbeatInterval {
		beat := time.NewTicker(HeartbeatInterval)
		defer beat.Stop()
		beats = beat.C
		m.ownBeats = true
	}
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-stop:
			return
		case <-beats:
			activity.RecordHeartbeat(m.ctx, m.res.Samples)
		case <-pulses:
			now := time.Now()
			if !onPulse {
				// The pulse has a phase of its own: the grid moves to it at
				// the first pulse at least half an interval after the
				// first sample.
				if now.Sub(start) < m.in.Interval/2 {
					continue
				}
				m.grid.anchor(now)
				onPulse = true
			}
			m.tick(now)
		case now := <-ticks:
			m.tick(now)
		}
	}
}

// tick samples, and ships and heartbeats when they are due. A deadline is
// reached when it is less than half an interval away: a tick a little
// early still does what is due.
func (m *monitoring) tick(now time.Time) {
	due := func(last time.Time, every time.Duration) bool { return now.Sub(last) > every-m.in.Interval/2 }
	m.take(now)
	if due(m.lastShip, MonitorShip) || m.buf.size() >= shipPoints {
		select {
		case m.ship <- struct{}{}:
		default: // one is asked for already
		}
		m.lastShip = now
	}
	if !m.ownBeats && due(m.lastBeat, HeartbeatInterval) {
		activity.RecordHeartbeat(m.ctx, m.res.Samples)
		m.lastBeat = now
	}
}

// pidsFile reads a script's pids file (readPids) through its results
// directory, opened at the first read that finds it and kept open: a
// look at a directory without the file is one fstatat.
type pidsFile struct {
	dir  string
	root *os.Root
}

func (p *pidsFile) read() []int {
	if p.root == nil {
		root, err := openResultsDir(p.dir)
		if err != nil {
			return nil
		}
		p.root = root
	}
	return readPidsIn(p.root)
}

func (p *pidsFile) close() {
	if p.root != nil {
		p.root.Close()
	}
}

// stampGrid stamps samples on the monitor's grid: the first sample's time
// plus whole intervals. A sample taken within a twentieth of an interval
// of its grid point is stamped there, so a series' times are evenly
// spaced and their deltas compress to almost nothing (migration 00026);
// a late one keeps its own time, to the millisecond. Stamps only grow: a
// sample (the last one, taken at a stop) that would land on the previous
// sample's grid point keeps its own time.
type stampGrid struct {
	every time.Duration
	first time.Time
	last  int64
}

// anchor moves the grid to now: later samples are stamped at now plus
// whole intervals.
func (g *stampGrid) anchor(now time.Time) {
	g.first = now.Truncate(time.Millisecond)
}

func (g *stampGrid) stamp(now time.Time) int64 {
	if g.first.IsZero() || g.every <= 0 {
		g.first = now.Truncate(time.Millisecond)
		g.last = g.first.UnixMilli()
		return g.last
	}
	since := now.Sub(g.first)
	k := since.Round(g.every)
	at := now.UnixMilli()
	if d := since - k; d > -g.every/20 && d < g.every/20 && k%time.Millisecond == 0 {
		if on := g.first.Add(k).UnixMilli(); on > g.last {
			at = on
		}
	}
	at = max(at, g.last+1)
	g.last = at
	return at
}

// scriptPids are the PIDs the script lists in its pids file that belong
// to its running tree, as its supervisor knows it: a script could name
// anyone's process, and the monitor reports on the script's own only.
func (a *Activities) scriptPids(testID int64, resultsDir string) []int {
	return slices.DeleteFunc(readPids(resultsDir), func(pid int) bool { return !a.owns(testID, pid) })
}

// shipSamples sends what buf holds each time ship says so (or every
// every, when it is not 0), and once more when flush closes. Batch IDs
// start with name, which names the attempt (or the session), so a retried
// Monitor's batches are new ones.
func (a *Activities) shipSamples(ctx context.Context, testID int64, name string, buf *pointBuffer,
	ship <-chan struct{}, every time.Duration, flush <-chan struct{}) {
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	seq := 0
	for {
		final := false
		select {
		case <-ship:
		case <-tick:
		case <-flush:
			final = true
		}
		if series := buf.take(); len(series) > 0 {
			seq++
			b := ingest.Samples{Header: ingest.Header{TestID: testID, Host: a.Host, Batch: name + "-" + strconv.Itoa(seq)}, Series: series}
			if err := a.Ingest.Send(ctx, ingest.SamplesPath, b); err != nil && ctx.Err() == nil {
				a.logger().Warn("sample batch refused", "test", testID, "error", err)
			}
		}
		if final || ctx.Err() != nil {
			return
		}
	}
}

// monitorRun is a running Monitor: closing stop ends it; done is closed
// once it has flushed and is about to return.
type monitorRun struct {
	stop, done chan struct{}
}

// StopMonitor ends a test's monitor on this host at once, rather than at
// the next heartbeat that would carry a cancellation. The Monitor task may
// not have started yet (its task and the script's go out together, and a
// short script can end first): then the stop is kept, and that monitor
// takes one sample and ends as soon as it starts.
func (a *Activities) StopMonitor(ctx context.Context, testID int64) error {
	a.stopMonitor(testID)
	return nil
}

// stopMonitor stops the test's monitor and returns a channel closed when
// it has flushed (nil when none is running yet).
func (a *Activities) stopMonitor(testID int64) <-chan struct{} {
	var done chan struct{}
	a.state.with(testID, func(ts *testState) {
		if m := ts.monitor; m != nil {
			close(m.stop)
			ts.monitor = nil
			done = m.done
			return
		}
		ts.stoppedEarly = time.Now()
		a.state.expire(ts.stoppedEarly)
	})
	return done
}

func (a *Activities) monitorStarted(testID int64) *monitorRun {
	m := &monitorRun{stop: make(chan struct{}), done: make(chan struct{})}
	a.state.with(testID, func(ts *testState) {
		if !ts.stoppedEarly.IsZero() {
			ts.stoppedEarly = time.Time{}
			close(m.stop)
			return
		}
		ts.monitor = m
	})
	return m
}

func (a *Activities) monitorEnded(testID int64, m *monitorRun) {
	a.state.with(testID, func(ts *testState) {
		if ts.monitor == m {
			ts.monitor = nil
		}
	})
	close(m.done)
}
