package agent

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/sampler"
	"github.com/pitwall/pitwall/workflows/contract"
)

// monitorShip is how often sampled points go to the server.
const monitorShip = time.Second

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
	s := sampler.New()
	defer s.Close()
	res := &contract.MonitorResult{}
	buf := &pointBuffer{}
	grid := stampGrid{every: in.Interval}
	take := func() {
		now := time.Now()
		var pids []int
		if in.ResultsDir != "" {
			pids = a.scriptPids(in.TestID, in.ResultsDir)
		}
		pts := s.Sample(now, pids)
		res.Samples++
		res.Points += len(pts)
		a.counted("host", len(pts))
		buf.add(grid.stamp(now), pts)
	}

	// The shipper sends what is buffered every second, retrying a batch
	// until the server has it; a batch keeps its ID across retries.
	shipCtx, stopShipping := context.WithCancel(context.WithoutCancel(ctx))
	defer stopShipping()
	flush := make(chan struct{})
	shipped := make(chan struct{})
	go func() {
		defer close(shipped)
		a.shipSamples(shipCtx, in.TestID, fmt.Sprintf("mon-%d", activity.GetInfo(ctx).Attempt), buf, flush)
	}()

	run := a.monitorStarted(in.TestID)
	defer a.monitorEnded(in.TestID, run)
	take()
	sample := time.NewTicker(in.Interval)
	defer sample.Stop()
	beat := time.NewTicker(HeartbeatInterval)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
		case <-run.stop:
		case <-sample.C:
			take()
			continue
		case <-beat.C:
			activity.RecordHeartbeat(ctx, res.Samples)
			continue
		}
		// Stopping flushes everything: the last sample, then what is held.
		take()
		close(flush)
		a.awaitDelivery(shipped, "samples", in.TestID)
		buf.mu.Lock()
		res.Dropped = buf.dropped
		buf.mu.Unlock()
		return res, nil
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

// shipSamples sends what buf holds every monitorShip, and once more when
// flush closes. Batch IDs start with name, which names the attempt (or
// the session), so a retried Monitor's batches are new ones.
func (a *Activities) shipSamples(ctx context.Context, testID int64, name string, buf *pointBuffer, flush <-chan struct{}) {
	seq := 0
	tick := time.NewTicker(monitorShip)
	defer tick.Stop()
	for {
		final := false
		select {
		case <-tick.C:
		case <-flush:
			final = true
		}
		if series := buf.take(); len(series) > 0 {
			seq++
			b := ingest.Samples{Header: ingest.Header{TestID: testID, Host: a.Host, Batch: fmt.Sprintf("%s-%d", name, seq)}, Series: series}
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
