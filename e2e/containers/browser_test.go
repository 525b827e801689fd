package containers

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromium is Debian's headless browser; .ci/run installs it.
const chromium = "/usr/bin/chromium"

// chartFamilies opens the test's page in a real headless Chromium, signed
// in as the stack's admin, and returns the families of the charts it drew
// (those with points only).
func chartFamilies(t *testing.T, id int64) []string {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed on this CI machine: .ci/run must install chromium", chromium)
		}
		t.Skipf("%s is not installed (apt-get install chromium): the chart check needs it", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("no-first-run", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(st.URL+"/login")))
	ctx, stop := context.WithTimeout(bctx, 90*time.Second)
	defer stop()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "ctr admin password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS("nav.top .who")),
		chromedp.Navigate(fmt.Sprintf("%s/tests/%d", st.URL, id)),
		chromedp.WaitVisible(chromedp.CSS("#charts"))))
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('charts').dataset.charts !== undefined`))
		if err == nil && ok {
			break
		}
		require.True(t, time.Now().Before(deadline), "the charts were never drawn")
		time.Sleep(100 * time.Millisecond)
	}
	fams, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#charts .chart')).filter(e => (+e.dataset.drawn || 0) > 0).map(e => e.dataset.family)`))
	require.NoError(t, err)
	return fams
}
