package e2e

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// In a real browser: search, select two tests, compare them (KPIs side by
// side, overlaid metric charts drawn), then a trend with its change point.
func TestBrowserCompareSearchCompareTrends(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	values := filepath.Join(testenv.ScriptDir(t), "values")
	st.Apply(t, fmt.Sprintf(`
name: cmp-browse
execution:
  script: |
    #!/bin/sh
    sleep 1.5
    echo "Latency-ms, $(cat %s)ms" > results.csv
  hosts: [%s]
statistics:
  hosts: [%s]
  interval: 200ms
kpis:
  - {name: Latency-ms, unit: ms, better: lower}
`, values, agentName, agentName))
	var ids []int64
	for _, v := range []string{"100", "112"} {
		setValues(t, values, v)
		got := st.Run(t, wire.RunRequest{Framework: "cmp-browse", Branch: "main"})
		require.Equal(t, wire.StateFinished, got.State, got.Reason)
		ids = append(ids, got.ID)
	}
	trend := steppedTrend(t)

	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	// Sign in on the way to the search page: waiting for the results
	// table (not for the navigation, which the login page has too) knows
	// the sign-in is done.
	box := func(id int64) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`input[name="ids"][value="%d"]`, id)) }
	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(st.URL+"/login?next="+url.QueryEscape("/tests?framework=cmp-browse")),
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "e2e admin password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS("#results")),
		chromedp.Click(box(ids[0])),
		chromedp.Click(box(ids[1])),
	))
	screenshot(t, tctx, "search", false)
	require.NoError(t, chromedp.Do(tctx,
		chromedp.Click(chromedp.CSS("#compare-selected")),
		chromedp.WaitVisible(chromedp.CSS("#compare-form"))))
	loc, err := chromedp.Run(tctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%s/compare?ids=%d,%d", st.URL, ids[1], ids[0]), loc, "the stable URL")
	kpis, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector('#kpis-compared').innerText`))
	require.NoError(t, err)
	require.Contains(t, kpis, "Latency-ms")
	require.Contains(t, kpis, "112")
	require.Contains(t, kpis, "100")
	require.Contains(t, kpis, "-10.7%", "the delta against the first test")
	_, err = chromedp.Run(tctx, chromedp.Poll[bool](
		`(() => { const c = document.querySelector('#compare-charts .chart[data-metric="cpu.user"]');
		  return !!c && !!c.querySelector('canvas') && +c.dataset.drawn > 0; })()`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "the cpu.user chart is drawn")
	lines, err := chromedp.Run(tctx, chromedp.Evaluate[int](
		`document.querySelectorAll('#compare-charts .chart[data-metric="cpu.user"] .u-legend .u-series').length`))
	require.NoError(t, err)
	require.Equal(t, 3, lines, "x plus one line per test")
	screenshot(t, tctx, "compare", true)

	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(st.URL+"/trends?framework=cmp-stepped&kpi=Latency-ms"),
		chromedp.WaitVisible(chromedp.CSS("#points")),
	))
	_, err = chromedp.Run(tctx, chromedp.Poll[bool](
		`(() => { const c = document.getElementById('trend-chart');
		  return !!c.querySelector('canvas') && +c.dataset.drawn > 0; })()`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "the trend chart is drawn")
	drawn, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.getElementById('trend-chart').dataset.drawn`))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(len(trend)), drawn, "one point per test")
	marks, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.getElementById('trend-chart').dataset.marks`))
	require.NoError(t, err)
	require.Equal(t, "1", marks, "the change point is marked")
	screenshot(t, tctx, "trends", true)

	// With JavaScript, "accept as intended" goes to the API and the row
	// changes in place (a change point stored for this test's framework).
	s := store.New(st.Pool)
	require.NoError(t, s.ChangePointsReplaceFrom(context.Background(), ids[1], "Latency-ms", ids[1],
		[]store.ChangePoint{{TestID: ids[1], Before: 100, After: 112, DeltaPct: 12, PValue: 0.001}}))
	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(st.URL+"/trends?framework=cmp-browse&kpi=Latency-ms"),
		chromedp.WaitVisible(chromedp.CSS("form.accept button")),
	))
	_, err = chromedp.Run(tctx, chromedp.Evaluate[bool](`window.confirm = () => true, true`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS("form.accept button"))))
	_, err = chromedp.Run(tctx, chromedp.Poll[bool](
		`document.querySelector('#changepoints td.accepted').innerText.startsWith('by ')`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "the row shows the change accepted")
	loc, err = chromedp.Run(tctx, chromedp.Location())
	require.NoError(t, err)
	require.NotContains(t, loc, "accepted=", "accepted through the API, without leaving the page")
	cps, err := s.ChangePointList(context.Background(), "default", "cmp-browse")
	require.NoError(t, err)
	require.Len(t, cps, 1)
	require.Equal(t, "admin", cps[0].AcceptedBy)
}

// In a real browser, the trends page draws a strong change point and a
// weak one (a significant shift under the KPI's threshold) differently,
// and lists both, the weak one without an accept button.
func TestBrowserTrendsStrongAndWeakChangePoints(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	history(t, "trend-levels", 36, func(i int) float64 {
		v := 100 + 0.3*float64(i%3-1)
		switch {
		case i >= 24:
			v += 20
		case i >= 12:
			v += 1.5
		}
		return v
	})
	cps := changePoints(t, "trend-levels")
	require.Len(t, cps, 2, "%+v", cps)
	weak := map[bool]int{}
	for _, c := range cps {
		weak[c.Weak]++
	}
	require.Equal(t, map[bool]int{true: 1, false: 1}, weak, "one weak (+1.5%%), one strong (+20%%)")

	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(st.URL+"/trends?framework=trend-levels&kpi=Latency-ms"),
		chromedp.WaitVisible(chromedp.CSS("#points")),
	))
	_, err := chromedp.Run(tctx, chromedp.Poll[bool](
		`(() => { const c = document.getElementById('trend-chart');
		  return !!c.querySelector('canvas') && +c.dataset.drawn > 0; })()`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "the trend chart is drawn")
	marks, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.getElementById('trend-chart').dataset.marks`))
	require.NoError(t, err)
	require.Equal(t, "2", marks, "both change points are marked")
	rows, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll('#changepoints tr.cp-weak').length`))
	require.NoError(t, err)
	require.Equal(t, 1, rows, "the weak one is listed as weak")
	screenshot(t, tctx, "trends-strong-and-weak", false)
}
