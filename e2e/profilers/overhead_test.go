package profilers

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkProfilerOverhead measures what each profiler costs a CPU-bound
// benchmark: the hot program's rate (iterations/s) alone and with the
// profiler attached for its whole run, interleaved, and the profiler's own
// CPU time. It prints a table for docs/profilers.md and reports each
// profiler's added CPU per iteration as a metric. It is a benchmark, not a
// test, because a shared 2-core machine is too noisy for a bound on these
// figures: `go test -run '^$' -bench ProfilerOverhead -benchtime 1x
// ./e2e/profilers/`, with PITWALL_OVERHEAD_ROUNDS (default 3) and
// PITWALL_OVERHEAD_SECONDS (default 5).
func BenchmarkProfilerOverhead(b *testing.B) {
	if missing != "" {
		b.Skip(missing)
	}
	rounds, secs := envInt("PITWALL_OVERHEAD_ROUNDS", 3), envInt("PITWALL_OVERHEAD_SECONDS", 5)
	profilers := []struct {
		name, key string // key: the metric's name
		argv      func(pid, out string) []string
	}{
		{"none", "", nil},
		{"perf record -F 99 -g", "perf-99Hz", func(pid, out string) []string {
			return []string{"perf", "record", "-F", "99", "-g", "--no-buildid", "--no-buildid-cache", "-o", out, "-p", pid}
		}},
		{"perf record -F 999 -g", "perf-999Hz", func(pid, out string) []string {
			return []string{"perf", "record", "-F", "999", "-g", "--no-buildid", "--no-buildid-cache", "-o", out, "-p", pid}
		}},
		{"perf stat (9 events)", "perf-stat", func(pid, out string) []string {
			return []string{"perf", "stat", "-x,", "-o", out, "-e", "task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions,branches,branch-misses,cache-misses", "-p", pid}
		}},
		{"strace -c -f", "strace", func(pid, out string) []string { return []string{"strace", "-c", "-f", "-q", "-o", out, "-p", pid} }},
	}
	rates := map[string][]float64{}
	perIter := map[string][]float64{}
	cpu := map[string][]time.Duration{}
	dir := b.TempDir()
	for r := 0; r < rounds; r++ {
		for _, p := range profilers {
			rate, us, used := measure(b, secs, p.argv, filepath.Join(dir, "out"))
			rates[p.name] = append(rates[p.name], rate)
			perIter[p.name] = append(perIter[p.name], us)
			cpu[p.name] = append(cpu[p.name], used)
		}
	}
	base, baseUS := median(rates["none"]), median(perIter["none"])
	var out strings.Builder
	fmt.Fprintf(&out, "hot for %d s, %d interleaved rounds (medians)\n", secs, rounds)
	fmt.Fprintf(&out, "| profiler | iterations/s | rate lost | CPU µs/iteration | CPU per iteration added | profiler's own CPU per second profiled |\n|---|---|---|---|---|---|\n")
	for _, p := range profilers {
		m, us := median(rates[p.name]), median(perIter[p.name])
		c := time.Duration(median(durations(cpu[p.name])))
		added := 100 * (us - baseUS) / baseUS
		fmt.Fprintf(&out, "| %s | %.1f | %+.1f%% | %.1f | %+.1f%% | %.1f ms |\n", p.name, m, 100*(base-m)/base,
			us, added, float64(c.Microseconds())/1000/float64(secs))
		if p.argv != nil {
			b.ReportMetric(added, "%cpu-added-"+p.key)
		}
	}
	b.ReportMetric(baseUS, "µs/iteration")
	b.Log("\n" + out.String())
}

// measure runs hot for secs seconds with the profiler argv (nil: none)
// attached, returning hot's rate, its CPU µs per iteration and the
// profiler's CPU time.
func measure(t testing.TB, secs int, argv func(pid, out string) []string, out string) (rate, us float64, used time.Duration) {
	t.Helper()
	var stdout bytes.Buffer
	bench := exec.Command(hot, strconv.Itoa(secs), "10")
	bench.Stdout = &stdout
	require.NoError(t, bench.Start())
	var prof *exec.Cmd
	if argv != nil {
		a := argv(strconv.Itoa(bench.Process.Pid), out)
		prof = exec.Command(a[0], a[1:]...)
		require.NoError(t, prof.Start())
	}
	require.NoError(t, bench.Wait())
	if prof != nil {
		_ = prof.Process.Signal(syscall.SIGINT)
		_ = prof.Wait()
		used = prof.ProcessState.UserTime() + prof.ProcessState.SystemTime()
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "Rate, "); ok {
			rate, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(line, "CPUPerIteration, "); ok {
			us, _ = strconv.ParseFloat(strings.TrimSuffix(v, "us"), 64)
		}
	}
	require.Positive(t, rate, "hot's output: %q", stdout.String())
	require.Positive(t, us, "hot's output: %q", stdout.String())
	return rate, us, used
}

func durations(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
