package sampler

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSampleThisHost(t *testing.T) {
	t.Parallel()
	s := New()
	t0 := time.Now()
	first := s.Sample(t0, []int{os.Getpid()})
	got := names(first)
	for _, m := range []string{"mem.used", "mem.cached", "mem.available", "mem.swap_used", "load.1", "load.5", "load.15"} {
		require.Contains(t, got, m)
	}
	require.NotContains(t, got, "cpu.user", "rates need two samples")

	// Burn some CPU so the process figures move.
	end := time.Now().Add(150 * time.Millisecond)
	for time.Now().Before(end) {
	}
	second := s.Sample(time.Now(), []int{os.Getpid()})
	got = names(second)
	for _, m := range []string{"cpu.user", "cpu.system", "cpu.iowait", "cpu.steal", "cpu.idle", "cpu0.user", "ctxt"} {
		require.Contains(t, got, m)
	}
	pid := "proc." + itoa(os.Getpid())
	require.Greater(t, got[pid+".rss"], 1e6)
	require.Greater(t, got[pid+".cpu"], 10.0, "the busy loop shows as CPU")
	var sum float64
	for _, f := range []string{"user", "system", "iowait", "steal", "idle"} {
		sum += got["cpu."+f]
	}
	require.InDelta(t, 100, sum, 5, "the CPU shares add up (irq and softirq make the rest)")
	hasNet := false
	for m := range got {
		if strings.HasPrefix(m, "net.lo.") {
			hasNet = true
		}
	}
	require.True(t, hasNet, "loopback traffic is measured")
}

func TestGonePIDIsSkipped(t *testing.T) {
	t.Parallel()
	s := New()
	pts := s.Sample(time.Now(), []int{1 << 30})
	for _, p := range pts {
		require.False(t, strings.HasPrefix(p.Metric, "proc."), p.Metric)
	}
}

func BenchmarkSample(b *testing.B) {
	s := New()
	pids := []int{os.Getpid()}
	b.ReportAllocs()
	for b.Loop() {
		s.Sample(time.Now(), pids)
	}
}

func names(pts []Point) map[string]float64 {
	m := map[string]float64{}
	for _, p := range pts {
		m[p.Metric] = p.Value
	}
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }
