package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/answer"
)

// page GETs a page as the package's admin and returns status and body.
func page(t *testing.T, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, st.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+st.Token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// A repeated test judged against a chosen baseline: the page shows each
// iteration's KPI, the summary, the verdict with change, interval and
// evidence, links to the baseline and to compare, the parsed table, the
// artifacts to download, the environment and the log's last lines.
func TestTestPageShowsResults(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: tp-results
execution:
  script: |
    #!/bin/sh
    echo "computing iteration $PITWALL_ITERATION"
    i=${PITWALL_ITERATION:-1}
    echo "Latency-ms, $(( PITWALL_PARAM_BASE + i ))ms" > results.csv
    printf 'Op,Count\nread,17\nwrite,23\n' > ops.csv
    echo hello > notes.txt
parameters: [{name: base, default: "100"}]
kpis:
  - {name: Latency-ms, unit: ms, better: lower, threshold: 5%}
repeat: 3
`)
	base := st.Run(t, wire.RunRequest{Framework: "tp-results", Branch: "main", Params: map[string]string{"base": "100"}})
	require.Equal(t, wire.StateFinished, base.State, base.Reason)
	got := st.Run(t, wire.RunRequest{Framework: "tp-results", Branch: "feature", Commit: "c0ffee",
		Params: map[string]string{"base": "130"}, CompareTo: &base.ID})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Equal(t, wire.VerdictRegressed, got.Verdict)

	resp, body := page(t, fmt.Sprintf("/tests/%d", got.ID))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// The answer first: the summary line, then KPI | Baseline | This test
	// | Change | Verdict, the verdict against one chosen test marked weak.
	v := &got.Verdicts[0]
	summary := section(t, body, `<p id="verdict-summary"`, `</p>`)
	require.Contains(t, summary, "1 of 1 KPI regressed: Latency-ms "+answer.Change(v))
	require.Less(t, strings.Index(body, `id="verdict-summary"`), strings.Index(body, `id="kpis"`))
	require.Less(t, strings.Index(body, `id="kpis"`), strings.Index(body, `id="log-box"`), "the log comes below the KPIs")
	kpis := section(t, body, `<table id="kpis"`, `</table>`)
	require.Regexp(t, `(?s)<th>KPI</th>\s*<th class="num">Baseline</th>\s*<th class="num">This test</th>\s*<th class="num">Change</th>\s*<th>Verdict</th>`, kpis)
	for _, want := range []string{"Latency-ms", `verdict-regressed`, ">102 ms", ">132 ms", answer.Change(v),
		`<span class="delta worse">`, "confidence-weak", "one baseline test",
		fmt.Sprintf(`href="/compare?test=%d#kpi-Latency-ms"`, got.ID), `href="/trends?framework=tp-results&amp;kpi=Latency-ms&amp;params=base%3D130"`} {
		require.Contains(t, kpis, want)
	}
	require.Contains(t, kpis, fmt.Sprintf(`<a href="/tests/%d">#%d</a>`, base.ID, base.ID), "the KPI's baseline test is linked")
	details := section(t, body, `<details id="kpi-details"`, `</details>`)
	for _, want := range []string{"#1", "#2", "#3", ">131 ms<", ">132 ms<", ">133 ms<", v.Evidence} {
		require.Contains(t, details, want)
	}
	require.Contains(t, body, fmt.Sprintf(`<a href="/tests/%d">#%d</a>`, base.ID, base.ID), "the baseline is linked")
	require.Contains(t, body, fmt.Sprintf(`href="/compare?ids=%d,%d"`, base.ID, got.ID), "the baseline is the reference")
	require.Contains(t, body, fmt.Sprintf(`href="/compare?test=%d"`, got.ID))
	require.Contains(t, body, fmt.Sprintf(`href="/tests/new?clone=%d"`, got.ID))
	require.Contains(t, body, "c0ffee")
	require.Contains(t, body, ">feature<")

	tables := section(t, body, "<h2>Tables</h2>", "<h2>Artifacts</h2>")
	require.Contains(t, tables, "ops.csv")
	require.Contains(t, tables, `<td class="num">23</td>`, "a numeric column is right-aligned")
	arts := section(t, body, `<table id="artifacts"`, `</table>`)
	link := fmt.Sprintf(`/api/v1/tests/%d/artifacts/notes.txt`, got.ID)
	require.Contains(t, arts, `href="`+link+`"`)
	dl := get(t, st.URL+link)
	content, _ := io.ReadAll(dl.Body)
	dl.Body.Close()
	require.Equal(t, "hello\n", string(content), "the artifact link downloads the file")

	env := section(t, body, `<div id="fingerprint"`, "</main>")
	// The framework names no host, so the test ran on whichever agent was free.
	require.Contains(t, env, "<h3>"+got.Host+"</h3>")
	require.NotEmpty(t, got.Fingerprint.ScriptSHA256)
	require.Contains(t, env, got.Fingerprint.ScriptSHA256[:12])
	require.NotEmpty(t, got.Fingerprint.Hosts[got.Host].Kernel)
	require.Contains(t, env, got.Fingerprint.Hosts[got.Host].Kernel)

	logs := section(t, body, `<pre id="log"`, "</pre>")
	// Every iteration's output is kept (each iteration names its own
	// log batches).
	for i := 1; i <= 3; i++ {
		require.Contains(t, logs, fmt.Sprintf("computing iteration %d", i))
	}
	require.NotContains(t, logs, "data-stream", "no live stream for an ended test")
	require.NotContains(t, body, `id="abort"`, "no abort button once ended")
	require.NotContains(t, body, `hx-trigger`, "an ended test is not polled")

	resp, text := page(t, fmt.Sprintf("/tests/%d/log.txt", got.ID))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"))
	require.Contains(t, text, " stdout computing iteration 1\n")
	require.Contains(t, text, " stdout computing iteration 3\n")

	// The polled part of an ended test asks htmx to reload the page once.
	resp, live := page(t, fmt.Sprintf("/tests/%d/live", got.ID), "HX-Request", "true")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "true", resp.Header.Get("HX-Refresh"))
	require.Contains(t, live, `id="live"`)
}

// section cuts body from the first from to the next to after it.
func section(t *testing.T, body, from, to string) string {
	t.Helper()
	i := strings.Index(body, from)
	require.GreaterOrEqual(t, i, 0, "no %q in the page", from)
	j := strings.Index(body[i:], to)
	require.GreaterOrEqual(t, j, 0, "no %q after %q", to, from)
	return body[i : i+j]
}

// sseEvent is one server-sent event.
type sseEvent struct {
	id, event, data string
}

// readEvents reads server-sent events until the stream ends or the
// callback says stop.
func readEvents(t *testing.T, r io.Reader, each func(sseEvent) bool) {
	t.Helper()
	sc := bufio.NewScanner(r)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.data != "" || ev.event != "" {
				if !each(ev) {
					return
				}
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

// The log stream sends lines while the script still prints them, in
// order, ends with an "end" event when the test has ended, and resumes
// after Last-Event-ID.
func TestTestPageLogStream(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: tp-stream
execution:
  script: |
    #!/bin/sh
    for i in 1 2 3 4 5 6 7 8 9 10; do echo "tick $i"; sleep 0.3; done
`)
	test := startTest(t, wire.RunRequest{Framework: "tp-stream"})
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/tests/%d/logs/stream", st.URL, test.ID), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+st.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	var (
		lines      []wire.LogLine
		end        string
		liveBefore bool
		fifthID    string
	)
	readEvents(t, resp.Body, func(ev sseEvent) bool {
		if ev.event == "end" {
			end = ev.data
			return false
		}
		var l wire.LogLine
		require.NoError(t, json.Unmarshal([]byte(ev.data), &l))
		require.Equal(t, fmt.Sprint(l.ID), ev.id)
		lines = append(lines, l)
		if len(lines) == 1 {
			var now wire.Test
			st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d", test.ID), "", nil, &now)
			liveBefore = !wire.Ended(now.State)
		}
		if len(lines) == 5 {
			fifthID = ev.id
		}
		return true
	})
	require.True(t, liveBefore, "the first line came while the test was still running")
	require.Equal(t, wire.StateFinished, end)
	require.Len(t, lines, 10)
	for i, l := range lines {
		require.Equal(t, fmt.Sprintf("tick %d", i+1), l.Line)
	}

	// A reconnecting EventSource sends Last-Event-ID and gets the rest.
	req.Header.Set("Last-Event-ID", fifthID)
	resp2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp2.Body.Close()
	var rest []string
	readEvents(t, resp2.Body, func(ev sseEvent) bool {
		if ev.event == "end" {
			return false
		}
		var l wire.LogLine
		require.NoError(t, json.Unmarshal([]byte(ev.data), &l))
		rest = append(rest, l.Line)
		return true
	})
	require.Equal(t, []string{"tick 6", "tick 7", "tick 8", "tick 9", "tick 10"}, rest)
}

// The page's abort form aborts a running test through the API's path and
// returns to the page, which then shows the test aborted with the reason.
func TestTestPageAbortForm(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: tp-abort
execution: {script: "#!/bin/sh\necho started\nsleep 300\n"}
`)
	test := startTest(t, wire.RunRequest{Framework: "tp-abort"})
	waitFor(t, test.ID, "running", func(x *wire.Test) bool { return x.State == wire.StateRunning })
	_, body := page(t, fmt.Sprintf("/tests/%d", test.ID))
	require.Contains(t, body, `id="abort"`)
	require.Contains(t, body, fmt.Sprintf(`data-confirm="Abort test %d?"`, test.ID))
	require.Contains(t, body, fmt.Sprintf(`hx-get="/tests/%d/live"`, test.ID), "a running test's header is polled")
	require.Contains(t, body, fmt.Sprintf(`data-stream="/tests/%d/logs/stream"`, test.ID))
	require.Contains(t, body, `<noscript><meta http-equiv="refresh"`, "without JavaScript the page reloads")

	code, _ := as(t, st.Token, http.MethodPost, fmt.Sprintf("/tests/%d/abort", test.ID),
		"application/x-www-form-urlencoded", url.Values{"reason": {"from the page"}}.Encode())
	require.Equal(t, http.StatusSeeOther, code)
	got := waitFor(t, test.ID, "ended", func(x *wire.Test) bool { return wire.Ended(x.State) })
	require.Equal(t, wire.StateAborted, got.State)
	require.Equal(t, "aborted: from the page", got.Reason)

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, body = page(t, fmt.Sprintf("/tests/%d", test.ID)); !strings.Contains(body, `id="abort"`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Contains(t, body, `<span class="state state-aborted">aborted</span>`)
	require.Contains(t, body, "aborted: from the page")
	require.NotContains(t, body, `id="abort"`)

	// Aborting again is harmless: back to the page.
	code, _ = as(t, st.Token, http.MethodPost, fmt.Sprintf("/tests/%d/abort", test.ID), "application/x-www-form-urlencoded", "")
	require.Equal(t, http.StatusSeeOther, code)
}
