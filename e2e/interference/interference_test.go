package interference

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// cpuBench is a CPU-bound benchmark: one busy shell loop per CPU, each
// doing the same fixed work, timed as the KPI Elapsed-ms.
const cpuBench = `
name: %[1]s
execution:
  hosts: [%[2]s]
  timeout: 2m
  script: |
    #!/bin/sh
    n=$(nproc)
    t0=$(date +%%s%%N)
    w=0
    while [ $w -lt $n ]; do
      ( i=0; while [ $i -lt "$1" ]; do i=$((i+1)); done ) &
      w=$((w+1))
    done
    wait
    t1=$(date +%%s%%N)
    echo "Elapsed-ms, $(( (t1 - t0) / 1000000 ))" > results.csv
parameters: [{name: work, default: "100000"}]
kpis: [{name: Elapsed-ms, unit: ms, better: lower}]
%[3]s`

// kpi is a test's value of a KPI.
func kpi(t *testing.T, x *wire.Test, name string) float64 {
	t.Helper()
	for _, k := range x.KPIs {
		if k.Name == name {
			return k.Value
		}
	}
	t.Fatalf("test %d has no KPI %s: %+v", x.ID, name, x.KPIs)
	return 0
}

// stage is a test's first timeline stage of that name.
func stage(t *testing.T, x *wire.Test, name string) wire.Stage {
	t.Helper()
	for _, s := range x.Timeline {
		if s.Stage == name {
			return s
		}
	}
	t.Fatalf("test %d has no stage %q; timeline: %+v", x.ID, name, x.Timeline)
	return wire.Stage{}
}

func finished(t *testing.T, x *wire.Test) *wire.Test {
	t.Helper()
	require.Equal(t, wire.StateFinished, x.State, "test %d: %s", x.ID, x.Reason)
	return x
}

// A CPU interference run measurably slows a CPU-bound benchmark: the same
// script with stress-ng loading every CPU for the whole run takes far
// longer than without. The runs alternate, so a busy machine slows both.
// Four workers per CPU: the test machine is shared (the stack's own
// Temporal and PostgreSQL, other builds), and against L other runnable
// tasks N workers slow the script by (L+N)/L, so more workers keep the
// effect large when L is.
func TestCPUInterferenceSlowsACPUBoundBenchmark(t *testing.T) {
	workers := 4 * runtime.NumCPU()
	st.Apply(t, fmt.Sprintf(cpuBench, "cpu-bench", agentName, ""))
	st.Apply(t, fmt.Sprintf(cpuBench, "cpu-bench-interfered", agentName, fmt.Sprintf("interference: [{kind: cpu, workers: %d}]\n", workers)))
	var plain, loaded []float64
	var last *wire.Test
	for range 2 {
		a := finished(t, st.Run(t, wire.RunRequest{Framework: "cpu-bench"}))
		plain = append(plain, kpi(t, a, "Elapsed-ms"))
		b := finished(t, st.Run(t, wire.RunRequest{Framework: "cpu-bench-interfered"}))
		loaded = append(loaded, kpi(t, b, "Elapsed-ms"))
		last = b
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	ratio := mean(loaded) / mean(plain)
	t.Logf("CPU-bound benchmark on %d CPUs, Elapsed-ms without interference %v, with stress-ng --cpu %d %v: %.2fx slower",
		runtime.NumCPU(), plain, workers, loaded, ratio)
	require.Greater(t, ratio, 1.3, "stress-ng on every CPU must slow a benchmark that wants every CPU")

	// The timeline says when it ran: from the script's start to its end.
	began := stage(t, last, "interference cpu began")
	stopped := stage(t, last, "interference cpu stopped")
	started := stage(t, last, "script started")
	ended := stage(t, last, "script ended")
	require.Contains(t, began.Reason, fmt.Sprintf("%s, script: stress-ng --cpu %d --cpu-load 100 --timeout", agentName, workers))
	require.InDelta(t, 0, began.At.Sub(started.At).Seconds(), 1, "start 0: with the script")
	require.InDelta(t, 0, stopped.At.Sub(ended.At).Seconds(), 2, "no duration: until the script ends")
	require.Contains(t, stopped.Reason, "script ended")
}

// A generator with a start and a duration runs from its offset for its
// duration; the test page shades that span on every chart, the host's CPU
// series shows the load inside it, and the compare page shades it too.
func TestInterferenceTimingBandsAndSeries(t *testing.T) {
	st.Apply(t, fmt.Sprintf(`
name: cpu-band
execution: {hosts: [%s], timeout: 1m, script: "#!/bin/sh\nsleep 7\necho 'Slept, 7' > results.csv\n"}
statistics: {interval: 250ms}
interference: [{kind: cpu, start: 2s, duration: 3s, load: 100%%}]
`, agentName))
	x := finished(t, st.Run(t, wire.RunRequest{Framework: "cpu-band"}))
	started := stage(t, x, "script started")
	began := stage(t, x, "interference cpu began")
	stopped := stage(t, x, "interference cpu stopped")
	t.Logf("script started %s; interference began +%.2fs, stopped +%.2fs (%s)", started.At.Format(time.RFC3339Nano),
		began.At.Sub(started.At).Seconds(), stopped.At.Sub(started.At).Seconds(), stopped.Reason)
	// Its process starts a supervisor's start after its time: 15 ms on an
	// idle host, up to a second on a shared 2-core machine under load.
	after := began.At.Sub(started.At).Seconds()
	require.GreaterOrEqual(t, after, 1.9, "it starts 2s after the script")
	require.Less(t, after, 3.2, "it starts 2s after the script")
	require.InDelta(t, 3, stopped.At.Sub(began.At).Seconds(), 0.9, "and runs 3s")
	require.Contains(t, stopped.Reason, "its duration")

	// The test page's chart data holds the band, at the stages' times.
	code, page := st.Page(t, fmt.Sprintf("/tests/%d", x.ID))
	require.Equal(t, http.StatusOK, code)
	m := regexp.MustCompile(`(?s)<script[^>]*id="tp-charts"[^>]*>(.*?)</script>`).FindStringSubmatch(page)
	require.NotNil(t, m, "the test page has its chart data")
	var charts struct {
		Bands []struct {
			From, To float64
			Label    string
			Kind     string
		} `json:"bands"`
	}
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &charts))
	require.Len(t, charts.Bands, 1)
	b := charts.Bands[0]
	require.Equal(t, "cpu", b.Kind)
	require.InDelta(t, float64(began.At.UnixMilli())/1000, b.From, 0.002)
	require.InDelta(t, float64(stopped.At.UnixMilli())/1000, b.To, 0.002)

	// The host's CPU is busier inside the band than outside it.
	var series wire.List[wire.Series]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/series?points=600", x.ID), "", nil, &series))
	idx := slices.IndexFunc(series.Items, func(s wire.Series) bool { return s.Metric == "cpu.user" })
	require.GreaterOrEqual(t, idx, 0, "the host's cpu.user series")
	cpu := series.Items[idx]
	var in, out []float64
	for i, ts := range cpu.TS {
		switch at := time.UnixMilli(ts); {
		case at.After(began.At.Add(500*time.Millisecond)) && at.Before(stopped.At):
			in = append(in, cpu.Values[i])
		case at.After(stopped.At.Add(500*time.Millisecond)) && at.Before(stage(t, x, "script ended").At), at.After(started.At) && at.Before(began.At):
			out = append(out, cpu.Values[i])
		}
	}
	avg := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(max(len(v), 1))
	}
	t.Logf("cpu.user inside the band: mean %.1f over %d samples; outside: mean %.1f over %d", avg(in), len(in), avg(out), len(out))
	require.NotEmpty(t, in)
	require.NotEmpty(t, out)
	require.Greater(t, avg(in), avg(out)+10, "the load shows in the host's CPU inside the band")

	// In Chromium: every chart is drawn with the band; the compare page too.
	ctx := st.Browser(t)
	fams := st.DrawnCharts(t, ctx, x.ID, "interference-band")
	require.NotEmpty(t, fams)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`Array.from(document.querySelectorAll('#charts .chart')).filter(e => e.dataset.bands === "1").length`))
	require.NoError(t, err)
	require.Equal(t, len(fams), n, "every drawn chart has the band")
	// The host's CPU chart alone, for docs/interference.md.
	if png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`#charts .chart[data-family="cpu"]`))); err == nil {
		_ = os.WriteFile(filepath.Join(stack.ScreenshotDir, "interference-cpu-chart.png"), png, 0o644)
	}

	plain := finished(t, st.Run(t, wire.RunRequest{Framework: "cpu-band"}))
	_ = plain
	require.NoError(t, chromedp.Do(ctx, stack.Navigate(fmt.Sprintf("%s/compare?ids=%d,%d", st.URL, x.ID, plain.ID)),
		chromedp.WaitVisible(chromedp.CSS("#compare-charts .chart"))))
	var bands []string
	require.Eventually(t, func() bool {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll('#compare-charts .chart')).map(e => e.dataset.bands || "")`))
		bands = got
		return err == nil && len(got) > 0
	}, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, "2", bands[0], "both tests' bands on the compare page")
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90)); err == nil {
		_ = os.MkdirAll(stack.ScreenshotDir, 0o755)
		_ = os.WriteFile(filepath.Join(stack.ScreenshotDir, "interference-compare.png"), png, 0o644)
	}
}

// stressOf lists the live stress-ng processes of this stack's test id.
func stressOf(id int64) []int { return procsOf(id, "stress-ng") }

// procsOf lists the live processes named comm... of this stack's test id
// (by their working directory, the test's home on the agent).
func procsOf(id int64, comm string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	home := fmt.Sprintf("/tests/%d/home", id)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || !strings.HasPrefix(string(name), comm) {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && strings.HasPrefix(cwd, st.Dir) && strings.HasSuffix(cwd, home) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// anyStress lists every live stress-ng process on the machine.
func anyStress() []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.HasPrefix(string(comm), "stress-ng") {
			cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
			out = append(out, e.Name()+" "+strings.TrimSpace(string(comm))+" in "+cwd)
		}
	}
	return out
}

// Aborting a test while its generators run leaves no stress-ng behind.
func TestAbortStopsInterference(t *testing.T) {
	st.Apply(t, fmt.Sprintf(`
name: cpu-abort
execution: {hosts: [%s], timeout: 1m, script: "#!/bin/sh\nsleep 50\n"}
interference:
  - {kind: cpu, workers: 2, load: 30%%}
  - {kind: memory, size: 16MiB, start: 1s}
  - {kind: network, bandwidth: 10M}
`, agentName))
	x, err := st.Submit(t.Context(), wire.RunRequest{Framework: "cpu-abort"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(stressOf(x.ID)) >= 3 && len(procsOf(x.ID, "iperf3")) >= 2 },
		60*time.Second, 50*time.Millisecond, "the cpu, memory and network generators run")
	t.Logf("stress-ng processes of test %d before the abort: %v", x.ID, stressOf(x.ID))

	body, _ := json.Marshal(map[string]string{"reason": "interference check"})
	require.Equal(t, http.StatusAccepted, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/abort", x.ID), "application/json", body, nil))
	got := st.Wait(t, x.ID)
	require.Equal(t, wire.StateAborted, got.State)
	require.Eventually(t, func() bool { return len(stressOf(x.ID)) == 0 }, 5*time.Second, 20*time.Millisecond,
		"no stress-ng of the aborted test is left: %v", stressOf(x.ID))
	require.Empty(t, procsOf(x.ID, "iperf3"), "nor iperf3")
	t.Logf("stress-ng processes anywhere after the abort: %v", anyStress())
}
