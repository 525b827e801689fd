package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// browser opens a tab of its own, in the test binary's one headless
// Chromium, for one test.
func browser(t *testing.T) context.Context {
	t.Helper()
	return stack.Tab(t)
}

// In a real browser, markup in every user-supplied field shown on the test
// page (parameters, branch, commit, the failure reason taken from the
// script's stderr, notes) stays text: nothing runs.
func TestBrowserShowsUserTextAsText(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	const payload = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>`
	st.Apply(t, fmt.Sprintf(`
name: browser-escapes
title: "<script>window.__pwned=1</script>"
execution:
  script: %q
parameters: [{name: p}]
`, "#!/bin/sh\necho '"+payload+", 1' > results.csv\necho '"+payload+"' >&2\nexit 1\n"))
	got := st.Run(t, wire.RunRequest{Framework: "browser-escapes", Params: map[string]string{"p": payload},
		Branch: payload, Commit: "<b>c</b>"})
	require.Equal(t, wire.StateFailed, got.State)

	// Sign in through the login page, as a person would.
	err := chromedp.Do(ctx,
		stack.Navigate(st.URL+"/tests/"+fmt.Sprint(got.ID)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "e2e admin password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS("#params")),
	)
	require.NoError(t, err)
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	params, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#params")))
	require.NoError(t, err)
	require.Contains(t, params, payload, "the parameter is shown as text, exactly")
	reason, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#reason")))
	require.NoError(t, err)
	require.Contains(t, reason, payload)
	pwned, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.__pwned === 1`))
	require.NoError(t, err)
	require.False(t, pwned, "markup from a user-supplied field ran in the page")
	imgs, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll('main img').length`))
	require.NoError(t, err)
	require.Zero(t, imgs, "no element was made from user text")
	html, err := chromedp.Run(tctx, chromedp.OuterHTML(chromedp.CSS("main")))
	require.NoError(t, err)
	require.False(t, strings.Contains(html, "<script>window"), "raw script tag in the page")

	// The dashboard lists the branch.
	require.NoError(t, chromedp.Do(tctx, stack.Navigate(st.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#tests"))))
	tests, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#tests")))
	require.NoError(t, err)
	require.Contains(t, tests, payload)
	pwned, err = chromedp.Run(tctx, chromedp.Evaluate[bool](`window.__pwned === 1`))
	require.NoError(t, err)
	require.False(t, pwned, "markup from a branch name ran on the dashboard")
}

// signedIn is a browser tab signed in as the e2e admin, under a
// two-minute limit that ends with the test.
func signedIn(t *testing.T) context.Context {
	t.Helper()
	ctx := browser(t)
	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	return tctx
}

// signIn signs the browser in as the e2e admin through the login page.
func signIn(t *testing.T, ctx context.Context) {
	t.Helper()
	// The first action starts the browser, so it runs under ctx itself
	// (a browser started under a shorter context ends with it); the rest
	// is bounded, so a refused sign-in fails the test instead of hanging.
	require.NoError(t, chromedp.Do(ctx, stack.Navigate(st.URL+"/login")))
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx,
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "e2e admin password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		// The login page has the bar too; only a signed-in page names
		// the user.
		chromedp.WaitVisible(chromedp.CSS("nav.top .who")),
	))
}

// screenshotDir is where the browser tests leave a picture of each page
// they visit (stack.ScreenshotDir; the README links committed copies in
// docs/screenshots).
var screenshotDir = stack.ScreenshotDir

// screenshot saves the whole current page as name.png, 1280 wide (and a
// phone-width picture as name-phone.png when phone is set). A picture is
// for people, not an assertion: one that cannot be taken within 30 s (a
// page reloading under a starved Chromium) is logged, not failed, and
// does not spend the caller's deadline.
func screenshot(t *testing.T, ctx context.Context, name string, phone bool) {
	t.Helper()
	require.NoError(t, os.MkdirAll(screenshotDir, 0o755))
	shoot := func(file string, width int64) error {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx,
			chromedp.EmulateViewport(width, 900),
			chromedp.Sleep(150*time.Millisecond)); err != nil { // charts follow the resize
			return err
		}
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(screenshotDir, file), png, 0o644)
	}
	if err := shoot(name+".png", 1280); err != nil {
		t.Logf("screenshot %s not taken: %v", name, err)
		return
	}
	if phone {
		if err := shoot(name+"-phone.png", 390); err != nil {
			t.Logf("screenshot %s-phone not taken: %v", name, err)
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(sctx, chromedp.EmulateViewport(1280, 900)))
	}
}
