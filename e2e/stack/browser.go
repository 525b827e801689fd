package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is Debian's headless browser; .ci/run installs it.
const Chromium = "/usr/bin/chromium"

// ScreenshotDir is where browser tests leave pictures of pages, to be
// looked at after a run: test-artifacts/screenshots at the module's root
// (ignored by git; docs/screenshots holds committed copies), whichever
// package's directory the test runs in.
var ScreenshotDir = func() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("test-artifacts", "screenshots")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "test-artifacts", "screenshots")
}()

// Browser starts a headless Chromium for one test and signs it in as the
// stack's admin. Without Chromium the test fails under CI and is skipped
// elsewhere, saying what is missing.
func (s *Stack) Browser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed on this CI machine: .ci/run must install chromium", Chromium)
		}
		t.Skipf("%s is not installed (apt-get install chromium): the browser check needs it", Chromium)
	}
	// Chromium itself now and then exits at start on these machines (seen
	// once in a full run: a crash before DevTools listened, next to the
	// Debian launcher's /dev/shm check misreading two mounts): a browser
	// that did not start is started once more; one that started and then
	// fails is the test's business.
	var ctx context.Context
	for attempt := 1; ; attempt++ {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(Chromium), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
			chromedp.Flag("disable-gpu", true), chromedp.Flag("no-first-run", true),
			chromedp.Flag("disable-dev-shm-usage", true))
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		c, cancel := chromedp.NewContext(actx)
		err := chromedp.Do(c, chromedp.Navigate(s.URL+"/login"))
		if err == nil {
			ctx = c
			t.Cleanup(func() { cancel(); cancelAlloc() })
			break
		}
		cancel()
		cancelAlloc()
		if attempt == 2 || !strings.Contains(err.Error(), "chrome failed to start") {
			t.Fatalf("start Chromium: %v", err)
		}
		t.Logf("Chromium did not start, starting it once more: %v", err)
	}
	sctx, stop := context.WithTimeout(ctx, 60*time.Second)
	defer stop()
	err := chromedp.Do(sctx,
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), s.opts.Name+" admin password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS("nav.top .who")))
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	return ctx
}

// DrawnCharts opens test id's page in ctx's browser, waits until its
// charts are drawn, saves a screenshot as name.png when name is set, and
// returns "host/family" for each chart drawn with points.
func (s *Stack) DrawnCharts(t testing.TB, ctx context.Context, id int64, name string) []string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(fmt.Sprintf("%s/tests/%d", s.URL, id)),
		chromedp.WaitVisible(chromedp.CSS("#charts"))); err != nil {
		t.Fatalf("open test %d's page: %v", id, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.getElementById('charts').dataset.charts !== undefined`))
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("test %d's charts were never drawn (last error %v)", id, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fams, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#charts .chart')).filter(e => (+e.dataset.drawn || 0) > 0).map(e => e.dataset.host + "/" + e.dataset.family)`))
	if err != nil {
		t.Fatalf("read the charts: %v", err)
	}
	if name != "" {
		if err := os.MkdirAll(ScreenshotDir, 0o755); err == nil {
			if err := chromedp.Do(tctx, chromedp.EmulateViewport(1280, 900), chromedp.Sleep(150*time.Millisecond)); err == nil {
				if png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
					_ = os.WriteFile(filepath.Join(ScreenshotDir, name+".png"), png, 0o644)
				}
			}
		}
	}
	return fams
}
