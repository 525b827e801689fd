package sampler

import (
	"fmt"
	"os"
	"os/exec"
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

// fakeProc writes a procfs and sysfs of its own under a temporary folder.
type fakeProc struct {
	t        *testing.T
	proc, sy string
}

func newFakeProc(t *testing.T) *fakeProc {
	dir := t.TempDir()
	f := &fakeProc{t: t, proc: dir + "/proc", sy: dir + "/sys"}
	for _, d := range []string{f.proc + "/net", f.proc + "/42", f.sy + "/block/vda"} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	return f
}

// write rewrites a file in place, as the kernel's files change under an
// open descriptor.
func (f *fakeProc) write(name, content string) {
	require.NoError(f.t, os.WriteFile(f.proc+"/"+name, []byte(content), 0o644))
}

func (f *fakeProc) host(cpuUser, ctxt, diskReads, rxBytes, utime int, load string) {
	f.write("stat", fmt.Sprintf("cpu  %d 0 100 1000 0 0 0 0 0 0\ncpu0 %d 0 50 500 0 0 0 0 0 0\n"+
		"intr 80403277 0 0 0 1 2 3\nctxt %d\nbtime 1795724586\nprocesses 567425\n", cpuUser, cpuUser, ctxt))
	f.write("meminfo", "MemTotal:        8000 kB\nMemFree:         1000 kB\nMemAvailable:    5000 kB\n"+
		"Buffers:          100 kB\nCached:          2000 kB\nSwapCached:         0 kB\nSReclaimable:     300 kB\n"+
		"SwapTotal:       4000 kB\nSwapFree:        3000 kB\n")
	f.write("diskstats", fmt.Sprintf("   7       0 loop0 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"+
		" 254       0 vda %d 0 %d 0 10 0 20 0 0 0 0 0 0 0 0 0 0\n 254       1 vda1 1 0 1 0 1 0 1 0 0 0 0 0 0 0 0 0 0\n", diskReads, 2*diskReads))
	f.write("net/dev", fmt.Sprintf("Inter-|   Receive                                                |  Transmit\n"+
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"+
		"    lo: %d 10    0    0    0     0          0         0 300 30    0    0    0     0       0          0\n", rxBytes))
	f.write("loadavg", load+" 0.50 1.25 2/300 12345\n")
	f.write("42/stat", fmt.Sprintf("42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 %d 10 0 0 20 0 1 0 100 1000000 250 18446744073709551615\n", utime))
}

func TestSampleParsesEachFile(t *testing.T) {
	t.Parallel()
	f := newFakeProc(t)
	s := New()
	s.Proc, s.Sys = f.proc, f.sy
	defer s.Close()
	t0 := time.Unix(1000, 0)
	f.host(100, 1000, 10, 1000, 90, "0.28")
	first := names(s.Sample(t0, []int{42}))
	require.Equal(t, map[string]float64{
		"mem.used": (8000 - 1000 - 100 - 2000 - 300) * 1024, "mem.cached": (2000 + 100 + 300) * 1024,
		"mem.available": 5000 * 1024, "mem.swap_used": 1000 * 1024,
		"load.1": 0.28, "load.5": 0.5, "load.15": 1.25,
		"proc.42.rss": 250 * float64(os.Getpagesize()),
	}, first, "the first sample holds the gauges only")

	f.host(150, 1600, 16, 3000, 140, "1.07")
	second := names(s.Sample(t0.Add(2*time.Second), []int{42}))
	want := map[string]float64{
		"ctxt":     300,
		"cpu.user": 100 * 50.0 / 50, "cpu.system": 0, "cpu.iowait": 0, "cpu.steal": 0, "cpu.idle": 0,
		"cpu0.user": 100, "cpu0.system": 0, "cpu0.iowait": 0, "cpu0.steal": 0, "cpu0.idle": 0,
		"disk.vda.read_ops": 3, "disk.vda.read_bytes": 512 * 6, "disk.vda.write_ops": 0, "disk.vda.write_bytes": 0,
		"net.lo.rx_bytes": 1000, "net.lo.rx_packets": 0, "net.lo.tx_bytes": 0, "net.lo.tx_packets": 0,
		"load.1": 1.07, "load.5": 0.5, "load.15": 1.25,
		"proc.42.cpu": 100 * 50.0 / 100 / 2, "proc.42.rss": 250 * float64(os.Getpagesize()),
	}
	for k, v := range first {
		if _, ok := want[k]; !ok {
			want[k] = v
		}
	}
	require.Equal(t, want, second, "partitions and loop devices are left out; the command may hold parentheses")

	// A process no longer listed is forgotten: listed again, it starts over.
	third := names(s.Sample(t0.Add(3*time.Second), nil))
	require.NotContains(t, third, "proc.42.rss")
	fourth := names(s.Sample(t0.Add(4*time.Second), []int{42}))
	require.Contains(t, fourth, "proc.42.rss")
	require.NotContains(t, fourth, "proc.42.cpu", "a rate needs two readings")
}

func TestEndedProcessIsSkipped(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	s := New()
	defer s.Close()
	rss := "proc." + itoa(pid) + ".rss"
	require.Contains(t, names(s.Sample(time.Now(), []int{pid})), rss)
	// The sampler keeps the process's stat file open: once the process is
	// gone (and reaped) that file reads nothing.
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.NotContains(t, names(s.Sample(time.Now(), []int{pid})), rss)
}

func TestParseDecimalMatchesStrconv(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0", "0.28", "12.07", "1234.99", "0.01", "3.14159", "100", "999999.999999"} {
		want, _ := strconv.ParseFloat(s, 64)
		got, ok := parseDecimal([]byte(s))
		require.True(t, ok, s)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "-1", "1.2.3", "x"} {
		_, ok := parseDecimal([]byte(s))
		require.False(t, ok, s)
	}
}
