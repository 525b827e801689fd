package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
)

// On a 390 px phone, compare with the baseline fits the screen: the page
// does not scroll sideways, and the regressed KPI's change and verdict are
// on screen.
func TestBrowserCompareBaselineFitsPhone(t *testing.T) {
	t.Parallel()
	_, c := answerTests(t)
	tctx := signedIn(t)
	require.NoError(t, chromedp.Do(tctx,
		chromedp.EmulateViewport(390, 900),
		stack.Navigate(fmt.Sprintf("%s/compare?test=%d", st.URL, c.ID)),
		chromedp.WaitVisible(chromedp.CSS("#kpis-baseline"))))
	// Laid out in its final fonts before anything is measured.
	waitJS(t, tctx, `document.readyState === 'complete' && document.fonts.status === 'loaded'`, 20*time.Second)
	require.LessOrEqual(t, evalJS[int](t, tctx, `document.documentElement.scrollWidth`), 390, "the page does not scroll sideways")
	// The regressed KPI's change and verdict are on the screen, not
	// behind a sideways scroll.
	for _, sel := range []string{"#kpi-Latency-ms .delta", "#kpi-Latency-ms .badge.verdict-regressed", "#kpi-Latency-ms .confidence"} {
		box := evalJS[[]float64](t, tctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || !e.offsetParent) return []; const r = e.getBoundingClientRect(); return [r.left, r.right, r.width]; })()`, sel))
		require.Len(t, box, 3, "%s is shown", sel)
		require.GreaterOrEqual(t, box[0], 0.0, sel)
		require.LessOrEqual(t, box[1], 390.0, "%s is on screen", sel)
		require.Positive(t, box[2], sel)
		// Not cut off by its cell nor hidden under the next one.
		require.True(t, evalJS[bool](t, tctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q), c = e.closest('td').getBoundingClientRect(), r = e.getBoundingClientRect();
			return r.right <= c.right + 1 && r.left >= c.left - 1; })()`, sel)), "%s fits its cell", sel)
	}
	require.True(t, strings.HasPrefix(evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms .delta').innerText`), "+50%"))
	require.Equal(t, "regressed", strings.TrimSpace(evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms .badge.verdict-regressed').innerText`)))
	// Values are in the KPI's unit, and each says what it is.
	require.Contains(t, evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms td.cmp-base').innerText`), "100 ms")
	require.Contains(t, evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms td.cmp-test').innerText`), "150 ms")
	require.Equal(t, `"Change"`, evalJS[string](t, tctx, `getComputedStyle(document.querySelector('#kpi-Latency-ms td.cmp-change'), '::before').content`))
	shot(t, tctx, "compare-baseline-phone-fits", 390)
}

// shownIDs are the test IDs of a table's rows, in the order shown.
func shownIDs(t *testing.T, ctx context.Context, table string) []int64 {
	t.Helper()
	return evalJS[[]int64](t, ctx, `Array.from(document.querySelectorAll('`+table+` tr[data-test]')).map((r) => +r.dataset.test)`)
}

// clickAndLoad clicks an element that loads another page and waits for
// the new page to have ready.
func clickAndLoad(t *testing.T, ctx context.Context, click, ready string) {
	t.Helper()
	require.True(t, evalJS[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false;
		window.__old = true; e.click(); return true; })()`, click)), click)
	// The whole new page: an element is there before the rows after it.
	waitJS(t, ctx, fmt.Sprintf(`!window.__old && document.readyState !== 'loading' && !!document.querySelector(%q)`, ready), 20*time.Second)
}

// /tests sorts on the server: a click on a header orders every test that
// matches, not the page shown, and the next page continues in that order;
// an unknown column is a clear 400.
func TestBrowserTestsSortAcrossPages(t *testing.T) {
	t.Parallel()
	base, c := answerTests(t)
	tctx := signedIn(t)
	require.NoError(t, chromedp.Do(tctx,
		chromedp.EmulateViewport(1280, 900),
		stack.Navigate(st.URL+"/tests?framework=answer-fw&limit=3"),
		chromedp.WaitVisible(chromedp.CSS("#results"))))
	require.Equal(t, []int64{c.ID, base[5], base[4]}, shownIDs(t, tctx, "#results"), "newest first by default")

	// Test, ascending: the oldest three, which the first page did not show.
	clickAndLoad(t, tctx, `#results th[data-key="test"]`, "#results")
	require.Contains(t, evalJS[string](t, tctx, `location.search`), "sort=test")
	require.Equal(t, base[:3], shownIDs(t, tctx, "#results"))
	require.Equal(t, "ascending", evalJS[string](t, tctx, `document.querySelector('#results th[data-key="test"]').getAttribute('aria-sort')`))
	clickAndLoad(t, tctx, "#next-page", "#results")
	require.Equal(t, base[3:6], shownIDs(t, tctx, "#results"), "the next page continues the order")
	clickAndLoad(t, tctx, "#next-page", "#results")
	require.Equal(t, []int64{c.ID}, shownIDs(t, tctx, "#results"))

	// Branch, ascending: the feature branch's test first, then main's in
	// ID order (ties by ID), across the page boundary.
	clickAndLoad(t, tctx, `#results th[data-key="branch"]`, "#results")
	require.Equal(t, []int64{c.ID, base[0], base[1]}, shownIDs(t, tctx, "#results"))
	clickAndLoad(t, tctx, "#next-page", "#results")
	require.Equal(t, base[2:5], shownIDs(t, tctx, "#results"))
	// Descending on a second click, from the first page again.
	clickAndLoad(t, tctx, `#results th[data-key="branch"]`, "#results")
	require.Contains(t, evalJS[string](t, tctx, `location.search`), "dir=desc")
	require.Equal(t, []int64{base[5], base[4], base[3]}, shownIDs(t, tctx, "#results"))
	// The filter form keeps the order.
	clickAndLoad(t, tctx, `#search button[type="submit"]`, "#results")
	require.Contains(t, evalJS[string](t, tctx, `location.search`), "sort=branch")
	require.Equal(t, "descending", evalJS[string](t, tctx, `document.querySelector('#results th[data-key="branch"]').getAttribute('aria-sort')`))
	screenshot(t, tctx, "tests-sorted-server", false)

	// The API sorts the same way; unknown columns and directions are refused.
	var list struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
		Next string `json:"next"`
	}
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/tests?framework=answer-fw&limit=3&sort=test&dir=asc&cursor=3", "", nil, &list))
	require.Len(t, list.Items, 3)
	require.Equal(t, base[3], list.Items[0].ID)
	require.Equal(t, "6", list.Next)
	code, html := tokenPage(t, st.Token, "GET", "/tests?sort=bogus", "")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, html, `sort &#34;bogus&#34; is not one of branch, commit, created, framework, owner, state, test, verdict`)
	code, _ = tokenPage(t, st.Token, "GET", "/tests?sort=test&dir=sideways", "")
	require.Equal(t, http.StatusBadRequest, code)
}

// The dashboard redraws its live part every 2 s; a table a user sorted
// stays sorted across the redraws.
func TestBrowserDashboardKeepsSortAcrossRepoll(t *testing.T) {
	t.Parallel()
	answerTests(t) // some ended tests to list
	tctx := signedIn(t)
	require.NoError(t, chromedp.Do(tctx,
		chromedp.EmulateViewport(1280, 900),
		stack.Navigate(st.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#tests"))))
	ids := func() []int64 { return shownIDs(t, tctx, "#tests") }
	require.True(t, slices.IsSortedFunc(ids(), func(a, b int64) int { return int(b - a) }), "newest first")
	require.True(t, evalJS[bool](t, tctx, `(() => {
		const th = Array.from(document.querySelectorAll('#tests th')).find((h) => h.textContent.trim() === 'Test');
		th.click(); return true; })()`))
	require.True(t, slices.IsSorted(ids()), "ascending after a click: %v", ids())
	// Wait for two redraws: the table element is replaced each time.
	for range 2 {
		require.True(t, evalJS[bool](t, tctx, `(document.getElementById('tests').__drawn = true)`))
		waitJS(t, tctx, `!!document.getElementById('tests') && !document.getElementById('tests').__drawn`, 15*time.Second)
	}
	got := ids()
	require.Greater(t, len(got), 1)
	require.True(t, slices.IsSorted(got), "still ascending after the re-poll: %v", got)
	require.Equal(t, "ascending", evalJS[string](t, tctx, `Array.from(document.querySelectorAll('#tests th')).find((h) => h.textContent.trim() === 'Test').getAttribute('aria-sort')`))
	screenshot(t, tctx, "dashboard-sorted", false)
}

// The trends points table sorts on the server across its pages; the
// change point's label opens the before/after compare (the first test
// after the change against those before it, baseline first); the y axis
// reads in the KPI's unit.
func TestBrowserTrendsSortChangePointAndAxis(t *testing.T) {
	t.Parallel()
	var runs []seedRun
	for i := range 60 {
		noise := 0.5 * float64(i%3-1)
		latency := 100 + noise
		if i >= 40 {
			latency = 125 + noise
		}
		runs = append(runs, seedRun{"main", latency, 1000, ""})
	}
	ids := seedTrend(t, "trend-sorted", runs)
	code, html := tokenPage(t, st.Token, "GET", "/trends?framework=trend-sorted&kpi=Latency-ms&sort=bogus", "")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, html, "sort is a column of the points table (test, value, verdict, branch, params, commit, date)")
	code, _ = tokenPage(t, st.Token, "GET", "/trends?framework=trend-sorted&kpi=Latency-ms&sort=value&dir=up", "")
	require.Equal(t, http.StatusBadRequest, code)
	// The order a sort by value must give: value, then test ID.
	want := slices.Clone(ids)
	value := map[int64]float64{}
	for i, id := range ids {
		value[id] = runs[i].latency
	}
	slices.SortStableFunc(want, func(a, b int64) int {
		if value[a] != value[b] {
			if value[a] < value[b] {
				return -1
			}
			return 1
		}
		return int(a - b)
	})
	ctx := browser(t)
	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, width := range []int64{1280, 390} {
		require.NoError(t, chromedp.Do(tctx,
			chromedp.EmulateViewport(width, 900),
			stack.Navigate(st.URL+"/trends?framework=trend-sorted&kpi=Latency-ms"),
			chromedp.WaitVisible(chromedp.CSS("#points"))))
		waitJS(t, tctx, `(() => { const c = document.getElementById('trend-chart'); return !!c && !!c._uplot && +c.dataset.drawn > 0; })()`, 30*time.Second)

		// The y axis: each label in the KPI's unit, by the shared formatter.
		labels := evalJS[[]string](t, tctx, `document.getElementById('trend-chart')._uplot.axes[1]._values`)
		require.NotEmpty(t, labels)
		for _, l := range labels {
			require.Regexp(t, `^\d+(\.\d+)? ms$`, l, "a y axis label at %d px", width)
		}
		require.Equal(t, evalJS[string](t, tctx, `Pitwall.units.format(125, 'ms')`), "125 ms")
		// Wide enough: the longest label, measured in the axis's font,
		// fits beside the ticks (none clipped at the chart's left edge).
		fits := evalJS[[]float64](t, tctx, `(() => {
			const u = document.getElementById('trend-chart')._uplot, ax = u.axes[1];
			u.ctx.save(); u.ctx.font = ax.font[0];
			const w = Math.max(...ax._values.map((v) => u.ctx.measureText(v).width));
			u.ctx.restore();
			return [w + ax.gap + ax.ticks.size, ax._size * (window.devicePixelRatio || 1)]; })()`)
		require.LessOrEqual(t, fits[0], fits[1], "the y axis labels fit at %d px", width)

		// Value, ascending: the 50 lowest of all 60 on page 1, the rest on 2.
		clickAndLoad(t, tctx, `#points th[data-key="value"]`, "#points")
		require.Contains(t, evalJS[string](t, tctx, `document.getElementById('points-title').innerText`), "60 in all, by value, ascending")
		require.Equal(t, want[:50], shownIDs(t, tctx, "#points"))
		clickAndLoad(t, tctx, ".pager-next", "#points")
		require.Contains(t, evalJS[string](t, tctx, `location.search`), "sort=value")
		require.Equal(t, want[50:], shownIDs(t, tctx, "#points"), "page 2 continues the order")
		require.Equal(t, "51–60 of 60", evalJS[string](t, tctx, `document.querySelector('.pager-range').innerText`))
		// Descending: the highest first.
		clickAndLoad(t, tctx, `#points th[data-key="value"]`, "#points")
		got := shownIDs(t, tctx, "#points")
		require.Len(t, got, 50, "at %d px, %s", width, evalJS[string](t, tctx, `location.search + ' ' + document.getElementById('points-title').innerText`))
		require.Equal(t, 125.5, value[got[0]])
		require.LessOrEqual(t, evalJS[int](t, tctx, `document.documentElement.scrollWidth`), int(width))

		// The change point's label: its test against the tests before it.
		step := ids[40]
		require.Equal(t, fmt.Sprintf("/compare?test=%d#kpi-Latency-ms", step),
			evalJS[string](t, tctx, `document.querySelector('#trend-chart a.cp-link').getAttribute('href')`))
		require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#trend-chart a.cp-link"), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS("#kpis-baseline"))))
		require.Equal(t, []string{"KPI", "Baseline (reference)", fmt.Sprintf("#%d", step), "Change", "Verdict", "Confidence"},
			columns(t, tctx, "#kpis-baseline"), "before (the baseline) first, then the test after the change")
		before := evalJS[[]int64](t, tctx, `Array.from(document.querySelectorAll('#baseline-tests a')).map((a) => +a.innerText.slice(1))`)
		require.NotEmpty(t, before)
		for _, b := range before {
			require.Less(t, b, step, "the baseline is the tests before the change")
			require.GreaterOrEqual(t, b, ids[0])
		}
		require.True(t, strings.HasPrefix(evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms .delta').innerText`), "+25"),
			"the change reads +25%%, the baseline as reference")
		require.Equal(t, "delta worse", evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms .delta').className`))
		require.Equal(t, "regressed", strings.TrimSpace(evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms .badge').innerText`)))
		require.LessOrEqual(t, evalJS[int](t, tctx, `document.documentElement.scrollWidth`), int(width))
	}
}

// A chart of one sample (a test shorter than the sampling interval) is
// drawn on an axis of its own size, not on the years uPlot gives a single
// instant; the trends y axis is wide enough for its labels.
func TestBrowserChartOfOneSample(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	waitJS(t, tctx, `!!(window.Pitwall && Pitwall.units && Pitwall.chart)`, 10*time.Second)
	require.True(t, evalJS[bool](t, tctx, `(() => {
		const el = document.createElement('div');
		el.id = 'one-sample';
		el.style.width = '600px';
		document.querySelector('main').appendChild(el);
		const t0 = 1790000000;
		window.__one = Pitwall.chart(el, {title: 'cpu', unit: '%', x: [t0 + 0.05],
			series: [{label: 'user', values: [87.5]}],
			marks: [{x: t0, label: 'monitors started'}, {x: t0 + 0.02, label: 'script started'}, {x: t0 + 0.07, label: 'script ended'}]});
		return true; })()`))
	// uPlot draws on its first commit, just after.
	waitJS(t, tctx, `document.getElementById('one-sample').dataset.markRows !== undefined`, 5*time.Second)
	span := evalJS[float64](t, tctx, `window.__one.scales.x.max - window.__one.scales.x.min`)
	require.Less(t, span, 2.0, "one sample and its marks span seconds, not years")
	require.Greater(t, span, 0.0)
}
