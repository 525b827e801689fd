package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// In a real browser the dashboard's running section follows a test from
// running to finished without a reload (htmx swaps the live part every
// 2 s), and a token made on the account page is shown once and works.
func TestBrowserDashboardLiveAndAccountToken(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	st.Apply(t, "name: dash-live\nexecution: {script: \"#!/bin/sh\\nsleep 6\\necho 'Slept, 6s' > results.csv\\n\"}\n")
	signIn(t, ctx)
	test := startTest(t, wire.RunRequest{Framework: "dash-live", Branch: "dash-live-branch"})
	waitFor(t, test.ID, "running", func(x *wire.Test) bool { return x.State == wire.StateRunning })

	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	running := fmt.Sprintf(`#running tr[data-test="%d"]`, test.ID)
	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(st.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(running)),
	))
	stage, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(running+" td.stage")))
	require.NoError(t, err)
	require.NotEmpty(t, strings.TrimSpace(stage), "the running test shows its stage")
	// A mark on the window survives only if the page is never reloaded.
	_, err = chromedp.Run(tctx, chromedp.Evaluate[int](`window.__dashMark = 1`))
	require.NoError(t, err)
	screenshot(t, tctx, "dashboard", true)

	// Poll fails if the page navigates, so this also proves no reload.
	done, err := chromedp.Run(tctx, chromedp.Poll[bool](fmt.Sprintf(`window.__dashMark === 1 &&
		!document.querySelector('#running tr[data-test="%d"]') &&
		!!document.querySelector('#tests tr[data-test="%d"] .state-finished')`, test.ID, test.ID),
		chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(90*time.Second)))
	require.NoError(t, err, "the test did not move from running to finished on the page without a reload")
	require.True(t, done)
	row, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(fmt.Sprintf(`#tests tr[data-test="%d"]`, test.ID))))
	require.NoError(t, err)
	require.Contains(t, row, "dash-live-branch")
	require.Contains(t, row, "no-baseline", "the verdict badge")

	// A token made on the account page; markup in its name stays text.
	const name = `dash-tok<img src=x onerror="window.__pwned=1"><b>`
	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(st.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS("#new-token")),
		chromedp.SendKeys(chromedp.CSS("#token-name"), name),
		chromedp.SetValue(chromedp.CSS("#token-team"), "default"),
		chromedp.SetValue(chromedp.CSS("#token-role"), "viewer"),
		chromedp.Submit(chromedp.CSS("#token-name")),
		chromedp.WaitVisible(chromedp.CSS("#token-secret")),
	))
	token, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#token-secret")))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token, "pwt_"), token)
	copyShown, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`!document.querySelector('button[data-copy]').hidden`))
	require.NoError(t, err)
	require.True(t, copyShown, "dashboard.js shows the Copy button")
	code, me := bearer(t, token)
	require.Equal(t, http.StatusOK, code, me)
	require.Contains(t, me, `"default": "viewer"`)

	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(st.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS("#tokens")),
	))
	tokens, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#tokens")))
	require.NoError(t, err)
	require.Contains(t, tokens, name)
	require.NotContains(t, tokens, token, "the secret is shown once")
	pwned, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.__pwned === 1 || document.querySelectorAll('main img').length > 0`))
	require.NoError(t, err)
	require.False(t, pwned, "markup in a token name became an element")
	screenshot(t, tctx, "account", false)

	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(st.URL+"/agents"),
		chromedp.WaitVisible(chromedp.CSS("#agents")),
	))
	agents, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#agents")))
	require.NoError(t, err)
	require.Contains(t, agents, agentName)
	require.Contains(t, agents, "online")
	screenshot(t, tctx, "agents", false)
}
