package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// A history of 16 runs whose latency steps from 100 to 120 ms shows, as a
// person sees it: the dashboard and the framework page list the open
// regression with a link to its trend; /tests filters by verdict and
// framework from dropdowns; a click on a header sorts the table.
func TestBrowserRegressionsFiltersAndSorting(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	// A directory the scripts' users can reach (t.TempDir's parent is private).
	dir, err := os.MkdirTemp("", "rg-stepped-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o1777))
	values := filepath.Join(dir, "values")
	verdictFramework(t, "rg-stepped", values, 1)
	var ids []int64
	for _, v := range []string{"100", "101", "99", "100.5", "99.5", "100", "101", "99", "100", "100.5",
		"120", "121", "119", "120.5", "119.5", "120"} {
		setValues(t, values, v)
		got := st.Run(t, wire.RunRequest{Framework: "rg-stepped", Branch: "main"})
		require.Equal(t, wire.StateFinished, got.State, got.Reason)
		ids = append(ids, got.ID)
	}
	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	visit := func(path, ready string) {
		t.Helper()
		require.NoError(t, chromedp.Do(tctx, stack.Navigate(st.URL+path), chromedp.WaitVisible(chromedp.CSS(ready))))
	}

	// The dashboard leads with the open regression, linked to its trend.
	// (Change points are found once the last test has been collated: a
	// moment after it ends.)
	var regs string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		visit("/", "#regressions")
		regs = evalJS[string](t, tctx, `document.getElementById('regressions').innerText`)
		if strings.Contains(regs, "rg-stepped") || time.Now().After(deadline) {
			break
		}
	}
	require.Contains(t, regs, "rg-stepped")
	require.Contains(t, regs, "Latency-ms")
	require.Positive(t, evalJS[int](t, tctx, `+document.getElementById('regressions-count').textContent`))
	trend := evalJS[string](t, tctx, `Array.from(document.querySelectorAll('#regressions a'))
		.map((a) => a.getAttribute('href')).find((h) => h.includes('framework=rg-stepped')) || ''`)
	require.Contains(t, trend, "/trends?")
	require.Contains(t, trend, "kpi=Latency-ms")
	screenshot(t, tctx, "dashboard-regressions", true)

	// So does the framework's page.
	visit("/frameworks/rg-stepped", "#regressions")
	require.Contains(t, evalJS[string](t, tctx, `document.getElementById('regressions').innerText`), "Latency-ms")

	// /tests: framework and verdict chosen from dropdowns.
	visit("/tests", "#search")
	require.Contains(t, evalJS[[]string](t, tctx, `Array.from(document.querySelectorAll('#f-framework option')).map((o) => o.value)`), "rg-stepped")
	require.Contains(t, evalJS[[]string](t, tctx, `Array.from(document.querySelectorAll('#f-branch option')).map((o) => o.value)`), "main")
	// The old page is marked, so the wait is for the page the form
	// loads (the old page's #results is visible too until it goes).
	require.NoError(t, chromedp.Do(tctx,
		chromedp.SetValue(chromedp.CSS("#f-framework"), "rg-stepped"),
		chromedp.SetValue(chromedp.CSS("#f-verdict"), "regressed")))
	require.True(t, evalJS[bool](t, tctx, `window.__unfiltered = true`))
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`#search button[type="submit"]`))))
	waitJS(t, tctx, `!window.__unfiltered && document.readyState !== 'loading' && !!document.getElementById('results')`, 20*time.Second)
	verdicts := evalJS[[]string](t, tctx, `Array.from(document.querySelectorAll('#results tr[data-test]'))
		.map((r) => r.className.replace('verdict-', ''))`)
	require.NotEmpty(t, verdicts, "the step's tests regressed")
	for _, v := range verdicts {
		require.Equal(t, wire.VerdictRegressed, v)
	}
	require.Less(t, len(verdicts), len(ids), "the unchanged ones are filtered out")
	shown := evalJS[[]int64](t, tctx, `Array.from(document.querySelectorAll('#results tr[data-test]')).map((r) => +r.dataset.test)`)
	for _, id := range shown {
		require.GreaterOrEqual(t, id, ids[10], "only tests after the step regressed")
	}

	// Sorting: the list is newest first; a click on "Test" sorts by ID
	// ascending, a second click descending (e2e/browser_ui23_test.go
	// follows a sort across pages).
	visit("/tests?framework=rg-stepped", "#results")
	order := func() []int64 {
		return evalJS[[]int64](t, tctx, `Array.from(document.querySelectorAll('#results tr[data-test]')).map((r) => +r.dataset.test)`)
	}
	require.True(t, slices.IsSortedFunc(order(), func(a, b int64) int { return int(b - a) }), "newest first")
	// A click on a header cell, as a person's click dispatches it: the
	// list is paged, so it is sorted on the server (the page reloads).
	click := func(name string) {
		t.Helper()
		require.True(t, evalJS[bool](t, tctx, fmt.Sprintf(`(() => {
			const th = Array.from(document.querySelectorAll('#results th')).find((h) => h.textContent.trim() === %q);
			if (!th) return false;
			window.__unsorted = true;
			th.click();
			return true; })()`, name)), "header %s", name)
		waitJS(t, tctx, `!window.__unsorted && document.readyState !== 'loading' && !!document.getElementById('results')`, 20*time.Second)
	}
	click("Test")
	asc := order()
	require.Len(t, asc, len(ids))
	require.True(t, slices.IsSorted(asc), "ascending after one click: %v", asc)
	require.Equal(t, "ascending", evalJS[string](t, tctx, `document.querySelector('#results th[aria-sort]').getAttribute('aria-sort')`))
	click("Test")
	require.Equal(t, ids[len(ids)-1], order()[0], "descending after a second click")
	// Verdict sorts as text: regressed rows together.
	click("Verdict")
	classes := evalJS[[]string](t, tctx, `Array.from(document.querySelectorAll('#results tr[data-test]')).map((r) => r.className)`)
	require.True(t, slices.IsSorted(classes), "rows grouped by verdict: %v", classes)
	screenshot(t, tctx, "tests-sorted", true)
}
