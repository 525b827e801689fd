package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// In a real browser: create a framework by answering the form's questions,
// see the YAML in the preview, confirm, then start a test of it from
// /tests/new and land on the test's page.
var testPageURL = regexp.MustCompile(`/tests/\d+$`)

func TestBrowserFrameworksCreateAndRun(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	signIn(t, ctx)
	// signIn returns once nav.top shows, which the login page has too;
	// wait for the signed-in navigation so that the next page load does
	// not race the login's redirect.
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("nav.top .who"))))
	const name = "fw-browser-made"
	type css = chromedp.CSS
	require.NoError(t, chromedp.Do(ctx,
		stack.Navigate(st.URL+"/frameworks/new"),
		chromedp.WaitVisible(css("#name")),
		chromedp.SendKeys(css("#name"), name),
		chromedp.SendKeys(css("#title"), "Made in the browser"),
		chromedp.SetValue(css(`input[name="param_name"]`), "n"),
		chromedp.SetValue(css(`input[name="param_default"]`), "2"),
		chromedp.SetValue(css(`input[name="kpi_name"]`), "Latency-ms"),
		chromedp.SetValue(css(`input[name="kpi_unit"]`), "ms"),
		chromedp.SetValue(css(`select[name="kpi_better"]`), "lower"),
		chromedp.SetValue(css(`input[name="kpi_threshold"]`), "5"),
		chromedp.Click(css(`input[name="stat_hosts"][value="`+agentName+`"]`)),
	))
	// With htmx the preview follows typing (the name and title were typed).
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`(document.querySelector("#preview-yaml") || {}).textContent?.includes("name: `+name+`") || false`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "the live preview did not show the typed name")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css("#preview-button")),
		chromedp.WaitVisible(css("#apply")),
	))
	yaml, err := chromedp.Run(ctx, chromedp.Text(css("#preview-yaml")))
	require.NoError(t, err)
	require.Contains(t, yaml, "name: "+name)
	require.Contains(t, yaml, "better: lower")
	require.Contains(t, yaml, "threshold: 5%")
	require.Contains(t, yaml, "- "+agentName)
	screenshot(t, ctx, "frameworks-new", true)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css("#apply")),
		chromedp.WaitVisible(css("#notice")),
	))
	notice, err := chromedp.Run(ctx, chromedp.Text(css("#notice")))
	require.NoError(t, err)
	require.Equal(t, "version 1 created", strings.TrimSpace(notice))
	screenshot(t, ctx, "framework-page", false)

	require.NoError(t, chromedp.Do(ctx,
		stack.Navigate(st.URL+"/frameworks"),
		chromedp.WaitVisible(css("#frameworks")),
	))
	list, err := chromedp.Run(ctx, chromedp.Text(css("#frameworks")))
	require.NoError(t, err)
	require.Contains(t, list, name)
	require.Contains(t, list, "Latency-ms (lower, 5%)")
	screenshot(t, ctx, "frameworks-list", true)

	require.NoError(t, chromedp.Do(ctx,
		stack.Navigate(st.URL+"/frameworks/"+name),
		chromedp.WaitVisible(css("#new-test")),
		chromedp.Click(css("#new-test")),
		chromedp.WaitVisible(css("#test-form")),
	))
	def, err := chromedp.Run(ctx, chromedp.Value(css("#param-n")))
	require.NoError(t, err)
	require.Equal(t, "2", def, "the parameter's default is pre-filled")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(css("#param-n"), "5"),
		chromedp.SendKeys(css("#branch"), "main"),
		chromedp.SendKeys(css("#tags"), "from=browser"),
	))
	screenshot(t, ctx, "new-test", true)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(css("#start"))))
	// The click navigates twice (POST, then the redirect); read the
	// location until it settles on a test's page.
	var loc string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if l, err := chromedp.Run(ctx, chromedp.Location()); err == nil && testPageURL.MatchString(l) {
			loc = l
			break
		}
	}
	require.NotEmpty(t, loc, "did not land on the test's page")
	id, err := strconv.ParseInt(loc[strings.LastIndex(loc, "/")+1:], 10, 64)
	require.NoError(t, err, loc)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(css("main h1"))))
	heading, err := chromedp.Run(ctx, chromedp.Text(css("main")))
	require.NoError(t, err)
	require.Contains(t, heading, fmt.Sprint(id))

	var got wire.Test
	require.Equal(t, http.StatusOK, st.Call(t, "GET", fmt.Sprintf("/api/v1/tests/%d", id), "", nil, &got))
	require.Equal(t, name, got.Framework)
	require.Equal(t, []string{"n=5"}, paramStrings(&got))
	require.Equal(t, map[string]string{"from": "browser"}, got.Tags)
	require.Equal(t, wire.StateFinished, st.Wait(t, id).State)
}
