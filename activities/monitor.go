package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/sampler"
)

// MonitorInput says what a statistics host samples, and how often.
type MonitorInput struct {
	TestID   int64
	Interval time.Duration
	// ResultsDir is set on the execution host, whose script may name PIDs
	// in ResultsDir/pids for per-process figures.
	ResultsDir string
}

// MonitorResult counts what the monitor took.
type MonitorResult struct {
	Samples int
	Points  int
}

// monitorShip is how often sampled points go to the server.
const monitorShip = time.Second

// maxBufferedPoints bounds what an agent holds while the server is away
// (about an hour of a busy host at 1 s); older points are dropped past it.
const maxBufferedPoints = 2_000_000

// Monitor samples the host from /proc at the interval until it is
// cancelled, then flushes what it holds and returns. Points go to the
// server's ingest endpoint in batches, never into workflow history.
func (a *Activities) Monitor(ctx context.Context, in MonitorInput) (*MonitorResult, error) {
	if in.Interval <= 0 {
		in.Interval = time.Second
	}
	s := sampler.New()
	res := &MonitorResult{}
	pending := map[string]*ingest.Series{}
	npending := 0
	seq := 0
	send := func(sendCtx context.Context) {
		if npending == 0 {
			return
		}
		seq++
		b := ingest.Samples{TestID: in.TestID, Host: a.Host, Batch: fmt.Sprintf("mon-%d-%d", activity.GetInfo(ctx).Attempt, seq)}
		for _, ser := range pending {
			b.Series = append(b.Series, *ser)
		}
		if err := a.Ingest.Send(sendCtx, ingest.SamplesPath, b); err != nil {
			if sendCtx.Err() == nil {
				a.logger().Warn("sample batch refused", "test", in.TestID, "error", err)
			}
			seq--
			return // kept, and sent with the next batch
		}
		clear(pending)
		npending = 0
	}
	take := func() {
		now := time.Now()
		var pids []int
		if in.ResultsDir != "" {
			pids = readPids(in.ResultsDir)
		}
		pts := s.Sample(now, pids)
		res.Samples++
		res.Points += len(pts)
		if npending+len(pts) > maxBufferedPoints {
			return
		}
		ms := now.UnixMilli()
		for _, p := range pts {
			ser := pending[p.Metric]
			if ser == nil {
				ser = &ingest.Series{Metric: p.Metric}
				pending[p.Metric] = ser
			}
			ser.TS = append(ser.TS, ms)
			ser.Values = append(ser.Values, p.Value)
		}
		npending += len(pts)
	}

	stop := a.monitorStarted(in.TestID)
	defer a.monitorEnded(in.TestID, stop)
	take()
	sample := time.NewTicker(in.Interval)
	defer sample.Stop()
	ship := time.NewTicker(monitorShip)
	defer ship.Stop()
	for {
		select {
		case <-ctx.Done():
			return a.monitorFlush(ctx, take, send, res)
		case <-stop:
			return a.monitorFlush(ctx, take, send, res)
		case <-sample.C:
			take()
		case <-ship.C:
			activity.RecordHeartbeat(ctx, res.Samples)
			sendCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			send(sendCtx)
			cancel()
		}
	}
}

// monitorFlush takes the last sample and sends what is held.
func (a *Activities) monitorFlush(ctx context.Context, take func(), send func(context.Context), res *MonitorResult) (*MonitorResult, error) {
	take()
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logFlushWait)
	defer cancel()
	send(flushCtx)
	return res, nil
}

// StopMonitor ends a test's monitor on this host at once, rather than at
// the next heartbeat that would carry a cancellation.
func (a *Activities) StopMonitor(ctx context.Context, testID int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch, ok := a.monitors[testID]; ok {
		close(ch)
		delete(a.monitors, testID)
	}
	return nil
}

func (a *Activities) monitorStarted(testID int64) chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.monitors == nil {
		a.monitors = map[int64]chan struct{}{}
	}
	ch := make(chan struct{})
	a.monitors[testID] = ch
	return ch
}

func (a *Activities) monitorEnded(testID int64, ch chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.monitors[testID] == ch {
		delete(a.monitors, testID)
	}
}
