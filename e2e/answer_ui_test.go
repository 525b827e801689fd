package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// answerHistory is six baseline tests on main of a framework with three
// KPIs and three iterations each, then a candidate on a branch whose
// latency is 50% higher (regressed), throughput 20% higher (improved) and
// memory the same (unchanged). Made once for the tests that read it.
var answerHistory struct {
	once      sync.Once
	base      []int64
	candidate *wire.Test
	err       error
}

func answerTests(t testing.TB) ([]int64, *wire.Test) {
	t.Helper()
	h := &answerHistory
	h.once.Do(func() {
		values := filepath.Join(testenv.ScriptDir(t), "values")
		st.Apply(t, fmt.Sprintf(`
name: answer-fw
execution:
  script: |
    #!/bin/sh
    set -- $(sed -n "${PITWALL_ITERATION:-1}p" %s)
    echo "Latency-ms, ${1}ms" > results.csv
    echo "Throughput, $2" >> results.csv
    echo "Memory-MB, $3" >> results.csv
kpis:
  - {name: Latency-ms, unit: ms, better: lower, threshold: 5%%}
  - {name: Throughput, better: higher, threshold: 3%%}
  - {name: Memory-MB, better: lower, threshold: 5%%}
repeat: 3
`, values))
		for i := range 6 {
			var lines []string
			for j := range 3 {
				d := float64((i+j)%3 - 1)
				lines = append(lines, fmt.Sprintf("%g %g %g", 100+d, 1000+10*d, 50+0.5*d))
			}
			setValues(t, values, lines...)
			got := st.Run(t, wire.RunRequest{Framework: "answer-fw", Branch: "main"})
			if got.State != wire.StateFinished {
				h.err = fmt.Errorf("baseline test %d %s: %s", got.ID, got.State, got.Reason)
				return
			}
			h.base = append(h.base, got.ID)
		}
		setValues(t, values, "150 1200 50.2", "151 1210 49.8", "149 1190 50")
		h.candidate = st.Run(t, wire.RunRequest{Framework: "answer-fw", Branch: "feature", Commit: "badc0ffee"})
		if h.candidate.State != wire.StateFinished {
			h.err = fmt.Errorf("candidate %s: %s", h.candidate.State, h.candidate.Reason)
		}
	})
	require.NoError(t, h.err)
	return h.base, h.candidate
}

// Compare with the baseline over HTTP: the baseline is the reference
// column, the KPI judged against six tests is strong evidence, deltas
// are coloured by verdict, the picker lists the framework's tests, and a
// bad or unknown test gets a clear answer.
func TestCompareWithBaseline(t *testing.T) {
	t.Parallel()
	base, c := answerTests(t)
	require.Equal(t, wire.VerdictRegressed, c.Verdict)

	code, html := tokenPage(t, st.Token, "GET", fmt.Sprintf("/compare?test=%d", c.ID), "")
	require.Equal(t, http.StatusOK, code)
	table := section(t, html, `<table id="kpis-baseline"`, `</table>`)
	require.Regexp(t, `(?s)<th>KPI</th>\s*<th class="num">Baseline <span class="muted">\(reference\)</span></th>\s*<th class="num">#`+fmt.Sprint(c.ID)+`</th>\s*<th class="num">Change</th>\s*<th>Verdict</th>\s*<th>Confidence</th>`, table)
	row := func(kpi string) string {
		at := strings.Index(table, `id="kpi-`+kpi+`"`)
		require.Positive(t, at, kpi)
		return table[at : at+strings.Index(table[at:], "</tr>")]
	}
	require.Regexp(t, `<span class="delta worse">\+50% \(99% CI \+\d+\.\.\+\d+%\)</span>`, row("Latency-ms"), "slower reads as a regression")
	require.Contains(t, row("Latency-ms"), "confidence-strong")
	require.Contains(t, row("Latency-ms"), "6 baseline tests")
	require.Contains(t, row("Latency-ms"), "18 values of 6 tests")
	require.Regexp(t, `<span class="delta better">\+20% `, row("Throughput"))
	require.Regexp(t, `<span class="delta">[+-]0\.\d\d% `, row("Memory-MB"), "unchanged is neutral")
	require.Less(t, strings.Index(table, `id="kpi-Latency-ms"`), strings.Index(table, `id="kpi-Memory-MB"`), "the regression first")
	for _, b := range base {
		require.Contains(t, section(t, html, `<p id="baseline-tests"`, `</p>`), fmt.Sprintf(`href="/tests/%d"`, b))
	}
	require.Contains(t, html, fmt.Sprintf(`href="/compare?ids=%d,%d,`, base[len(base)-1], c.ID), "side by side, the newest baseline first")
	picker := section(t, html, `<select id="test"`, `</select>`)
	require.Contains(t, picker, fmt.Sprintf(`<option value="%d" selected>`, c.ID))
	require.Contains(t, picker, fmt.Sprintf(`<option value="%d">`, base[0]))
	require.Contains(t, html, `id="compare-data"`, "the newest baseline test's charts overlaid")

	code, html = tokenPage(t, st.Token, "GET", "/compare?test=abc", "")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, html, "test must be a test ID")
	code, html = tokenPage(t, st.Token, "GET", "/compare?test=999999999", "")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, html, "test 999999999 not found")
}

// columns reads a table's header cells as the user sees them.
func columns(t *testing.T, ctx context.Context, table string) []string {
	t.Helper()
	return evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('`+table+` thead th')).map(th => th.innerText.trim())`)
}

// In a real browser at 1280 and 390 px: the test page leads with the
// summary line and the KPI table (KPI, Baseline, This test, Change,
// Verdict), the log collapsed; the KPI's baseline tests are one click
// away; compare with baseline puts the baseline first and colours the
// deltas by verdict; the picker opens another test.
func TestBrowserTestPageAnswerAndCompareWithBaseline(t *testing.T) {
	t.Parallel()
	base, c := answerTests(t)
	tctx := signedIn(t)
	for _, width := range []int64{1280, 390} {
		require.NoError(t, chromedp.Do(tctx,
			chromedp.EmulateViewport(width, 900),
			stack.Navigate(fmt.Sprintf("%s/tests/%d", st.URL, c.ID)),
			chromedp.WaitVisible(chromedp.CSS("#verdict-summary"))))
		summary := evalJS[string](t, tctx, `document.getElementById('verdict-summary').innerText`)
		require.Regexp(t, `^1 of 3 KPIs regressed: Latency-ms \+50% \(99% CI \+\d+\.\.\+\d+%\); 1 improved: Throughput \+20% \(99% CI \+\d+\.\.\+\d+%\); 1 unchanged\.$`, summary)
		require.Equal(t, []string{"KPI", "Baseline", "This test", "Change", "Verdict", "Links"}, columns(t, tctx, "#kpis"))
		// What a user sees without scrolling: the answer is in the first
		// screen, the KPI name and both values fit the width.
		top := evalJS[float64](t, tctx, `document.getElementById('verdict-summary').getBoundingClientRect().bottom`)
		require.Less(t, top, 900.0, "the summary is in the first screen at %d px", width)
		for _, col := range []int{1, 2, 3} {
			right := evalJS[float64](t, tctx, fmt.Sprintf(`document.querySelector('#kpis thead th:nth-child(%d)').getBoundingClientRect().right`, col))
			require.LessOrEqual(t, right, float64(width), "column %d is on screen at %d px", col, width)
		}
		require.False(t, evalJS[bool](t, tctx, `document.getElementById('log-box').open`), "the log is collapsed")
		require.Equal(t, "delta worse", evalJS[string](t, tctx, `document.querySelector('#kpis tr[data-kpi="Latency-ms"] .delta').className`))
		require.Equal(t, "delta", evalJS[string](t, tctx, `document.querySelector('#kpis tr[data-kpi="Memory-MB"] .delta').className`))
		require.Contains(t, evalJS[string](t, tctx, `document.querySelector('#kpis tr[data-kpi="Latency-ms"] .confidence').innerText`), "strong evidence")
		name := "testpage-answer"
		if width == 390 {
			name += "-phone"
		}
		shot(t, tctx, name, width)
	}
	// One click shows the KPI's baseline tests.
	require.NoError(t, chromedp.Do(tctx,
		chromedp.EmulateViewport(1280, 900),
		stack.Navigate(fmt.Sprintf("%s/tests/%d", st.URL, c.ID)),
		chromedp.WaitVisible(chromedp.CSS(`#kpis tr[data-kpi="Latency-ms"] .tp-basetests summary`)),
		chromedp.Click(chromedp.CSS(`#kpis tr[data-kpi="Latency-ms"] .tp-basetests summary`))))
	links := evalJS[[]string](t, tctx, `Array.from(document.querySelectorAll('#kpis tr[data-kpi="Latency-ms"] .tp-basetests a')).filter(a => a.offsetParent !== null).map(a => a.innerText)`)
	require.Len(t, links, len(base))
	require.Contains(t, links, fmt.Sprintf("#%d", base[0]))

	// The test page links to compare with baseline.
	require.NoError(t, chromedp.Do(tctx,
		chromedp.Click(chromedp.CSS("#compare")),
		chromedp.WaitVisible(chromedp.CSS("#kpis-baseline"))))
	for _, width := range []int64{1280, 390} {
		require.NoError(t, chromedp.Do(tctx, chromedp.EmulateViewport(width, 900)))
		cols := columns(t, tctx, "#kpis-baseline")
		require.Equal(t, []string{"KPI", "Baseline (reference)", fmt.Sprintf("#%d", c.ID), "Change", "Verdict", "Confidence"}, cols)
		classes := evalJS[map[string]string](t, tctx, `Object.fromEntries(Array.from(document.querySelectorAll('#kpis-baseline tbody tr')).map(r => [r.dataset.kpi, r.querySelector('.delta').className]))`)
		require.Equal(t, map[string]string{"Latency-ms": "delta worse", "Throughput": "delta better", "Memory-MB": "delta"}, classes)
		require.True(t, strings.HasPrefix(evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms .delta').innerText`), "+50%"),
			"a slower test reads +50%, against the baseline")
		name := "compare-baseline-first"
		if width == 390 {
			name += "-phone"
		}
		shot(t, tctx, name, width)
	}
	// The picker opens another test of the framework.
	require.NoError(t, chromedp.Do(tctx, chromedp.EmulateViewport(1280, 900)))
	_ = evalJS[bool](t, tctx, fmt.Sprintf(`(() => { const s = document.getElementById('test'); s.value = '%d'; s.dispatchEvent(new Event('change')); return true; })()`, base[len(base)-1]))
	waitJS(t, tctx, fmt.Sprintf(`location.search === '?test=%d' && !!document.getElementById('compare-test')`, base[len(base)-1]), 20*time.Second)
}

// shot saves the page at the width it is shown at (the screenshot helper
// always starts at 1280).
func shot(t *testing.T, ctx context.Context, name string, width int64) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s not taken: %v", name, err)
		return
	}
	require.NoError(t, writeScreenshot(name+".png", png))
}

func writeScreenshot(file string, png []byte) error {
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(screenshotDir, file), png, 0o644)
}

// In a real browser at 1280 and 390 px, a running test's page shows its
// stage, the iteration counter advancing, elapsed and expected time (from
// an earlier test of the framework), the KPIs of the iterations finished
// so far, and its charts growing without a reload.
func TestBrowserTestPageLiveProgress(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: answer-live
execution:
  script: |
    #!/bin/sh
    sleep 4
    echo "Latency-ms, $(( 100 + ${PITWALL_ITERATION:-1} ))ms" > results.csv
statistics:
  hosts: [%s]
  interval: 200ms
kpis:
  - {name: Latency-ms, unit: ms, better: lower}
repeat: 5
`, agentName))
	first := st.Run(t, wire.RunRequest{Framework: "answer-live"})
	require.Equal(t, wire.StateFinished, first.State, first.Reason)
	test, tctx := openRunning(t, "answer-live", "#progress")

	// The counter advances without a reload, and the KPIs of the
	// iterations finished so far appear.
	run := func() int {
		return evalJS[int](t, tctx, `+((document.getElementById('iteration') || {dataset: {}}).dataset.run || 0)`)
	}
	waitJS(t, tctx, `!!document.getElementById('iteration')`, 30*time.Second)
	seen := run()
	require.Less(t, seen, 5, "the page showed the test before its last iteration")
	waitJS(t, tctx, fmt.Sprintf(`+((document.getElementById('iteration') || {dataset: {}}).dataset.run || 0) > %d`, seen), 30*time.Second)
	require.Regexp(t, `^\d of 5$`, evalJS[string](t, tctx, `document.getElementById('iteration').textContent`))
	waitJS(t, tctx, `((document.getElementById('partial-kpis') || {}).innerText || '').includes('101 ms')`, 30*time.Second)
	require.Contains(t, evalJS[string](t, tctx, `document.getElementById('partial-kpis').innerText`), "#1")
	require.Contains(t, evalJS[string](t, tctx, `document.getElementById('expected').innerText`), "median of 1 earlier test with these parameters")
	require.NotEmpty(t, evalJS[string](t, tctx, `document.getElementById('stage').innerText`))
	require.NotEmpty(t, evalJS[string](t, tctx, `document.getElementById('elapsed').innerText`))
	require.True(t, evalJS[bool](t, tctx, `window.__samePage === true`), "the counter advanced without a reload")
	shot(t, tctx, "testpage-live", 1280)
	drawn := evalJS[int](t, tctx, `+((document.querySelector('#charts .chart[data-family="cpu"]') || {dataset: {}}).dataset.drawn || 0)`)
	// The charts grow with the samples of the later iterations, while
	// the test still has most of them to run (samples ship every 2 s, the
	// page polls every 3 s, and polling stops when the test ends).
	waitJS(t, tctx, fmt.Sprintf(`+((document.querySelector('#charts .chart[data-family="cpu"]') || {dataset: {}}).dataset.drawn || 0) > %d
		&& +(document.getElementById('charts').dataset.polls || 0) > 0`, drawn), 20*time.Second)
	require.True(t, evalJS[bool](t, tctx, `window.__samePage === true`), "the charts grew without a reload")

	require.NoError(t, chromedp.Do(tctx, chromedp.EmulateViewport(390, 900)))
	if seen = run(); seen < 5 {
		waitJS(t, tctx, fmt.Sprintf(`+((document.getElementById('iteration') || {dataset: {}}).dataset.run || 0) > %d`, seen), 30*time.Second)
	}
	right := evalJS[float64](t, tctx, `document.getElementById('iteration').getBoundingClientRect().right`)
	require.LessOrEqual(t, right, 390.0, "the counter is on screen on a phone")
	shot(t, tctx, "testpage-live-phone", 390)
	st.Wait(t, test.ID)
}

// openRunning starts a test of the framework and opens its page at
// 1280 px once sel shows, marked (window.__samePage) so that a reload
// is seen.
func openRunning(t *testing.T, framework, sel string) (*wire.Test, context.Context) {
	t.Helper()
	test := startTest(t, wire.RunRequest{Framework: framework})
	tctx := signedIn(t)
	require.NoError(t, chromedp.Do(tctx,
		chromedp.EmulateViewport(1280, 900),
		stack.Navigate(fmt.Sprintf("%s/tests/%d", st.URL, test.ID)),
		chromedp.WaitVisible(chromedp.CSS(sel))))
	require.True(t, evalJS[bool](t, tctx, `window.__samePage = true`))
	return test, tctx
}

// TestBrowserTestPageChartsAppearLive opens a test's page before its
// host has sent a sample (its after_setup hook holds the run back 10 s):
// the page has no chart then, and the charts appear while the test runs,
// without a reload (before, a series the page did not have waited for
// the reload after the test's end).
func TestBrowserTestPageChartsAppearLive(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: answer-charts-later
execution:
  script: |
    #!/bin/sh
    sleep 10
    echo "Latency-ms, 5ms" > results.csv
hooks:
  after_setup: "#!/bin/sh\nsleep 10\n"
statistics:
  hosts: [%s]
  interval: 200ms
`, agentName))
	test, tctx := openRunning(t, "answer-charts-later", "#charts")
	waitJS(t, tctx, `document.getElementById('charts').dataset.charts !== undefined`, 20*time.Second)
	require.Equal(t, "0", evalJS[string](t, tctx, `document.getElementById('charts').dataset.charts`),
		"the page opened before the host's first samples")
	waitJS(t, tctx, `+((document.querySelector('#charts .chart[data-family="cpu"]') || {dataset: {}}).dataset.drawn || 0) > 0`, 30*time.Second)
	// The test's end reloads the page: the same page means it still ran.
	require.True(t, evalJS[bool](t, tctx, `window.__samePage === true`), "the charts appeared while the test ran, without a reload")
	st.Wait(t, test.ID)
}
