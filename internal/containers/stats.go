package containers

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Sample is one reading of a container's resources.
type Sample struct {
	Container   string // the service's name
	Time        time.Time
	CPUPercent  float64 // of one CPU: 200 is two CPUs busy
	ThrottledNs uint64  // cumulative CPU throttled time
	MemoryBytes uint64  // usage without page cache
	NetRxBytes  uint64  // cumulative
	NetTxBytes  uint64
	BlockRead   uint64 // cumulative bytes
	BlockWrite  uint64
}

// FromStats turns one record of the Engine's stats stream into a Sample.
// ok is false for a record without a previous CPU reading (the stream's
// first), whose CPU figure would be meaningless.
func FromStats(name string, s *container.StatsResponse) (Sample, bool) {
	out := Sample{Container: name, Time: s.Read,
		ThrottledNs: s.CPUStats.ThrottlingData.ThrottledTime, MemoryBytes: memoryNoCache(s.MemoryStats)}
	for _, n := range s.Networks {
		out.NetRxBytes += n.RxBytes
		out.NetTxBytes += n.TxBytes
	}
	for _, b := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			out.BlockRead += b.Value
		case "write":
			out.BlockWrite += b.Value
		}
	}
	pre, cur := s.PreCPUStats, s.CPUStats
	if pre.SystemUsage == 0 || cur.SystemUsage <= pre.SystemUsage {
		return out, false
	}
	cpus := float64(cur.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(cur.CPUUsage.PercpuUsage))
	}
	if cur.CPUUsage.TotalUsage >= pre.CPUUsage.TotalUsage {
		out.CPUPercent = float64(cur.CPUUsage.TotalUsage-pre.CPUUsage.TotalUsage) /
			float64(cur.SystemUsage-pre.SystemUsage) * cpus * 100
	}
	return out, true
}

// memoryNoCache is usage less the inactive page cache, as `docker stats`
// shows it: total_inactive_file under cgroup v1, inactive_file under v2.
func memoryNoCache(m container.MemoryStats) uint64 {
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage {
		return m.Usage - v
	}
	if v, ok := m.Stats["inactive_file"]; ok && v < m.Usage {
		return m.Usage - v
	}
	return m.Usage
}

// Watcher keeps one stats stream open per container and remembers each
// container's latest sample.
type Watcher struct {
	mu      sync.Mutex
	latest  map[string]Sample
	fresh   map[string]bool
	decoded int
	updated chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Watch opens the stats stream of each container (name → container ID).
// Streams end when their container stops, ctx ends or Close is called.
func (e *Engine) Watch(ctx context.Context, cs map[string]string) *Watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{latest: map[string]Sample{}, fresh: map[string]bool{},
		updated: make(chan struct{}, 1), cancel: cancel}
	for name, id := range cs {
		w.wg.Go(func() { w.follow(ctx, e, name, id) })
	}
	return w
}

func (w *Watcher) follow(ctx context.Context, e *Engine, name, id string) {
	res, err := e.c.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: true})
	if err != nil {
		return
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	var s container.StatsResponse
	for {
		s = container.StatsResponse{}
		if err := dec.Decode(&s); err != nil {
			return
		}
		sm, ok := FromStats(name, &s)
		w.mu.Lock()
		w.decoded++
		if ok {
			w.latest[name], w.fresh[name] = sm, true
		}
		w.mu.Unlock()
		select {
		case w.updated <- struct{}{}:
		default:
		}
	}
}

// Updated receives after records arrive (once for several, when the
// receiver is slower than the streams).
func (w *Watcher) Updated() <-chan struct{} { return w.updated }

// Fresh returns the samples that arrived since the last call, one per
// container at most (the latest).
func (w *Watcher) Fresh() []Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Sample
	for name, f := range w.fresh {
		if f {
			out = append(out, w.latest[name])
			w.fresh[name] = false
		}
	}
	return out
}

// Decoded is how many stats records the streams have decoded.
func (w *Watcher) Decoded() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.decoded
}

// Every calls fn with the fresh samples every interval until ctx ends.
func (w *Watcher) Every(ctx context.Context, interval time.Duration, fn func([]Sample)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s := w.Fresh(); len(s) > 0 {
				fn(s)
			}
		}
	}
}

// Close ends the streams and waits for them.
func (w *Watcher) Close() {
	w.cancel()
	w.wg.Wait()
}
