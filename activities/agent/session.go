package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pitwall/pitwall/internal/containers"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/sampler"
	"github.com/pitwall/pitwall/internal/scrape"
)

// session is what watches a test's containers between ContainersUp and
// their removal: each container's output goes to the test's log, labelled
// with its name (app.stdout), its stats to series container.<name>.*, and
// a service's /metrics, scraped at the same interval, to
// container.<name>.prom.*. It lives in the agent's memory only: an agent
// that restarts sweeps the containers instead.
type session struct {
	a        *Activities
	testID   int64
	interval time.Duration
	// noStats leaves stats and /metrics unsampled (monitoring is off).
	noStats bool
	// nonce keeps this session's batch IDs apart from any other's.
	nonce string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	samples         *pointBuffer
	flush, shipped  chan struct{}
	mu              sync.Mutex
	lines           []ingest.Line
	logSeq          int
	logsDone        chan struct{}
	stopLogs        chan struct{}
	stats           []*containers.Watcher
	prev            map[string]containers.Sample
	scrapes, failed atomic.Int64
}

// startSession starts the test's session; ContainersUp has ended any
// earlier one.
func (a *Activities) startSession(ctx context.Context, testID int64, interval time.Duration, noStats bool) *session {
	if interval <= 0 {
		interval = time.Second
	}
	s := &session{a: a, testID: testID, interval: interval, noStats: noStats, nonce: fmt.Sprintf("ctr-%x", time.Now().UnixNano()),
		samples: &pointBuffer{}, flush: make(chan struct{}), shipped: make(chan struct{}),
		logsDone: make(chan struct{}), stopLogs: make(chan struct{}), prev: map[string]containers.Sample{}}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if a.Ingest != nil {
		go func() {
			defer close(s.shipped)
			a.shipSamples(context.WithoutCancel(s.ctx), testID, s.nonce, s.samples, nil, MonitorShip, s.flush)
		}()
	} else {
		close(s.shipped)
	}
	go s.shipLines()
	a.state.with(testID, func(ts *testState) { ts.containers = s })
	return s
}

// session is the test's running session, or nil.
func (a *Activities) session(testID int64) *session {
	var s *session
	a.state.with(testID, func(ts *testState) { s = ts.containers })
	return s
}

// endSession stops following the test's containers and sends what is
// left of their lines and samples (waiting a while for the server).
func (a *Activities) endSession(testID int64) {
	var s *session
	a.state.with(testID, func(ts *testState) { s, ts.containers = ts.containers, nil })
	if s == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
	for _, w := range s.stats {
		w.Close()
	}
	close(s.flush)
	close(s.stopLogs)
	a.awaitDelivery(s.shipped, "container samples", testID)
	a.awaitDelivery(s.logsDone, "container output", testID)
	a.sendDropMarker(context.Background(), testID, s.nonce)
}

// follow sends c's output to the test's log and its stats to its series.
func (s *session) follow(c containers.Container) {
	eng := s.a.Docker
	s.wg.Go(func() {
		_ = eng.Follow(s.ctx, c, func(l containers.Line) {
			if !s.a.logBudget(s.testID) {
				return
			}
			s.mu.Lock()
			s.lines = append(s.lines, ingest.Line{TS: time.Now().UnixMilli(), Stream: l.Container + "." + l.Stream, Text: l.Text})
			s.mu.Unlock()
		})
	})
	if s.noStats {
		return
	}
	w := eng.Watch(s.ctx, map[string]string{c.Name: c.ID})
	s.mu.Lock()
	s.stats = append(s.stats, w)
	s.mu.Unlock()
	s.wg.Go(func() {
		w.Every(s.ctx, s.interval, func(got []containers.Sample) {
			for _, sm := range got {
				s.record(sm)
			}
		})
	})
}

// record turns one stats sample into points: CPU (percent of one CPU, and
// throttled milliseconds per second), memory without page cache, and
// network and block I/O as bytes per second since the last sample.
func (s *session) record(sm containers.Sample) {
	s.mu.Lock()
	prev, ok := s.prev[sm.Container]
	s.prev[sm.Container] = sm
	s.mu.Unlock()
	p := "container." + sm.Container + "."
	pts := []sampler.Point{
		{Metric: p + "cpu.percent", Value: sm.CPUPercent},
		{Metric: p + "mem.bytes", Value: float64(sm.MemoryBytes)},
	}
	if dt := sm.Time.Sub(prev.Time).Seconds(); ok && dt > 0 {
		rate := func(cur, old uint64) float64 {
			if cur < old {
				return 0
			}
			return float64(cur-old) / dt
		}
		pts = append(pts,
			sampler.Point{Metric: p + "cpu.throttled_ms", Value: rate(sm.ThrottledNs, prev.ThrottledNs) / 1e6},
			sampler.Point{Metric: p + "net.rx_bytes", Value: rate(sm.NetRxBytes, prev.NetRxBytes)},
			sampler.Point{Metric: p + "net.tx_bytes", Value: rate(sm.NetTxBytes, prev.NetTxBytes)},
			sampler.Point{Metric: p + "blk.read_bytes", Value: rate(sm.BlockRead, prev.BlockRead)},
			sampler.Point{Metric: p + "blk.write_bytes", Value: rate(sm.BlockWrite, prev.BlockWrite)},
		)
	}
	s.samples.add(sm.Time.UnixMilli(), pts)
	s.a.counted("container", len(pts))
}

// scrape reads a service's /metrics every interval into
// container.<name>.prom.* series.
func (s *session) scrape(name, url string) {
	sc := &scrape.Scraper{}
	prefix := "container." + name + "."
	if s.noStats {
		return
	}
	s.wg.Go(func() {
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
			now := time.Now()
			res, err := sc.Scrape(s.ctx, url)
			if err != nil {
				s.failed.Add(1)
				continue
			}
			s.scrapes.Add(1)
			pts := make([]sampler.Point, 0, len(res.Samples))
			for _, sm := range res.Samples {
				if len(prefix)+len(sm.Name) <= scrape.MaxNameBytes {
					pts = append(pts, sampler.Point{Metric: prefix + sm.Name, Value: sm.Value})
				}
			}
			s.samples.add(now.UnixMilli(), pts)
			s.a.counted("prometheus", len(pts))
		}
	})
}

// shipLines sends the containers' lines every logPoll, and what is left
// when the session ends.
func (s *session) shipLines() {
	defer close(s.logsDone)
	t := time.NewTicker(logPoll)
	defer t.Stop()
	ctx := context.Background()
	for {
		final := false
		select {
		case <-t.C:
		case <-s.stopLogs:
			final = true
		}
		s.mu.Lock()
		lines := s.lines
		s.lines = nil
		s.mu.Unlock()
		for len(lines) > 0 {
			n := min(len(lines), 1000)
			s.logSeq++
			s.a.containerLines(ctx, s.testID, fmt.Sprintf("%s-log-%d", s.nonce, s.logSeq), lines[:n])
			lines = lines[n:]
		}
		if final {
			return
		}
	}
}
