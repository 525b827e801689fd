package alerts

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// slackHook is a Slack-compatible incoming webhook: it keeps each call's
// text by the test it is about, or answers every call with gone.
type slackHook struct {
	gone  bool
	mu    sync.Mutex
	texts map[string][]string
}

func (h *slackHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.gone {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "no_service")
		return
	}
	var body struct {
		Text string `json:"text"`
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil || body.Text == "" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	// X-Pitwall-Delivery is notify-<test>-<delivery>.
	test := strings.Split(r.Header.Get("X-Pitwall-Delivery"), "-")[1]
	h.mu.Lock()
	defer h.mu.Unlock()
	h.texts[test] = append(h.texts[test], body.Text)
}

func (h *slackHook) For(test int64) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.texts[fmt.Sprint(test)])
}

// channel sets one of team default's notification channels and returns
// what removes it, for the test to defer: a channel left behind would
// keep calling a receiver that is gone.
func channel(t *testing.T, c wire.NotifyChannel) func() {
	t.Helper()
	b, _ := json.Marshal(c)
	require.Equal(t, http.StatusOK, st.Call(t, "PUT", "/api/v1/teams/default/channels/"+c.Name, "application/json", b, nil))
	return func() {
		require.Equal(t, http.StatusNoContent, st.Call(t, "DELETE", "/api/v1/teams/default/channels/"+c.Name, "", nil, nil))
	}
}

// waitFor reports whether cond came true within a minute.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}

func runOf(t *testing.T, fw, commit string) *wire.Test {
	t.Helper()
	return st.Run(t, wire.RunRequest{Framework: fw, Commit: commit, Branch: "main"})
}

func alertsIn(t *testing.T, fw, state string) []wire.Alert {
	t.Helper()
	var l wire.AlertList
	require.Equal(t, http.StatusOK, st.Call(t, "GET", "/api/v1/alerts?framework="+fw+"&state="+state, "", nil, &l))
	return l.Alerts
}

func alertOf(t *testing.T, id int64) wire.Alert {
	t.Helper()
	var a wire.Alert
	require.Equal(t, http.StatusOK, st.Call(t, "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "", nil, &a))
	return a
}

func kinds(a wire.Alert) []string {
	var out []string
	for _, e := range a.History {
		out = append(out, e.Kind)
	}
	return out
}

// A failed test opens a failure alert that the next finished one
// resolves; a small regression opens a minor alert that a larger one
// escalates to critical; a member resolves it by hand with a note; all
// of it reaches a Slack-compatible hook as text, while a Slack hook that
// was removed (404) fails its delivery at once, visibly, without retries.
func TestFailureEscalationSlack(t *testing.T) {
	const fw = "escalating"
	slack := &slackHook{texts: map[string][]string{}}
	ok := httptest.NewServer(slack)
	defer ok.Close()
	gone := httptest.NewServer(&slackHook{gone: true})
	defer gone.Close()
	defer channel(t, wire.NotifyChannel{Name: "slack-perf", Kind: "slack", Target: ok.URL + "/services/T0/B0/secret", Frameworks: []string{fw}})()
	defer channel(t, wire.NotifyChannel{Name: "slack-removed", Kind: "slack", Target: gone.URL + "/services/T1/B1/old",
		Frameworks: []string{fw}, Events: []string{wire.EventOpened}})()
	defer channel(t, wire.NotifyChannel{Name: "slack-wins", Kind: "slack", Target: ok.URL + "/services/T2/B2/wins",
		Frameworks: []string{fw}, Events: []string{wire.EventImproved}})()
	st.Apply(t, fmt.Sprintf(`name: %s
execution:
  hosts: [%s]
  script: |
    #!/bin/sh
    case "$PITWALL_COMMIT" in
    fail*) echo "the service did not start" >&2; exit 3 ;;
    minor*) v=107 ;;
    crit*) v=130 ;;
    fast*) v=80 ;;
    *) v=100 ;;
    esac
    echo "Latency, $v" >> results.csv
kpis:
  - {name: Latency, unit: ms, better: lower, threshold: 5%%}
`, fw, agentName))
	for i := range 3 {
		require.Equal(t, wire.StateFinished, runOf(t, fw, fmt.Sprintf("good%d", i)).State)
	}

	// A failed test: a failure alert, on Slack.
	failed := runOf(t, fw, "fail1")
	require.Equal(t, wire.StateFailed, failed.State, failed.Reason)
	eventually(t, "the failure alert", func() bool { return len(alertsIn(t, fw, "open")) == 1 })
	fa := alertsIn(t, fw, "open")[0]
	require.Equal(t, wire.AlertFailure, fa.Kind)
	require.Equal(t, wire.SeverityMajor, fa.Severity)
	require.Equal(t, failed.ID, fa.FirstTest)
	eventually(t, "Slack hears of the failure", func() bool { return len(slack.For(failed.ID)) == 1 })
	text := slack.For(failed.ID)[0]
	require.Contains(t, text, fmt.Sprintf("alert #%d opened [major]", fa.ID))
	require.Contains(t, text, "the service did not start")
	require.Contains(t, text, fmt.Sprintf("/alerts/%d", fa.ID))
	t.Logf("Slack text of test %d:\n%s", failed.ID, text)

	// The hook that was removed: failed after one attempt, and says why.
	var removed *wire.Delivery
	eventually(t, "the removed hook's delivery to fail", func() bool {
		for _, d := range alertOf(t, fa.ID).Deliveries {
			if d.Channel == "slack-removed" && d.Status == "failed" {
				removed = &d
				return true
			}
		}
		return false
	})
	require.Equal(t, 1, removed.Attempts, "a 404 is not retried")
	require.Contains(t, removed.LastError, "404")
	require.Contains(t, removed.LastError, "no_service")
	require.NotContains(t, removed.LastError, "/services/T1", "the hook's secret path stays out of the error")
	for _, d := range alertOf(t, fa.ID).Deliveries {
		require.NotContains(t, d.Target, "/services/", "a delivery shows a hook's scheme and host only")
	}

	// The next finished test resolves it.
	good := runOf(t, fw, "good3")
	require.Equal(t, wire.StateFinished, good.State)
	eventually(t, "the failure alert resolved", func() bool { return alertOf(t, fa.ID).State == wire.AlertResolved })
	require.Equal(t, []string{"opened", "resolved"}, kinds(alertOf(t, fa.ID)))
	eventually(t, "Slack hears of the resolution", func() bool { return len(slack.For(good.ID)) == 1 })
	require.Contains(t, slack.For(good.ID)[0], fmt.Sprintf("alert #%d resolved", fa.ID))

	// 7% against 5%: minor; then 30%: escalated to critical, one alert.
	minor := runOf(t, fw, "minor1")
	require.Equal(t, "regressed", minor.Verdict)
	eventually(t, "the regression alert", func() bool { return len(alertsIn(t, fw, "open")) == 1 })
	ra := alertsIn(t, fw, "open")[0]
	require.Equal(t, wire.AlertRegression, ra.Kind)
	require.Equal(t, wire.SeverityMinor, ra.Severity)
	crit := runOf(t, fw, "crit1")
	require.Equal(t, "regressed", crit.Verdict)
	eventually(t, "the escalation", func() bool { return alertOf(t, ra.ID).Severity == wire.SeverityCritical })
	require.Len(t, alertsIn(t, fw, "open"), 1, "escalated, not a second alert")
	esc := alertOf(t, ra.ID)
	require.Equal(t, []string{"opened", "escalated"}, kinds(esc))
	require.Equal(t, wire.SeverityCritical, esc.History[1].Severity)
	require.Equal(t, crit.ID, esc.LastTest)
	eventually(t, "Slack hears of the escalation", func() bool { return len(slack.For(crit.ID)) == 1 })
	require.Contains(t, slack.For(crit.ID)[0], fmt.Sprintf("alert #%d escalated [critical]", ra.ID))

	// Resolved by hand, with a note: the note and who are in its history;
	// resolving again is a conflict.
	var res wire.Alert
	require.Equal(t, http.StatusOK, st.Call(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/resolve", ra.ID), "application/json",
		[]byte(`{"note":"reverted in the next commit"}`), &res))
	require.Equal(t, wire.AlertResolved, res.State)
	last := res.History[len(res.History)-1]
	require.Equal(t, "resolved", last.Kind)
	require.Equal(t, "reverted in the next commit", last.Note)
	require.NotEmpty(t, last.Actor)
	require.Nil(t, last.TestID)
	require.Equal(t, http.StatusConflict, st.Call(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/resolve", ra.ID), "application/json",
		[]byte(`{}`), nil))
	pretty, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("escalated, then resolved by hand:\n%s", pretty)

	// An improvement opens nothing and reaches only the channel that asked.
	fast := runOf(t, fw, "fast1")
	require.Equal(t, "improved", fast.Verdict)
	eventually(t, "the improvement on Slack", func() bool { return len(slack.For(fast.ID)) == 1 })
	time.Sleep(time.Second) // nothing more comes
	require.Len(t, slack.For(fast.ID), 1, "only slack-wins names improved")
	require.Contains(t, slack.For(fast.ID)[0], "Latency improved -20.0% at test #"+fmt.Sprint(fast.ID))
	require.Empty(t, alertsIn(t, fw, "open"))
}

// A shift no single test calls: each test's three iterations spread
// ±20%, so a 10% step is within every test's noise (Welch: unchanged),
// but the series of means shows it. The change point alone opens one
// alert, dated to the first test after the step; later tests at the new
// level neither resolve it (their verdict is unchanged: only the level
// before the change point counts) nor repeat it; a test back at the old
// level resolves it.
func TestChangePointAloneOpensAlert(t *testing.T) {
	const fw = "drifting"
	st.Apply(t, fmt.Sprintf(`name: %s
execution:
  hosts: [%s]
  script: |
    #!/bin/sh
    base=100
    case "$PITWALL_COMMIT" in after*) base=110 ;; esac
    echo "Latency, $((base - 40 + 20 * PITWALL_ITERATION))" >> results.csv
repeat: 3
kpis:
  - {name: Latency, unit: ms, better: lower, threshold: 5%%}
`, fw, agentName))
	for i := range 6 {
		require.Equal(t, wire.StateFinished, runOf(t, fw, fmt.Sprintf("before%d", i)).State)
	}
	var after []*wire.Test
	for i := range 5 {
		tt := runOf(t, fw, fmt.Sprintf("after%d", i))
		require.Equal(t, wire.StateFinished, tt.State, tt.Reason)
		require.NotEqual(t, "regressed", tt.Verdict, "test %d: each test is within its noise", tt.ID)
		after = append(after, tt)
	}
	if !waitFor(func() bool { return len(alertsIn(t, fw, "open")) == 1 }) {
		var cps json.RawMessage
		st.Call(t, "GET", "/api/v1/frameworks/"+fw+"/changepoints", "", nil, &cps)
		var sums []string
		for _, tt := range after {
			var full wire.Test
			st.Call(t, "GET", fmt.Sprintf("/api/v1/tests/%d", tt.ID), "", nil, &full)
			b, _ := json.Marshal(full.KPISummary)
			v, _ := json.Marshal(full.Verdicts)
			sums = append(sums, string(b)+" "+string(v))
		}
		rows, _ := st.Pool.Query(t.Context(), `SELECT t.id, t.branch, t.baseline, t.state, t.params::text, avg(k.value) FROM tests t JOIN frameworks f ON f.id = t.framework_id
			JOIN test_kpis k ON k.test_id = t.id WHERE f.name = $1 GROUP BY t.id ORDER BY t.id`, fw)
		for rows.Next() {
			vals, _ := rows.Values()
			sums = append(sums, fmt.Sprint(vals...))
		}
		rows.Close()
		t.Fatalf("no alert for the change point; change points %s\ntests %s", cps, strings.Join(sums, "\n"))
	}
	a := alertOf(t, alertsIn(t, fw, "open")[0].ID)
	require.Equal(t, wire.AlertRegression, a.Kind)
	require.Equal(t, "Latency", a.KPI)
	require.NotNil(t, a.ChangePoint)
	require.Equal(t, after[0].ID, a.FirstTest, "dated to the first test after the step")
	require.Equal(t, "after0", a.FirstCommit)
	require.InDelta(t, 10, a.DeltaPct, 0.01)
	require.Equal(t, wire.SeverityMajor, a.Severity, "a change of twice the threshold")
	require.Contains(t, a.Summary, "change point")
	require.Equal(t, []string{"opened"}, kinds(a))
	require.Equal(t, after[4].ID, *a.History[0].TestID, "seen at the test that found it")

	// At the new level: neither resolved (the moved baseline says
	// unchanged) nor repeated.
	still := runOf(t, fw, "after5")
	require.NotEqual(t, "regressed", still.Verdict)
	time.Sleep(2 * time.Second)
	require.Equal(t, []string{"opened"}, kinds(alertOf(t, a.ID)))
	require.Len(t, alertsIn(t, fw, "open"), 1)

	// Back at the level before the step: resolved, and says so.
	back := runOf(t, fw, "before6")
	eventually(t, "the resolution", func() bool { return alertOf(t, a.ID).State == wire.AlertResolved })
	got := alertOf(t, a.ID)
	require.Equal(t, []string{"opened", "resolved"}, kinds(got))
	require.Equal(t, back.ID, *got.History[1].TestID)
	// One test back at the old level also ends the change point (the
	// series is noise-free here), so either rule may be the one that says
	// so; the test at the new level above showed the change point's rule.
	require.Contains(t, got.History[1].Note, fmt.Sprintf("test #%d is back at the", back.ID))
	require.Empty(t, alertsIn(t, fw, "open"))
	pretty, _ := json.MarshalIndent(got, "", "  ")
	t.Logf("a change point's alert:\n%s", pretty)
}
