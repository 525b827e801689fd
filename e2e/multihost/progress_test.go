package multihost

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// While a multi-host test runs, its page says how far it is: the stage,
// "load running on 2 of 2 hosts for …" with the time growing, and each
// host with its role and what it does now (the service serving, the load
// running), from the PerfTest's progress query; at 1280 and 390 px in
// Chromium the load line is on screen.
func TestMultiHostLiveProgress(t *testing.T) {
	dir := testenv.ScriptDir(t)
	histograms(t, dir)
	st.Apply(t, frameworkFile("multihost-progress", dir, "none")) // each load host sleeps 30 s
	test, err := st.Submit(t.Context(), wire.RunRequest{Framework: "multihost-progress"})
	require.NoError(t, err)
	defer func() {
		// Enough seen: abort rather than wait out the 30 s.
		st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/abort", test.ID), "application/json", []byte(`{"reason":"seen"}`), nil)
		st.Wait(t, test.ID)
	}()
	live := fmt.Sprintf("/tests/%d/live", test.ID)
	loadRe := regexp.MustCompile(`<dd id="load" data-running="(\d+)">([^<]*)</dd>`)
	var html, load string
	var seconds []int
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		code, body := st.Page(t, live)
		require.Equal(t, http.StatusOK, code)
		m := loadRe.FindStringSubmatch(body)
		if m == nil || m[1] != "2" || !strings.Contains(m[2], "load running on 2 of 2 hosts for") {
			continue
		}
		html, load = body, m[2]
		var s int
		if _, err := fmt.Sscanf(load[strings.LastIndex(load, " ")+1:], "%ds", &s); err == nil {
			seconds = append(seconds, s)
		}
		if len(seconds) > 1 && seconds[len(seconds)-1] > seconds[0] {
			break
		}
	}
	require.NotEmpty(t, load, "the page said the load runs on both load hosts")
	require.Greater(t, seconds[len(seconds)-1], seconds[0], "the load's time grows while it runs: %v", seconds)
	hosts := html[strings.Index(html, `<table id="live-hosts"`):]
	hosts = hosts[:strings.Index(hosts, "</table>")]
	row := func(host string) string {
		at := strings.Index(hosts, `data-host="`+host+`"`)
		require.Positive(t, at, "host %s listed", host)
		return hosts[at : at+strings.Index(hosts[at:], "</tr>")]
	}
	require.Contains(t, row(sutHost), `data-role="sut"`)
	require.Contains(t, row(sutHost), `<td class="host-state">serving</td>`)
	for _, h := range []string{load1, load2} {
		require.Contains(t, row(h), `data-role="load"`)
		require.Contains(t, row(h), `<td class="host-state">running</td>`)
	}
	require.Regexp(t, `<dd id="stage">[^<]+</dd>`, html)
	require.Contains(t, html, `<dd id="elapsed">`)

	ctx := st.Browser(t)
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, width := range []int64{1280, 390} {
		require.NoError(t, chromedp.Do(tctx,
			chromedp.EmulateViewport(width, 900),
			stack.Navigate(fmt.Sprintf("%s/tests/%d", st.URL, test.ID)),
			chromedp.WaitVisible(chromedp.CSS("#load"))))
		text, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.getElementById('load').innerText`))
		require.NoError(t, err)
		right, err := chromedp.Run(tctx, chromedp.Evaluate[float64](`document.getElementById('load').getBoundingClientRect().right`))
		require.NoError(t, err)
		require.Contains(t, text, "load running on 2 of 2 hosts", "at %d px", width)
		require.LessOrEqual(t, right, float64(width), "the load line is on screen at %d px", width)
	}
}
