package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/internal/temporaldev"
)

// TestMain doubles as the supervisor the in-process agents start.
func TestMain(m *testing.M) {
	supervise.Dispatch()
	os.Exit(m.Run())
}

// TestSmoke runs the whole suite in smoke mode, as `go tool task bench --
// --smoke` does, and checks that every measure produced a figure (or says
// why a peer was skipped) and that the JSON report parses. It checks no
// timings: CI machines are noisy.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole stack")
	}
	// Pitwall's Temporal server builds first (minutes on a fresh clone, when the test
	// runs without `task test`, which builds it beforehand), outside the
	// smoke run's own budget.
	bin, err := temporaldev.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	var build strings.Builder
	if _, err := temporaldev.Ensure(context.Background(), bin, &build); err != nil {
		t.Fatalf("%v\n%s", err, build.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var log strings.Builder
	rep, err := Run(ctx, Options{Smoke: true, Root: "..", Log: &log, NoInstall: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var table strings.Builder
	rep.PrintTable(&table)
	t.Log("\n" + table.String())

	dir := t.TempDir()
	path, err := rep.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, filepath.Join(dir, "latest.json")} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var got Report
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.Results) != len(rep.Results) || !got.Smoke {
			t.Fatalf("%s: %d results (want %d), smoke %v", name, len(got.Results), len(rep.Results), got.Smoke)
		}
	}

	want := []string{"submit-to-running", "exit-to-verdict", "overhead", "throughput", "ingest",
		"changepoint-detect-1000", "changepoint-detect-5000", "changepoint-append",
		"ui-test-page", "ui-dashboard", "ui-series-api", "monitor-cpu", "monitor-rss", "monitor-vs-node-exporter",
		"footprint-cpu", "footprint-cpu-off", "footprint-cpu-idle", "footprint-rss", "footprint-aa",
		"year-bytes-per-sample", "year-bytes-per-test", "year-rollup", "year-ingest", "year-dashboard", "year-test-page",
		"year-test-page-rolled-up", "year-search", "year-compare", "year-trends", "year-changepoint", "year-retention"}
	byName := map[string]Result{}
	for _, r := range rep.Results {
		byName[r.Name] = r
	}
	for _, name := range want {
		r, ok := byName[name]
		switch {
		case !ok:
			t.Errorf("%s: missing from the report", name)
		case r.Error != "":
			t.Errorf("%s: %s", name, r.Error)
		case r.Ours.N == 0:
			t.Errorf("%s: no figure of ours: %q", name, r.Ours.Text)
		case r.Method == "" || r.Goal == "" || r.Met == "":
			t.Errorf("%s: method, goal or met? missing: %+v", name, r)
		case r.Peer.N == 0 && r.Peer.Text == "":
			t.Errorf("%s: peer has neither a figure nor a reason", name)
		}
	}
	if len(rep.Results) != len(want) {
		t.Errorf("%d results, want %d", len(rep.Results), len(want))
	}
	footprintFigures(t, byName)
}

// footprintFigures checks the footprint measure's figures of a smoke run:
// the agent's tree was sampled (non-zero figures) and the A/A runs were
// all timed; it checks no timings.
func footprintFigures(t *testing.T, byName map[string]Result) {
	t.Helper()
	for _, name := range []string{"footprint-cpu", "footprint-cpu-off", "footprint-cpu-idle", "footprint-rss", "footprint-aa"} {
		if r := byName[name]; r.Ours.Median < 0 {
			t.Errorf("%s: a negative figure: %+v", name, r.Ours)
		}
	}
	if r := byName["footprint-rss"]; r.Ours.Median <= 0 {
		t.Errorf("footprint-rss: the agent's tree has no resident memory: %+v", r.Ours)
	}
	if r := byName["footprint-aa"]; r.Ours.N < 2 || r.Peer.N != r.Ours.N || r.Ours.Median <= 0 || r.Peer.Median <= 0 {
		t.Errorf("footprint-aa: want as many loop runs by hand as through Pitwall, all timed: %+v / %+v", r.Ours, r.Peer)
	}
	if r := byName["footprint-cpu"]; r.Ours.Median <= 0 && r.Ours.Extra["idle CPU ms/s"] <= 0 {
		t.Errorf("footprint-cpu: no CPU counted at all: %+v", r.Ours)
	}
}

// TestGoBenchFigures reads `go test -bench` lines, with and without extra
// metrics, and ignores the rest.
func TestGoBenchFigures(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkSeriesAPI-2   	      12	  91234567 ns/op	        90.10 p50-ms	       120.5 p99-ms
BenchmarkDashboard    	     100	  12000000 ns/op	  2048 B/op
BenchmarkDashboard/viewer-of-small-team-2   	     300	   4000000 ns/op	         3.90 p50-ms	         6.20 p99-ms
PASS
ok  	github.com/pitwall/pitwall/e2e	12.3s
`)
	got := goBenchFigures(out)
	if len(got) != 3 {
		t.Fatalf("got %v", got)
	}
	s := benchFigure(got["BenchmarkSeriesAPI"])
	if !s.Percentiles || s.P50 != 90.10 || s.P99 != 120.5 || s.N != 12 {
		t.Errorf("series: %+v", s)
	}
	d := benchFigure(got["BenchmarkDashboard"])
	if d.Percentiles || d.Median != 12 || d.N != 100 {
		t.Errorf("dashboard: %+v", d)
	}
	v := benchFigure(got["BenchmarkDashboard/viewer-of-small-team"])
	if !v.Percentiles || v.P50 != 3.90 || v.N != 300 {
		t.Errorf("sub-benchmark: %+v", v)
	}
	if _, ok := got["BenchmarkTestPage"]; ok {
		t.Error("a benchmark that did not run")
	}
}

// TestProcCPUNs checks the footprint's CPU reading of a process against
// what the kernel reports otherwise: getrusage's CPU time of this process
// (the same scheduler clock) and /proc/PID/stat's own ticks (utime and
// stime, whole 10 ms; the package's other tests reap children, whose
// ticks stat keeps apart).
func TestProcCPUNs(t *testing.T) {
	pid := os.Getpid()
	cpu := func() time.Duration {
		var ru unix.Rusage
		require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru))
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before, ok := procCPUNs(pid)
	if !ok {
		t.Fatal("no CPU clock for this process")
	}
	// 100 ms of CPU, however long a loaded machine takes to give it.
	start := cpu()
	for deadline := time.Now().Add(time.Minute); cpu()-start < 100*time.Millisecond && time.Now().Before(deadline); {
	}
	used := cpu() - start
	after, _ := procCPUNs(pid)
	if d := time.Duration(after - before); d < used-5*time.Millisecond {
		t.Errorf("%v of CPU (getrusage) counted as %v", used, d)
	}
	_, own, _, _, err := procStatSplit(pid)
	if err != nil {
		t.Fatal(err)
	}
	clock, _ := procCPUNs(pid)
	// Ticks are whole 10 ms; the clock also holds what came after.
	if d := time.Duration(clock - own*1e9/clkTck); d < -10*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("clock %v against stat's %d own ticks", time.Duration(clock), own)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if _, ok := procCPUNs(gone.Process.Pid); ok {
		t.Error("a process that has ended has a CPU clock")
	}
}
