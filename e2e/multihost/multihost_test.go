package multihost

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// The agents: the first plays the system under test, the other two (chosen
// by count) generate the load.
const (
	sutHost = "multihost-agent-1"
	load1   = "multihost-agent-2"
	load2   = "multihost-agent-3"
)

// frameworkFile is a multi-host framework: a service on sutHost that says it
// is ready, and two load hosts that each copy a known histogram (file
// hist-<index> in dir) and report a throughput; every host's setup and
// teardown leave one file each in dir. failIndex, when not empty, is the
// load host (by index) whose script fails at once, while the other runs
// for 30 s unless it is stopped.
func frameworkFile(name, dir, failIndex string) string {
	return fmt.Sprintf(`
name: %[1]s
execution:
  timeout: 2m
roles:
  - name: sut
    hosts: [%[2]s]
    serve: true
    script: |
      #!/bin/sh
      echo "sut of $PITWALL_ROLE_LOAD_HOSTS"
      touch ready
      exec sleep 600
    teardown: |
      #!/bin/sh
      touch %[3]s/teardown.$PITWALL_HOST.$$
  - name: load
    count: 2
    setup: |
      #!/bin/sh
      touch %[3]s/setup.$PITWALL_HOST.$$
    script: |
      #!/bin/sh
      if [ "$PITWALL_ROLE_INDEX" = "%[4]s" ]; then echo "load $PITWALL_ROLE_INDEX gives up" >&2; exit 3; fi
      [ -n "%[4]s" ] && sleep 30
      test "$PITWALL_ROLE_SUT_HOSTS" = "%[2]s" || { echo "no sut in PITWALL_ROLE_SUT_HOSTS" >&2; exit 4; }
      cp %[3]s/hist-$PITWALL_ROLE_INDEX latency.hdr
      echo "Throughput, $((100 + 150 * PITWALL_ROLE_INDEX))req/s" > results.csv
    teardown: |
      #!/bin/sh
      touch %[3]s/teardown.$PITWALL_HOST.$$
    merge:
      - {kpi: LatencyP99, how: histogram, file: latency.hdr, percentile: 99, unit: us}
      - {kpi: Throughput, how: sum}
kpis:
  - {name: LatencyP99, unit: us, better: lower}
  - {name: Throughput, unit: req/s, better: higher}
`, name, sutHost, dir, failIndex)
}

// histograms writes the two load hosts' known histograms into dir: host 0
// recorded 1..10000 µs, host 1 10001..20000 µs; host 0's file is one base64
// V2 histogram, host 1's an HdrHistogram log of two intervals. It returns
// the raw values.
func histograms(t *testing.T, dir string) (all []int64) {
	t.Helper()
	h0 := hdrhistogram.New(1, 3_600_000_000, 3)
	for v := int64(1); v <= 10000; v++ {
		require.NoError(t, h0.RecordValue(v))
		all = append(all, v)
	}
	enc, err := h0.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hist-0"), enc, 0o644))

	var log strings.Builder
	w := hdrhistogram.NewHistogramLogWriter(&log)
	require.NoError(t, w.OutputLogFormatVersion())
	require.NoError(t, w.OutputLegend())
	for half := range 2 {
		h := hdrhistogram.New(1, 3_600_000_000, 3)
		h.SetStartTimeMs(int64(1000 * half))
		h.SetEndTimeMs(int64(1000 * (half + 1)))
		for v := int64(10001 + 5000*half); v <= int64(15000+5000*half); v++ {
			require.NoError(t, h.RecordValue(v))
			all = append(all, v)
		}
		require.NoError(t, w.OutputIntervalHistogram(h))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hist-1"), []byte(log.String()), 0o644))
	return all
}

// percentile is the nearest-rank percentile of raw values.
func percentile(values []int64, p float64) int64 {
	s := slices.Sorted(slices.Values(values))
	return s[int(math.Ceil(p/100*float64(len(s))))-1]
}

func kpiValue(t *testing.T, test *wire.Test, name string) float64 {
	t.Helper()
	for _, k := range test.KPIs {
		if k.Name == name {
			return k.Value
		}
	}
	t.Fatalf("test %d has no KPI %s: %+v", test.ID, name, test.KPIs)
	return 0
}

func stageAt(t *testing.T, test *wire.Test, name string) time.Time {
	t.Helper()
	for _, s := range test.Timeline {
		if s.Stage == name {
			return s.At
		}
	}
	t.Fatalf("test %d has no stage %q: %+v", test.ID, name, test.Timeline)
	return time.Time{}
}

// files counts the files in dir whose names start with prefix, by host.
func files(t *testing.T, dir, prefix string) map[string]int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, prefix+".*"))
	require.NoError(t, err)
	got := map[string]int{}
	for _, n := range names {
		host := strings.Split(strings.TrimPrefix(filepath.Base(n), prefix+"."), ".")[0]
		got[host]++
	}
	return got
}

// One sut and two load hosts: the load starts on both within 100 ms, the
// two known histograms merge into the exact p99 (not the average of the
// hosts' p99s), throughput is summed, and each host tears down once.
func TestMultiHostMerge(t *testing.T) {
	dir := testenv.ScriptDir(t)
	raw := histograms(t, dir)
	st.Apply(t, frameworkFile("multihost-merge", dir, ""))
	got := st.Run(t, wire.RunRequest{Framework: "multihost-merge"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	st.RecordHistory(t, contract.WorkflowID(got.ID), "../../workflows/testdata/perftest-take-multihost.json")

	start1, start2 := stageAt(t, got, "load "+load1+" started"), stageAt(t, got, "load "+load2+" started")
	spread := start1.Sub(start2).Abs()
	t.Logf("load started on %s at %s and on %s at %s: spread %s",
		load1, start1.Format("15:04:05.000000"), load2, start2.Format("15:04:05.000000"), spread)
	require.Less(t, spread, 100*time.Millisecond)
	require.True(t, stageAt(t, got, "barrier passed").Before(start1))

	want := percentile(raw, 99)
	merged := kpiValue(t, got, "LatencyP99")
	p1, p2 := kpiValue(t, got, "LatencyP99@"+load1), kpiValue(t, got, "LatencyP99@"+load2)
	naive := (p1 + p2) / 2
	t.Logf("p99: merged %.0f µs (raw values %d µs); %s %.0f µs, %s %.0f µs; naive average of the hosts' p99s %.0f µs",
		merged, want, load1, p1, load2, p2, naive)
	// Three significant figures: within 0.1% of the raw percentile.
	require.InEpsilon(t, float64(want), merged, 0.001)
	require.InEpsilon(t, float64(percentile(raw[:10000], 99)), p1, 0.001)
	require.InEpsilon(t, float64(percentile(raw[10000:], 99)), p2, 0.001)
	require.Greater(t, math.Abs(merged-naive), 1000.0, "the merged p99 is not the average of the hosts' p99s")
	require.Equal(t, 350.0, kpiValue(t, got, "Throughput"))
	require.Equal(t, 100.0, kpiValue(t, got, "Throughput@"+load1))

	// Each host's files are kept as artifacts under the host's name.
	var arts wire.List[wire.Artifact]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/artifacts", got.ID), "", nil, &arts))
	var paths []string
	for _, a := range arts.Items {
		paths = append(paths, a.Path)
	}
	for _, p := range []string{load1 + "/results.csv", load2 + "/results.csv", load2 + "/latency.hdr", sutHost + "/ready"} {
		require.Contains(t, paths, p)
	}

	require.Equal(t, map[string]int{load1: 1, load2: 1}, files(t, dir, "setup"))
	require.Equal(t, map[string]int{sutHost: 1, load1: 1, load2: 1}, files(t, dir, "teardown"))
}

// When one load host's script fails, the other load host's is stopped at
// once, the test fails naming the host, and teardown still runs exactly
// once on every host.
func TestMultiHostTeardownOnce(t *testing.T) {
	dir := testenv.ScriptDir(t)
	histograms(t, dir)
	st.Apply(t, frameworkFile("multihost-fail", dir, "1"))
	began := time.Now()
	got := st.Run(t, wire.RunRequest{Framework: "multihost-fail"})
	took := time.Since(began)
	require.Equal(t, wire.StateFailed, got.State, got.Reason)
	require.Contains(t, got.Reason, "load on "+load2+": script exited with status 3: load 1 gives up")
	require.Less(t, took, 25*time.Second, "the other load host's 30 s script was not stopped")
	stageAt(t, got, "load "+load1+" ended")
	require.Equal(t, map[string]int{sutHost: 1, load1: 1, load2: 1}, files(t, dir, "teardown"))
	t.Logf("failed in %s: %s", took.Round(time.Millisecond), got.Reason)
}

// An abort while the load runs kills the scripts on every host at once,
// and teardown still runs exactly once on every host.
func TestMultiHostAbort(t *testing.T) {
	dir := testenv.ScriptDir(t)
	histograms(t, dir)
	st.Apply(t, frameworkFile("multihost-abort", dir, "none")) // no host fails; each sleeps 30 s
	test, err := st.Submit(t.Context(), wire.RunRequest{Framework: "multihost-abort"})
	require.NoError(t, err)
	_, err = st.Await(t.Context(), test.ID, time.Minute, func(x *wire.Test) bool { return x.State == wire.StateRunning })
	require.NoError(t, err)
	time.Sleep(framework.RoleStartDelay + time.Second) // the load has started
	began := time.Now()
	st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/abort", test.ID), "application/json", []byte(`{"reason":"enough"}`), nil)
	got := st.Wait(t, test.ID)
	took := time.Since(began)
	require.Equal(t, wire.StateAborted, got.State, got.Reason)
	require.Equal(t, "aborted: enough", got.Reason)
	require.Less(t, took, 10*time.Second)
	require.Equal(t, map[string]int{sutHost: 1, load1: 1, load2: 1}, files(t, dir, "teardown"))
	t.Logf("abort of a multi-host test took %s", took.Round(time.Millisecond))
}

// A live threshold: both load hosts append a one-second interval
// histogram of 100 ms latencies to their logs each second; the rule aborts
// when the merged p99 stays above 50 ms for 2 s, long before the 30 s the
// scripts would run. Teardown still runs once on every host.
func TestMultiHostThresholdAbort(t *testing.T) {
	dir := testenv.ScriptDir(t)
	var log strings.Builder
	w := hdrhistogram.NewHistogramLogWriter(&log)
	require.NoError(t, w.OutputLogFormatVersion())
	require.NoError(t, w.OutputLegend())
	for i := range 30 {
		h := hdrhistogram.New(1, 3_600_000_000, 3)
		h.SetStartTimeMs(int64(1000 * i))
		h.SetEndTimeMs(int64(1000 * (i + 1)))
		require.NoError(t, h.RecordValues(100_000, 50))
		require.NoError(t, w.OutputIntervalHistogram(h))
	}
	var head, body []string
	for line := range strings.SplitSeq(strings.TrimSpace(log.String()), "\n") {
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, `"`) {
			head = append(head, line)
		} else {
			body = append(body, line)
		}
	}
	require.Len(t, body, 30)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "slow.head"), []byte(strings.Join(head, "\n")+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "slow.body"), []byte(strings.Join(body, "\n")+"\n"), 0o644))
	st.Apply(t, fmt.Sprintf(`
name: multihost-threshold
execution: {timeout: 2m}
roles:
  - name: load
    hosts: [%[1]s, %[2]s]
    script: |
      #!/bin/sh
      cp %[3]s/slow.head latency.hlog
      while read -r line; do echo "$line" >> latency.hlog; sleep 1; done < %[3]s/slow.body
    teardown: |
      #!/bin/sh
      touch %[3]s/teardown.$PITWALL_HOST.$$
    merge:
      - {kpi: LatencyP99, how: histogram, file: latency.hlog, percentile: 99, unit: us, abort_above: 50000, abort_for: 2s}
`, load1, load2, dir))
	began := time.Now()
	got := st.Run(t, wire.RunRequest{Framework: "multihost-threshold"})
	took := time.Since(began)
	require.Equal(t, wire.StateAborted, got.State, got.Reason)
	st.RecordHistory(t, contract.WorkflowID(got.ID), "../../workflows/testdata/perftest-take-multihost-threshold.json")
	require.Contains(t, got.Reason, "aborted: LatencyP99 of the merged load was above 50000us for 2s")
	require.Less(t, took, 20*time.Second, "the 30 s scripts were stopped")
	stageAt(t, got, "threshold breached")
	require.Equal(t, map[string]int{load1: 1, load2: 1}, files(t, dir, "teardown"))
	require.InEpsilon(t, 100_000, kpiValue(t, got, "LatencyP99"), 0.001, "what the hosts wrote until then is merged")
	t.Logf("threshold abort after %s: %s", took.Round(time.Millisecond), got.Reason)
}
