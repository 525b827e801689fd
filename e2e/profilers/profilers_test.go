package profilers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/profiles"
	"github.com/pitwall/pitwall/internal/wire"
)

// hotFramework runs the hot benchmark with perf, perf stat and strace
// beside it, on the PIDs the script lists.
const hotFramework = `name: hot
title: A CPU-bound Go loop with a hot function
execution:
  script: |
    #!/bin/sh
    "$PITWALL_PARAM_BIN" "$PITWALL_PARAM_SECONDS" "$PITWALL_PARAM_SLOW" > results.csv &
    echo $! > pids
    wait
  timeout: 2m
parameters:
  - {name: bin}
  - {name: seconds, default: "4"}
  - {name: slow, default: "10", description: call main.slowPath every Nth iteration}
kpis:
  - {name: Rate, unit: it/s, better: higher, threshold: 5%}
profilers:
  - {kind: perf, delay: 500ms}
  - {kind: perf-stat, delay: 500ms, duration: 2s}
  - {kind: strace, delay: 500ms, duration: 2s}
`

func kpis(t *wire.Test) map[string]wire.KPI {
	m := map[string]wire.KPI{}
	for _, k := range t.KPIs {
		m[k.Name] = k
	}
	return m
}

func artifact(t *testing.T, id int64, path string) []byte {
	t.Helper()
	code, body := st.Page(t, fmt.Sprintf("/api/v1/tests/%d/artifacts/%s", id, path))
	require.Equal(t, http.StatusOK, code, "artifact %s of test %d", path, id)
	return []byte(body)
}

// TestProfilers runs the benchmark twice, the second calling the slow
// function five times as often: perf's profile shows the hot function,
// perf stat and strace give their KPIs, the test page draws the flame
// graph, and the compare page ranks the slow function first.
func TestProfilers(t *testing.T) {
	need(t)
	st.Apply(t, hotFramework)
	base := st.Run(t, wire.RunRequest{Framework: "hot", Params: map[string]string{"bin": hot}, Baseline: true})
	require.Equal(t, "finished", base.State, base.Reason)
	k := kpis(base)
	t.Logf("KPIs of the baseline: %v", k)
	require.Greater(t, k["Rate"].Value, 0.0)
	require.Greater(t, k["perf.samples"].Value, 10.0, "perf sampled the script's process")
	require.Greater(t, k["perf-stat.task-clock"].Value, 100.0, "perf stat counted the CPU time (ms) of 2 s of a busy loop")
	require.Equal(t, "ms", k["perf-stat.task-clock"].Unit)
	require.Contains(t, k, "perf-stat.context-switches")
	require.Contains(t, k, "perf-stat.page-faults")
	require.Greater(t, k["strace.syscalls"].Value, 0.0, "strace counted the Go runtime's system calls")
	require.Contains(t, k, "strace.syscall-time")
	require.Contains(t, k, "perf.cpu-time", "each profiler's own CPU time is a KPI")

	// The profile is pprof's, and its hot function holds most of the time.
	raw := artifact(t, base.ID, "profiles/script/perf.pb.gz")
	p, err := profile.Parse(bytes.NewReader(raw))
	require.NoError(t, err)
	root := profiles.Tree(p)
	hotSpin := root.Find("main.hotSpin")
	require.NotNil(t, hotSpin, "main.hotSpin is in the flame graph data")
	require.Greater(t, float64(hotSpin.Total)/float64(root.Total), 0.5)
	require.Contains(t, string(artifact(t, base.ID, "profiles/script/strace.csv")), "syscall,calls,errors,seconds")
	require.Contains(t, string(artifact(t, base.ID, "profiles/script/perf-stat.csv")), "task-clock")

	code, page := st.Page(t, fmt.Sprintf("/tests/%d", base.ID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `<svg class="flame"`)
	require.Contains(t, page, "main.hotSpin — ", "the page's flame graph holds the hot function")

	slower := st.Run(t, wire.RunRequest{Framework: "hot", Params: map[string]string{"bin": hot, "slow": "2"}, CompareTo: &base.ID})
	require.Equal(t, "finished", slower.State, slower.Reason)
	code, page = st.Page(t, fmt.Sprintf("/tests/%d", slower.ID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, fmt.Sprintf(`href="/compare?ids=%d,%d#profiles"`, base.ID, slower.ID),
		"the test's page links the differential graph against its baseline")

	code, page = st.Page(t, fmt.Sprintf("/compare?ids=%d,%d", base.ID, slower.ID))
	require.Equal(t, http.StatusOK, code)
	first := regexp.MustCompile(`class="flame-grown"[\s\S]*?<td><code>([^<]*)</code>`).FindStringSubmatch(page)
	require.NotNil(t, first, "the compare page lists the functions whose share grew")
	require.Equal(t, "main.slowPath", first[1], "the function called more often ranks first")
	require.Contains(t, page, `class="flame"`)

	browse(t, base.ID, slower.ID)
}

// browse draws both graphs in Chromium, zooms into the hot function with a
// click, and saves pictures of them.
func browse(t *testing.T, base, slower int64) {
	ctx := st.Browser(t)
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx,
		chromedp.EmulateViewport(1280, 900),
		stack.Navigate(fmt.Sprintf("%s/tests/%d", st.URL, base)),
		chromedp.WaitVisible(chromedp.CSS("section.flame-graph svg.flame"))))
	shot(t, tctx, "section.flame-graph", "flame-graph")
	const find = `Array.prototype.find.call(document.querySelectorAll("svg.flame g.fr"),
		function(g){ return g.querySelector("title").textContent.indexOf("main.hotSpin — ") === 0; })`
	ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`(function(){ var g = `+find+`;
		if (!g) return false; g.dispatchEvent(new MouseEvent("click", {bubbles: true})); return true; })()`))
	require.NoError(t, err)
	require.True(t, ok, "the hot function is a frame of the drawn graph")
	width, err := chromedp.Run(tctx, chromedp.Evaluate[string](find+`.querySelector("rect").getAttribute("width")`))
	require.NoError(t, err)
	require.Equal(t, "1200.00", width, "a click zooms the frame to the whole width")
	shot(t, tctx, "section.flame-graph", "flame-graph-zoomed")

	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(fmt.Sprintf("%s/compare?ids=%d,%d", st.URL, base, slower)),
		chromedp.WaitVisible(chromedp.CSS("#profiles svg.flame"))))
	top, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("table.flame-grown tr:nth-child(2) td code")))
	require.NoError(t, err)
	require.Equal(t, "main.slowPath", strings.TrimSpace(top))
	shot(t, tctx, "#profiles", "flame-graph-diff")
}

// shot saves a picture of the element sel as name.png in the screenshot
// folder; a picture is for people, so failing to take one is logged.
func shot(t *testing.T, ctx context.Context, sel, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		t.Logf("screenshot %s not taken: %v", name, err)
		return
	}
	require.NoError(t, os.MkdirAll(stack.ScreenshotDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(stack.ScreenshotDir, name+".png"), png, 0o644))
}
