package e2e

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/judge"
	"github.com/pitwall/pitwall/internal/store"
)

// seedRun is one finished test a trend is seeded with.
type seedRun struct {
	branch     string
	latency    float64
	throughput float64
	// p is the value of the parameter p, "" for none.
	p string
}

// seedTrend applies a framework with two KPIs (Latency-ms, lower is
// better, 5%; Throughput, higher is better, 3%) and stores its finished
// tests straight in the database, oldest first, each judged by
// internal/judge as the collate stage judges a test: the verdicts, change
// points and accepted levels the page shows are the product's own. It
// returns the tests' IDs in order. (Running a hundred tests through the
// agent would take minutes and show nothing more about the page.)
func seedTrend(t *testing.T, name string, runs []seedRun) []int64 {
	t.Helper()
	st.Apply(t, fmt.Sprintf(`
name: %s
execution:
  script: |
    #!/bin/sh
    echo "Latency-ms, 1ms" > results.csv
kpis:
  - {name: Latency-ms, unit: ms, better: lower, threshold: 5%%}
  - {name: Throughput, unit: req/s, better: higher, threshold: 3%%}
`, name))
	ctx := context.Background()
	s := store.New(st.Pool)
	ids := make([]int64, len(runs))
	start := time.Now().Add(-time.Duration(len(runs)) * time.Hour)
	for i, r := range runs {
		at := start.Add(time.Duration(i) * time.Hour)
		params := "[]"
		if r.p != "" {
			params = fmt.Sprintf(`[{"name": "p", "value": %q}]`, r.p)
		}
		require.NoError(t, st.Pool.QueryRow(ctx, `
			INSERT INTO tests (framework_id, framework_version, state, commit_sha, branch, owner, created_at, updated_at, ended_at, params)
			SELECT f.id, f.current_version, 'finished', md5($2::text || $3::int::text), $2, 'admin', $4::timestamptz, $4::timestamptz,
			       $4::timestamptz + interval '40 seconds', $5::jsonb
			FROM frameworks f WHERE f.team = 'default' AND f.name = $1 RETURNING id`,
			name, r.branch, i, at, params).Scan(&ids[i]))
		_, err := st.Pool.Exec(ctx, `INSERT INTO test_kpis (test_id, iteration, name, value, unit, raw)
			VALUES ($1, 1, 'Latency-ms', $2, 'ms', $3), ($1, 1, 'Throughput', $4, 'req/s', $5)`,
			ids[i], r.latency, fmt.Sprint(r.latency, "ms"), r.throughput, fmt.Sprint(r.throughput))
		require.NoError(t, err)
		_, err = judge.Judge(ctx, s, ids[i])
		require.NoError(t, err)
	}
	return ids
}

// In a real browser at 1280 and 390 px, the trends page of a KPI with a
// history on main (a 25% step after 40 tests) and three tests of a
// feature branch: main's line alone by default, the feature branch as a
// line of its own when ticked, points in their verdict's colour, the
// threshold band, the change point linked to the compare of the tests
// either side of it, the points table paged newest first, and the
// framework's KPIs as small multiples.
func TestBrowserTrendsBranchesVerdictsAndPages(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	var runs []seedRun
	var mainAt []int // index in runs of each main test
	for i := range 60 {
		noise := 0.5 * float64(i%3-1)
		latency, throughput := 100+noise, 1000+2*noise
		if i >= 40 {
			latency, throughput = 125+noise, 800+2*noise
		}
		switch i {
		case 20:
			runs = append(runs, seedRun{"feature/fast-path", 131, 1001, ""})
		case 30:
			runs = append(runs, seedRun{"feature/fast-path", 90, 1100, ""})
		case 50:
			runs = append(runs, seedRun{"feature/fast-path", 99.8, 999, ""})
		}
		mainAt = append(mainAt, len(runs))
		runs = append(runs, seedRun{"main", latency, throughput, ""})
	}
	ids := seedTrend(t, "trend-branches", runs)
	main := make([]int64, len(mainAt))
	for i, at := range mainAt {
		main[i] = ids[at]
	}
	feature := []int64{ids[20], ids[31], ids[52]}
	cps := changePoints(t, "trend-branches")
	var step int64
	for _, c := range cps {
		if !c.Weak && c.DeltaPct > 20 {
			step = c.TestID
		}
	}
	require.Equal(t, main[40], step, "the step is a change point of Latency-ms: %+v", cps)

	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	kpiPage := st.URL + "/trends?framework=trend-branches&kpi=Latency-ms"
	chartDrawn := `(() => { const c = document.getElementById('trend-chart');
		return !!c && !!c.querySelector('canvas') && +c.dataset.drawn > 0; })()`
	// pixel reads the colour drawn at the centre of the point of test id.
	pixel := func(id int64) string {
		return evalJS[string](t, tctx, fmt.Sprintf(`(() => {
			const el = document.getElementById('trend-chart'), u = el._uplot;
			const d = JSON.parse(document.getElementById('trend-data').textContent);
			const i = d.ids.indexOf(%d);
			const x = Math.round(u.valToPos(d.x[i], 'x', true)), y = Math.round(u.valToPos(d.y[i], 'y', true));
			const p = u.ctx.getImageData(x, y, 1, 1).data;
			return '#' + [p[0], p[1], p[2]].map((v) => v.toString(16).padStart(2, '0')).join('');
		})()`, id))
	}
	const red, green, grey, mainBlue = "#dc2626", "#16a34a", "#9ca3af", "#2563eb"

	for _, width := range []int64{1280, 390} {
		t.Logf("at %d px", width)
		require.NoError(t, chromedp.Do(tctx,
			chromedp.EmulateViewport(width, 900),
			stack.Navigate(kpiPage),
			chromedp.WaitVisible(chromedp.CSS("#points"))))
		waitJS(t, tctx, chartDrawn, 30*time.Second)

		// Main only, by default: one line, main's 60 points.
		require.True(t, evalJS[bool](t, tctx, `document.querySelector('#t-branches input[value="main"]').checked`))
		require.False(t, evalJS[bool](t, tctx, `document.querySelector('#t-branches input[value="feature/fast-path"]').checked`),
			"a feature branch is not drawn into main's trend by default")
		require.Equal(t, []string{"main"}, evalJS[[]string](t, tctx,
			`[...document.querySelectorAll('#trend-lines li')].map((li) => li.textContent.trim())`))
		require.Equal(t, []string{"main"}, evalJS[[]string](t, tctx,
			`[...document.querySelectorAll('#trend-chart .u-legend .u-series')].map((r) => r.innerText.trim())`),
			"the chart's legend has main's line alone")
		require.Equal(t, "60", evalJS[string](t, tctx, `document.getElementById('trend-chart').dataset.drawn`))

		// Points in their verdict's colour: the newest (after the step,
		// not accepted) is regressed; drawn last, it is on top at any width.
		require.Equal(t, red, pixel(main[59]), "a regressed point is red")
		if width == 1280 { // at 390 px neighbouring points touch
			require.Equal(t, grey, pixel(main[0]), "the first test had no baseline: grey")
			require.Equal(t, mainBlue, pixel(main[30]), "an unchanged point has its line's colour")
		}

		// Hovering a point tells its test, date and commit, as its row does.
		at := evalJS[[]float64](t, tctx, fmt.Sprintf(`(() => {
			const el = document.getElementById('trend-chart'), u = el._uplot, r = u.over.getBoundingClientRect();
			const d = JSON.parse(document.getElementById('trend-data').textContent), i = d.ids.indexOf(%d);
			return [r.left + u.valToPos(d.x[i], 'x'), r.top + u.valToPos(d.y[i], 'y')]; })()`, main[30]))
		require.NoError(t, chromedp.Do(tctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, at[0], at[1])))
		waitJS(t, tctx, `(() => { const tip = document.querySelector('#trend-chart .trend-tip'); return !!tip && !tip.hidden; })()`, 5*time.Second)
		tip := evalJS[string](t, tctx, `document.querySelector('#trend-chart .trend-tip').innerText`)
		cells := evalJS[[]string](t, tctx, fmt.Sprintf(`(() => { const r = document.querySelector('#points tr[data-test="%d"]');
			return [r.querySelector('code').innerText, r.querySelector('td.when time').title]; })()`, main[30]))
		require.Contains(t, tip, fmt.Sprintf("#%d", main[30]))
		require.Contains(t, tip, cells[0], "the commit")
		require.Contains(t, tip, cells[1][:16], "the date, to the minute")
		require.Contains(t, tip, "unchanged")

		// The accepted level with its threshold, drawn and said.
		require.Equal(t, "1", evalJS[string](t, tctx, `document.getElementById('trend-chart').dataset.bands`))
		levels := evalJS[string](t, tctx, `document.getElementById('levels').innerText`)
		require.Contains(t, levels, "main: accepted level 100")
		require.Contains(t, levels, "threshold ±5%")

		// The change point is drawn, and its label opens the before/after
		// compare: its test (the first after the change) against the
		// tests before it, baseline first; the table also links the three
		// main tests before it and the three from it on side by side.
		want := fmt.Sprintf("/compare?test=%d#kpi-Latency-ms", main[40])
		side := fmt.Sprintf("/compare?ids=%d,%d,%d,%d,%d,%d", main[37], main[38], main[39], main[40], main[41], main[42])
		require.Equal(t, "1", evalJS[string](t, tctx, `document.getElementById('trend-chart').dataset.marks`))
		require.Equal(t, want, evalJS[string](t, tctx, `document.querySelector('#trend-chart a.cp-link').getAttribute('href')`))
		require.Regexp(t, `^\+2\d(\.\d)?%$`, evalJS[string](t, tctx, `document.querySelector('#trend-chart a.cp-link').innerText`))
		require.Equal(t, want, evalJS[string](t, tctx, `document.querySelector('#changepoints a.cp-compare').getAttribute('href')`))
		require.Equal(t, side, evalJS[string](t, tctx, `document.querySelector('#changepoints a.cp-sidebyside').getAttribute('href')`))

		// The table: 50 of 60 points, newest first, with the count said.
		rows := evalJS[[]string](t, tctx, `[...document.querySelectorAll('#points tr[data-test]')].map((r) => r.dataset.test)`)
		require.Len(t, rows, 50)
		for i, id := range rows {
			require.Equal(t, fmt.Sprint(main[59-i]), id, "row %d", i)
		}
		require.Contains(t, evalJS[string](t, tctx, `document.getElementById('points-title').innerText`), "60 in all, newest first")
		require.Equal(t, "1–50 of 60", evalJS[string](t, tctx, `document.querySelector('.pager-range').innerText`))
		require.Contains(t, evalJS[string](t, tctx, `document.querySelector('#points tr[data-test]').className`), "verdict-regressed")
		require.False(t, evalJS[bool](t, tctx, `!!document.querySelector('.pager-prev')`), "no newer page before the first")

		// Nothing but the tables scrolls sideways, at either width.
		require.LessOrEqual(t, evalJS[int](t, tctx, `document.documentElement.scrollWidth`), int(width))
		require.LessOrEqual(t, evalJS[int](t, tctx, `document.querySelector('#trend-chart canvas').getBoundingClientRect().right | 0`), int(width))
		if width == 1280 {
			screenshot(t, tctx, "trends-main-only", false)
		}

		// The next page: the 10 oldest, and a link back.
		require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(".pager-next"), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS(".pager-prev"))))
		rows = evalJS[[]string](t, tctx, `[...document.querySelectorAll('#points tr[data-test]')].map((r) => r.dataset.test)`)
		require.Len(t, rows, 10)
		require.Equal(t, fmt.Sprint(main[9]), rows[0])
		require.Equal(t, fmt.Sprint(main[0]), rows[9])
		require.Equal(t, "51–60 of 60", evalJS[string](t, tctx, `document.querySelector('.pager-range').innerText`))
		require.False(t, evalJS[bool](t, tctx, `!!document.querySelector('.pager-next')`), "no older page after the last")

		// Tick the feature branch: a line of its own, beside main's.
		require.NoError(t, chromedp.Do(tctx,
			chromedp.Click(chromedp.CSS(`#t-branches input[value="feature/fast-path"]`), chromedp.NodeVisible),
			chromedp.Click(chromedp.CSS(`#trend-form button[type="submit"]`), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS("#points"))))
		waitJS(t, tctx, chartDrawn+` && document.getElementById('trend-chart').dataset.lines === '2'`, 30*time.Second)
		loc := evalJS[string](t, tctx, `location.search`)
		q, err := url.ParseQuery(strings.TrimPrefix(loc, "?"))
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"main", "feature/fast-path"}, q["branch"])
		require.Equal(t, []string{"main", "feature/fast-path"}, evalJS[[]string](t, tctx,
			`[...document.querySelectorAll('#trend-lines li')].map((li) => li.textContent.trim())`))
		require.Equal(t, []string{"main", "feature/fast-path"}, evalJS[[]string](t, tctx,
			`[...document.querySelectorAll('#trend-chart .u-legend .u-series')].map((r) => r.innerText.trim())`),
			"the chart's legend: main and the feature branch")
		require.Equal(t, "63", evalJS[string](t, tctx, `document.getElementById('trend-chart').dataset.drawn`))
		series := evalJS[[]int](t, tctx, `(() => {
			const d = JSON.parse(document.getElementById('trend-data').textContent);
			return d.lines.map((l, k) => d.line.filter((x) => x === k).length); })()`)
		require.Equal(t, []int{60, 3}, series, "60 points on main's line, 3 on the feature branch's")
		verdicts := evalJS[map[string]string](t, tctx, `(() => {
			const d = JSON.parse(document.getElementById('trend-data').textContent), out = {};
			d.ids.forEach((id, i) => { out[id] = d.verdicts[i]; }); return out; })()`)
		require.Equal(t, "regressed", verdicts[fmt.Sprint(feature[0])], "131 ms against main's 100")
		require.Equal(t, "improved", verdicts[fmt.Sprint(feature[1])], "90 ms against main's 100")
		require.Equal(t, "unchanged", verdicts[fmt.Sprint(feature[2])],
			"99.8 ms: main's step is not accepted, so tests are still judged against the level before it")
		if width == 1280 {
			require.Equal(t, red, pixel(feature[0]), "the feature branch's regressed point is red")
			require.Equal(t, green, pixel(feature[1]), "the feature branch's improved point is green")
			screenshot(t, tctx, "trends-branches", true)
		}
		rows = evalJS[[]string](t, tctx, `[...document.querySelectorAll('#points tr[data-test]')].map((r) => r.dataset.test)`)
		require.Equal(t, fmt.Sprint(main[59]), rows[0])
		require.Contains(t, rows, fmt.Sprint(feature[2]))
		require.Equal(t, "1–50 of 63", evalJS[string](t, tctx, `document.querySelector('.pager-range').innerText`))

		// The change point's label opens the compare of its tests.
		require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#trend-chart a.cp-link"), chromedp.NodeVisible),
			chromedp.WaitVisible(chromedp.CSS("#kpis-baseline"))))
		require.Equal(t, st.URL+want, evalJS[string](t, tctx, `location.href`))
	}

	// Every KPI of the framework as small multiples, each linked to its page.
	require.NoError(t, chromedp.Do(tctx,
		chromedp.EmulateViewport(1280, 900),
		stack.Navigate(st.URL+"/trends?framework=trend-branches"),
		chromedp.WaitVisible(chromedp.CSS("#kpi-multiples"))))
	waitJS(t, tctx, `document.querySelectorAll('#kpi-multiples canvas').length >= 2`, 30*time.Second)
	cards := evalJS[[]string](t, tctx, `[...document.querySelectorAll('#kpi-multiples section')].map((s) => s.dataset.kpi)`)
	require.Equal(t, []string{"Latency-ms", "Throughput"}, cards)
	links := evalJS[[]string](t, tctx, `[...document.querySelectorAll('#kpi-multiples h3 a')].map((a) => a.getAttribute('href'))`)
	require.Len(t, links, 2)
	for i, kpi := range cards {
		u, err := url.Parse(links[i])
		require.NoError(t, err)
		require.Equal(t, kpi, u.Query().Get("kpi"))
		require.Equal(t, "trend-branches", u.Query().Get("framework"))
	}
	require.Equal(t, []string{"60", "60"}, evalJS[[]string](t, tctx,
		`[...document.querySelectorAll('#kpi-multiples .chart')].map((c) => c.dataset.drawn)`), "main's points in each")
	require.Contains(t, evalJS[string](t, tctx, `document.querySelector('#kpi-multiples section[data-kpi="Throughput"]').innerText`),
		"60 points")
	screenshot(t, tctx, "trends-multiples", true)
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`#kpi-multiples section[data-kpi="Throughput"] h3 a`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS("#points"))))
	require.Equal(t, "Throughput", evalJS[string](t, tctx, `document.getElementById('t-kpi').value`))
}

// Each parameter set is a line of its own, and one can be chosen; a
// page number that is not one, or past the last page, gets a clear
// answer.
func TestTrendsPageParameterSetsAndPages(t *testing.T) {
	t.Parallel()
	var runs []seedRun
	for i := range 12 {
		runs = append(runs, seedRun{"main", 100 + float64(i%3), 1000, "1"}, seedRun{"main", 200 + float64(i%3), 500, "2"})
	}
	ids := seedTrend(t, "trend-params", runs)

	code, html := tokenPage(t, st.Token, "GET", "/trends?framework=trend-params&kpi=Latency-ms", "")
	require.Equal(t, 200, code)
	require.Contains(t, html, `id="mixed-params"`, "the page says the lines are parameter sets")
	lines := regexp.MustCompile(`<li data-line="([^"]+)">`).FindAllStringSubmatch(html, -1)
	require.Len(t, lines, 2)
	require.ElementsMatch(t, []string{"main · p=1", "main · p=2"}, []string{lines[0][1], lines[1][1]})
	require.Contains(t, html, "24 in all, newest first")
	require.Contains(t, html, `<option value="p=2">p=2 (12)</option>`, "each set can be chosen")

	code, html = tokenPage(t, st.Token, "GET", "/trends?framework=trend-params&kpi=Latency-ms&params="+url.QueryEscape("p=2"), "")
	require.Equal(t, 200, code)
	require.NotContains(t, html, `id="mixed-params"`)
	lines = regexp.MustCompile(`<li data-line="([^"]+)">`).FindAllStringSubmatch(html, -1)
	require.Len(t, lines, 1)
	require.Equal(t, "main", lines[0][1])
	require.Contains(t, html, "12 in all, newest first")
	require.Contains(t, html, fmt.Sprintf(`data-test="%d"`, ids[1]))
	require.NotContains(t, html, fmt.Sprintf(`data-test="%d"`, ids[0]), "p=1 is not drawn")
	require.Contains(t, html, `<option value="p=2" selected>`)

	code, html = tokenPage(t, st.Token, "GET", "/trends?framework=trend-params&kpi=Latency-ms&page=x", "")
	require.Equal(t, 400, code)
	require.Contains(t, html, "page is a page number of the points table, 1 or more; &#34;x&#34; is not")
	code, html = tokenPage(t, st.Token, "GET", "/trends?framework=trend-params&kpi=Latency-ms&page=3", "")
	require.Equal(t, 404, code)
	require.Contains(t, html, "There is no page 3: 24 points fill 1 page of 50.")
	require.Contains(t, html, `href="/trends?framework=trend-params&amp;kpi=Latency-ms"`, "a link to the last page")
}
