package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// alertsUIFramework writes 100 for both its KPIs, 130 on a commit
// starting "bad": a 30% regression of each against a 5% threshold,
// without noise.
const alertsUIFramework = `name: alertsui-fw
team: alertsui
execution:
  hosts: [%s]
  script: |
    #!/bin/sh
    v=100
    case "$PITWALL_COMMIT" in bad*) v=130 ;; esac
    echo "Latency-ms, $v" > results.csv
    echo "P99-ms, $v" >> results.csv
kpis:
  - {name: Latency-ms, unit: ms, better: lower, threshold: 5%%}
  - {name: P99-ms, unit: ms, better: lower, threshold: 5%%}
`

// alertRows lists the alert IDs of a page's rows, in order.
func alertRows(html string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<tr class="alert-\w+" data-alert="(\d+)"`).FindAllStringSubmatch(html, -1) {
		out = append(out, m[1])
	}
	return out
}

// openBadge is the navigation's count of open alerts ("" when not shown).
func openBadge(html string) string {
	m := regexp.MustCompile(`id="open-alerts"[^>]*>(\d+)<`).FindStringSubmatch(html)
	if m == nil {
		return ""
	}
	return m[1]
}

// The alert pages with alerts made for real: three baseline tests, then a
// commit that regresses both KPIs opens two alerts and a second test of it
// attaches. The list filters by team, framework and state (unresolved by
// default) and the navigation counts the open ones; the alert's page shows
// its history and notifications; a member acknowledges and resolves through
// the page's forms (a second try is refused on the page, not a 500); a
// viewer sees no forms and may not post them; another team's user finds
// nothing. Then the same in a real browser, with screenshots.
func TestAlertPages(t *testing.T) {
	t.Parallel()
	require.Contains(t, []int{http.StatusCreated, http.StatusConflict},
		st.Call(t, http.MethodPost, "/api/v1/teams", "application/json", []byte(`{"name":"alertsui"}`), nil))
	user(t, "alertsui-member", "alertsui", "member")
	user(t, "alertsui-viewer", "alertsui", "viewer")
	user(t, "alertsui-outsider", "default", "member")
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer hook.Close()
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodPut, "/api/v1/teams/alertsui/channels/ops-hook", "application/json",
		[]byte(`{"kind":"webhook","target":"`+hook.URL+`/hook"}`), nil))
	st.Apply(t, fmt.Sprintf(alertsUIFramework, agentName))
	run := func(commit string) *wire.Test {
		got := st.Run(t, wire.RunRequest{Framework: "alertsui-fw", Team: "alertsui", Commit: commit, Branch: "main"})
		require.Equal(t, wire.StateFinished, got.State, got.Reason)
		return got
	}
	for i := range 3 {
		run(fmt.Sprintf("good%d", i))
	}
	bad1 := run("bad1cafe0123456789abcdef")
	require.Equal(t, "regressed", bad1.Verdict)
	const mine = "/alerts?team=alertsui&framework=alertsui-fw"
	// The Notify workflow evaluates the ending after the test has ended.
	html := eventually(t, mine+"&state=open", "two open alerts", func(html string) bool { return len(alertRows(html)) == 2 })
	ids := alertRows(html)
	bad2 := run("bad2cafe0123456789abcdef")
	eventually(t, mine, "the second test attached to both alerts", func(html string) bool {
		return strings.Count(html, fmt.Sprintf(`href="/tests/%d"`, bad2.ID)) == 2
	})
	// Newest first: ids[1] (A) is acknowledged and resolved over HTTP,
	// ids[0] (B) in the browser.
	a, b := ids[1], ids[0]
	eventually(t, "/alerts/"+a, "both notifications sent", func(html string) bool {
		return strings.Count(element(html, `<table id="deliveries"`, "</table>"), "delivery-sent") == 2
	})

	member := signInAs(t, "alertsui-member")
	viewer := signInAs(t, "alertsui-viewer")

	// The list: unresolved by default, every column, the badge.
	code, html := member.get("/alerts")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, ids, alertRows(html), "a member of alertsui sees its two alerts, newest first")
	require.Equal(t, "2", openBadge(html))
	require.Contains(t, html, `<form id="alert-filter" class="toolbar" method="get" action="/alerts">`)
	require.Contains(t, html, `<option value="unresolved" selected>`)
	row := element(html, `<tr class="alert-open" data-alert="`+a+`"`, "</tr>")
	for _, want := range []string{`href="/alerts/` + a + `"`, `<span class="badge alert-open" title="state">open</span>`,
		`<span class="badge severity-critical" title="severity">critical</span>`, "regression", "alertsui-fw",
		"+30%", `title="bad1cafe0123456789abcdef">bad1cafe0123</code>`, fmt.Sprintf(`href="/tests/%d"`, bad1.ID), fmt.Sprintf(`href="/tests/%d"`, bad2.ID)} {
		require.Contains(t, row, want)
	}
	require.Regexp(t, `<td class="al-summary">[^<]+</td>`, row, "a summary")
	require.Regexp(t, `(Latency-ms|P99-ms)`, row)

	// Filters, as the site admin (who sees every team's alerts).
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?team=alertsui&state=all", ids},
		{"?team=default&state=all", nil},
		{"?framework=alertsui-fw", ids},
		{"?framework=alertsui-fw&state=acknowledged", nil},
		{"?framework=alertsui-nonesuch&state=all", nil},
	} {
		code, html := tokenPage(t, st.Token, http.MethodGet, "/alerts"+c.query, "")
		require.Equal(t, http.StatusOK, code, c.query)
		got := alertRows(html)
		for _, id := range ids {
			require.Equal(t, slices.Contains(c.want, id), slices.Contains(got, id), "%s: alert %s", c.query, id)
		}
		if len(got) == 0 {
			require.Contains(t, html, `id="no-alerts"`, c.query)
		}
	}
	// The API takes the same default filter.
	var list wire.AlertList
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/alerts?team=alertsui&state=unresolved", "", nil, &list))
	require.Len(t, list.Alerts, 2)
	code, html = member.get("/alerts?state=bogus")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, html, `id="alerts-error"`)
	require.Contains(t, html, "state must be one of")

	// The alert's page: facts, history, notifications, and the forms.
	code, html = member.get("/alerts/" + a)
	require.Equal(t, http.StatusOK, code)
	history := element(html, `<table id="history"`, "</table>")
	require.Equal(t, 2, strings.Count(history, "<tr data-event="), history)
	require.Contains(t, element(history, `<tr data-event="opened"`, "</tr>"), fmt.Sprintf(`href="/tests/%d"`, bad1.ID))
	require.Contains(t, element(history, `<tr data-event="attached"`, "</tr>"), fmt.Sprintf(`href="/tests/%d"`, bad2.ID))
	deliveries := element(html, `<table id="deliveries"`, "</table>")
	require.Contains(t, deliveries, "ops-hook")
	require.Contains(t, deliveries, hook.URL+"/…", "a webhook target shows its scheme and host only")
	require.NotContains(t, deliveries, hook.URL+"/hook")
	require.Contains(t, html, `id="acknowledge"`)
	require.Contains(t, html, `id="resolve"`)
	require.Contains(t, html, `name="csrf_token"`)

	// A viewer reads it, without forms, and may not post them.
	code, html = viewer.get("/alerts/" + a)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "2", openBadge(html), "viewers are counted their team's alerts too")
	require.NotContains(t, html, `id="acknowledge"`)
	require.NotContains(t, html, `id="resolve"`)
	require.NotContains(t, html, "/alerts/"+a+"/")
	code, _, _ = viewer.post("/alerts/"+a+"/acknowledge", url.Values{"note": {"viewer"}}, true)
	require.Equal(t, http.StatusForbidden, code)
	code, _, _ = viewer.post("/alerts/"+a+"/resolve", url.Values{"note": {"viewer"}}, true)
	require.Equal(t, http.StatusForbidden, code)

	// Another team's user: no such alert.
	outsider := signInAs(t, "alertsui-outsider")
	code, _ = outsider.get("/alerts/" + a)
	require.Equal(t, http.StatusNotFound, code)
	code, _, _ = outsider.post("/alerts/"+a+"/acknowledge", url.Values{"note": {"outsider"}}, true)
	require.Equal(t, http.StatusNotFound, code)
	_, html = outsider.get("/alerts?state=all")
	require.NotContains(t, alertRows(html), a)

	// A note too long is refused on the page, the note kept.
	long := strings.Repeat("n", 2001)
	code, html, _ = member.post("/alerts/"+a+"/acknowledge", url.Values{"note": {long}}, true)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, element(html, `<p class="error" id="error"`, "</p>"), "longer than 2000 bytes")
	require.Contains(t, html, ">"+long+"</textarea>")

	// A member acknowledges: the state, the history and the badge change.
	code, _, loc := member.post("/alerts/"+a+"/acknowledge", url.Values{"note": {"known: the new allocator"}}, false)
	require.Equal(t, http.StatusForbidden, code, "no CSRF token, no acknowledging")
	require.Empty(t, loc)
	code, _, loc = member.post("/alerts/"+a+"/acknowledge", url.Values{"note": {"known: the new allocator"}}, true)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/alerts/"+a+"?did=acknowledged", loc)
	code, html = member.get(loc)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, html, `id="notice"`)
	require.Contains(t, html, `<span class="badge alert-acknowledged" title="state">acknowledged</span>`)
	history = element(html, `<table id="history"`, "</table>")
	require.Equal(t, 3, strings.Count(history, "<tr data-event="), "the history grew")
	ack := element(history, `<tr data-event="acknowledged"`, "</tr>")
	require.Contains(t, ack, "alertsui-member")
	require.Contains(t, ack, "known: the new allocator")
	require.Contains(t, element(html, `<dd id="acknowledged-by"`, "</dd>"), "alertsui-member")
	require.NotContains(t, html, `id="acknowledge"`, "acknowledged already")
	require.Contains(t, html, `id="resolve"`)
	require.Equal(t, "1", openBadge(html))
	_, html = member.get("/alerts")
	require.Equal(t, ids, alertRows(html), "acknowledged is still unresolved")
	_, html = member.get(mine + "&state=open")
	require.Equal(t, []string{b}, alertRows(html))
	_, html = member.get(mine + "&state=acknowledged")
	require.Equal(t, []string{a}, alertRows(html))
	var got wire.Alert
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/alerts/"+a, "", nil, &got))
	require.Equal(t, wire.AlertAcknowledged, got.State)
	require.Equal(t, "known: the new allocator", got.AckNote)
	require.Equal(t, st.URL+"/alerts/"+a, got.URL, "what notifications link to is this page")

	// Acknowledging again is a conflict, said on the page.
	code, html, _ = member.post("/alerts/"+a+"/acknowledge", url.Values{"note": {"again"}}, true)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, element(html, `<p class="error" id="error"`, "</p>"), "is not open")

	// The member resolves it.
	code, _, loc = member.post("/alerts/"+a+"/resolve", url.Values{"note": {"fixed in def456"}}, true)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/alerts/"+a+"?did=resolved", loc)
	_, html = member.get(loc)
	require.Contains(t, html, `<span class="badge alert-resolved" title="state">resolved</span>`)
	history = element(html, `<table id="history"`, "</table>")
	require.Equal(t, 4, strings.Count(history, "<tr data-event="))
	require.Contains(t, element(history, `<tr data-event="resolved"`, "</tr>"), "fixed in def456")
	require.NotContains(t, html, `id="resolve"`, "resolved: no forms")
	_, html = member.get("/alerts")
	require.Equal(t, []string{b}, alertRows(html), "resolved is left out by default")
	_, html = member.get(mine + "&state=resolved")
	require.Equal(t, []string{a}, alertRows(html))
	_, html = member.get(mine + "&state=all")
	require.Equal(t, ids, alertRows(html))

	// Resolving again is a conflict, said on the page, not a failure.
	code, html, _ = member.post("/alerts/"+a+"/resolve", url.Values{"note": {"again"}}, true)
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, element(html, `<p class="error" id="error"`, "</p>"), "already resolved")

	alertPagesInBrowser(t, b)
}

// alertPagesInBrowser signs the member in through the login page of a
// real browser, sees the list and the badge, opens alert b and
// acknowledges it through its form; it leaves screenshots of the list and
// the alert's page.
func alertPagesInBrowser(t *testing.T, b string) {
	ctx := browser(t)
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	type css = chromedp.CSS
	require.NoError(t, chromedp.Do(tctx,
		stack.Navigate(st.URL+"/login?next="+url.QueryEscape("/alerts?team=alertsui&state=all")),
		chromedp.WaitVisible(css(`input[name="name"]`)),
		chromedp.SendKeys(css(`input[name="name"]`), "alertsui-member"),
		chromedp.SendKeys(css(`input[name="password"]`), "dash password 12345"),
		chromedp.Submit(css(`input[name="password"]`)),
		chromedp.WaitVisible(css("#alerts")),
	))
	badge, err := chromedp.Run(tctx, chromedp.Text(css("#open-alerts")))
	require.NoError(t, err)
	require.Equal(t, "1", badge)
	screenshot(t, tctx, "alerts-list", false)

	require.NoError(t, chromedp.Do(tctx,
		chromedp.Click(css(`#alerts a[href="/alerts/`+b+`"]`)),
		chromedp.WaitVisible(css("#acknowledge")),
		chromedp.SendKeys(css("#ack-note"), "looking into it: the allocator change again"),
		chromedp.Click(css("#acknowledge button")),
		chromedp.WaitVisible(css("#notice")),
	))
	loc, err := chromedp.Run(tctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, st.URL+"/alerts/"+b+"?did=acknowledged", loc)
	state, err := chromedp.Run(tctx, chromedp.Text(css("h1 .alert-acknowledged")))
	require.NoError(t, err)
	require.Equal(t, "acknowledged", state)
	note, err := chromedp.Run(tctx, chromedp.Text(css(`#history tr[data-event="acknowledged"]`)))
	require.NoError(t, err)
	require.Contains(t, note, "looking into it: the allocator change again")
	gone, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.getElementById('open-alerts') === null`))
	require.NoError(t, err)
	require.True(t, gone, "no open alert left: no badge")
	screenshot(t, tctx, "alert-page", false)
}
