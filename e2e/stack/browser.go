package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is Debian's chromium-headless-shell, Chromium's old headless
// mode built as a program of its own (the one Puppeteer uses for
// automation); .ci/run installs it. The full browser's headless mode
// draws its own window (tab strip, toolbar, a top-chrome WebUI renderer
// per browser context) in the browser process: for the root e2e
// package's browser tests, 127 CPU-s of Chromium against 53 for the
// shell, the same pages and assertions.
const Chromium = "/usr/bin/chromium-headless-shell"

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

// The test binary's Chromium: one process serves every test's tabs, each
// tab in a browser context of its own (cookies, storage and cache apart,
// as in a browser of its own). Starting Chromium once instead of once a
// test saves about 0.8 CPU-s and 0.6 s a test on a 2-core machine (a
// fresh browser's first page 1.9 CPU-s, a new context's 1.1).
var chromium struct {
	sync.Mutex
	ctx  context.Context // its first tab's: holds the process
	stop func()
}

// Tab opens a tab of its own in the test binary's headless Chromium,
// starting Chromium first if it is not running, and closes it when the
// test ends. Without Chromium the test fails under CI and is skipped
// elsewhere, saying what is missing.
func Tab(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed on this CI machine: .ci/run must install chromium-headless-shell", Chromium)
		}
		t.Skipf("%s is not installed (apt-get install chromium-headless-shell; .ci/run does): the browser tests need it", Chromium)
	}
	browser, err := startChromium(t)
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open a tab in Chromium: %v", err)
	}
	t.Cleanup(cancel)
	return ctx
}

// startChromium returns the running Chromium's first tab, or starts
// Chromium (again, if it died). Chromium has now and then exited at
// start on these machines (a crash before DevTools listened, seen with
// the full browser): a start that failed is tried twice more.
func startChromium(t testing.TB) (context.Context, error) {
	chromium.Lock()
	defer chromium.Unlock()
	if chromium.ctx != nil && chromium.ctx.Err() == nil {
		return chromium.ctx, nil
	}
	for attempt := 1; ; attempt++ {
		dir, err := os.MkdirTemp("", "pitwall-chromium-")
		if err != nil {
			return nil, err
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(Chromium), chromedp.NoSandbox, chromedp.UserDataDir(dir),
			chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true))
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		stop := func() {
			cancel()
			cancelAlloc()
			os.RemoveAll(dir)
		}
		err = chromedp.Do(ctx)
		if err == nil {
			chromium.ctx, chromium.stop = ctx, stop
			return ctx, nil
		}
		stop()
		if attempt == 3 {
			return nil, err
		}
		t.Logf("Chromium did not start (attempt %d), trying again: %v", attempt, err)
	}
}

// CloseBrowser stops the test binary's Chromium, if one runs; Close
// calls it.
func CloseBrowser() {
	chromium.Lock()
	defer chromium.Unlock()
	if chromium.stop != nil {
		chromium.stop()
	}
	chromium.ctx, chromium.stop = nil, nil
}

// Browser opens a tab of the test binary's Chromium (Tab) and signs it in
// as the stack's admin.
func (s *Stack) Browser(t testing.TB) context.Context {
	t.Helper()
	ctx := Tab(t)
	sctx, stop := context.WithTimeout(ctx, 60*time.Second)
	defer stop()
	err := chromedp.Do(sctx,
		Navigate(s.URL+"/login"),
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
	if err := chromedp.Do(tctx, Navigate(fmt.Sprintf("%s/tests/%d", s.URL, id)),
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

// Navigate is chromedp.Navigate that loads the page again when Chromium
// aborted it with net::ERR_NETWORK_CHANGED. Chromium ends the requests in
// flight, loopback's too, whenever an address appears or goes on any of
// the host's interfaces, as the Docker engine's networks and containers
// do all along while other test packages run beside the browser tests.
func Navigate(url string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var err error
		for range 3 {
			if _, err = chromedp.Navigate(url)(ctx, t); err == nil || !strings.Contains(err.Error(), "net::ERR_NETWORK_CHANGED") {
				return err
			}
		}
		return err
	})
}
