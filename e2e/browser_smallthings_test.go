package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// The small things of issue 23, as a person sees them at 1280 and 390 px:
// not-found and bad-request pages inside the layout, a framework picker on
// /tests/new, Agents in the navigation, relative times with the exact time
// on hover, 12-character commit prefixes, a confirmation before a rerun,
// and at phone width a folded navigation and tables that scroll inside the
// page.
func TestBrowserSmallThings(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	st.Apply(t, fmt.Sprintf(`
name: small-things
purpose: the small things of issue 23
execution:
  script: |
    #!/bin/sh
    echo "Latency, 2.5" > results.csv
  hosts: [%s]
kpis:
  - {name: Latency, unit: ms, better: lower}
`, agentName))
	const commit = "0123456789abcdef0123456789abcdef01234567"
	got := st.Run(t, wire.RunRequest{Framework: "small-things", Branch: "main", Commit: commit})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	visit := func(path, ready string) {
		t.Helper()
		require.NoError(t, chromedp.Do(tctx, stack.Navigate(st.URL+path), chromedp.WaitVisible(chromedp.CSS(ready))))
	}

	// Unknown paths and tests, and a bad test ID: pages in the layout.
	for _, c := range []struct{ path, title string }{
		{"/no-such-page", "404 Not Found"},
		{fmt.Sprintf("/tests/%d", got.ID+1_000_000), "404 Not Found"},
		{"/tests/abc", "400 Bad Request"},
	} {
		visit(c.path, "#problem-page")
		require.Equal(t, c.title, evalJS[string](t, tctx, `document.querySelector('main h1').textContent`), c.path)
		require.True(t, evalJS[bool](t, tctx, `!!document.querySelector('nav.top #nav-agents')`),
			"%s is drawn inside the layout, its navigation (with Agents) included", c.path)
		require.NotEmpty(t, evalJS[string](t, tctx, `document.getElementById('problem').textContent`))
	}
	screenshot(t, tctx, "not-found", true)

	// /tests/new without a framework: a picker that leads to the form.
	visit("/tests/new", "#framework-picker")
	options := evalJS[[]string](t, tctx, `Array.from(document.querySelectorAll('#pick-framework option')).map((o) => o.value)`)
	require.Contains(t, options, "small-things")
	require.NoError(t, chromedp.Do(tctx,
		chromedp.SetValue(chromedp.CSS("#pick-framework"), "small-things"),
		chromedp.Click(chromedp.CSS(`#framework-picker button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/tests/new"][method="post"]`))))
	loc, err := chromedp.Run(tctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "framework=small-things")

	// The tests list: a relative time with the exact time (to the second)
	// on hover, and the commit's 12-character prefix.
	visit("/tests?framework=small-things", "#results")
	when := evalJS[map[string]string](t, tctx, `(() => { const e = document.querySelector('#results time.when');
		return {text: e.textContent, title: e.title, datetime: e.getAttribute('datetime')}; })()`)
	require.Regexp(t, `^(just now|\d+ (s|min|h) ago)$`, when["text"])
	require.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+$`, when["title"], "the exact time, without milliseconds")
	require.NotEmpty(t, when["datetime"])
	row := evalJS[string](t, tctx, `document.querySelector('#results tbody').innerText`)
	require.Contains(t, row, commit[:12])
	require.NotContains(t, row, commit[:13])
	screenshot(t, tctx, "tests-list", true)

	// A rerun asks first; declining it stays on the page.
	visit("/frameworks/small-things", `form[action$="/rerun"] button`)
	evalJS[bool](t, tctx, `(() => { window.__asked = ''; window.confirm = (m) => { window.__asked = m; return false; }; return true; })()`)
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`form[action$="/rerun"] button`))))
	require.Contains(t, evalJS[string](t, tctx, `window.__asked`), fmt.Sprintf("Run test %d again", got.ID))

	// Wide: the navigation's links show; at 390 px they fold into the
	// menu and the results table scrolls inside the page.
	visit("/tests?framework=small-things", "#results")
	require.True(t, evalJS[bool](t, tctx, `document.querySelector('#nav-agents').checkVisibility()`))
	require.NoError(t, chromedp.Do(tctx, chromedp.EmulateViewport(390, 800)))
	visit("/tests?framework=small-things", "#results")
	waitJS(t, tctx, `document.getElementById('nav-menu').open === false`, 5*time.Second)
	require.False(t, evalJS[bool](t, tctx, `document.querySelector('#nav-agents').checkVisibility()`),
		"at phone width the links are folded into the menu")
	require.Less(t, evalJS[float64](t, tctx, `document.querySelector('nav.top').getBoundingClientRect().height`), 60.0,
		"the folded navigation is one line")
	require.LessOrEqual(t, evalJS[float64](t, tctx, `document.querySelector('#results').getBoundingClientRect().right`), 390.0,
		"the table stays within the screen")
	require.Equal(t, "auto", evalJS[string](t, tctx, `getComputedStyle(document.querySelector('#results').closest('.table-wrap')).overflowX`),
		"and scrolls sideways in its container")
	require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#nav-menu > summary"))))
	require.True(t, evalJS[bool](t, tctx, `document.querySelector('#nav-agents').checkVisibility()`),
		"the menu opens on a tap")
	require.NoError(t, chromedp.Do(tctx, chromedp.EmulateViewport(1280, 900)))
}
