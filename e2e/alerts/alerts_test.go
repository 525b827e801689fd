package alerts

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/notify"
	"github.com/pitwall/pitwall/internal/wire"
)

const hookSecret = "alerts e2e webhook secret"

// hooks is the generic webhook's receiver: it checks each call's
// signature and keeps the bodies.
type hooks struct {
	mu    sync.Mutex
	calls []wire.WebhookBody
	bad   []string
}

func (h *hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if got, want := r.Header.Get(notify.SignatureHeader), notify.Sign([]byte(hookSecret), b); got != want {
		h.bad = append(h.bad, fmt.Sprintf("signature %q, want %q", got, want))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var body wire.WebhookBody
	if err := json.Unmarshal(b, &body); err != nil {
		h.bad = append(h.bad, err.Error())
		return
	}
	h.calls = append(h.calls, body)
}

func (h *hooks) For(test int64) []wire.WebhookBody {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []wire.WebhookBody
	for _, c := range h.calls {
		if c.Test.ID == test {
			out = append(out, c)
		}
	}
	return out
}

// kpis are the framework's twelve KPIs.
var kpis = func() []string {
	var out []string
	for i := 1; i <= 12; i++ {
		out = append(out, fmt.Sprintf("Latency%02d", i))
	}
	return out
}()

// framework writes 100 for every KPI, 130 on a commit starting "bad":
// a 30% regression of each against a 5% threshold, without noise.
func framework() string {
	var b strings.Builder
	fmt.Fprintf(&b, `name: alerting
execution:
  hosts: [%s]
  script: |
    #!/bin/sh
    v=100
    case "$PITWALL_COMMIT" in bad*) v=130 ;; esac
    for k in %s; do echo "$k, $v" >> results.csv; done
kpis:
`, agentName, strings.Join(kpis, " "))
	for _, k := range kpis {
		fmt.Fprintf(&b, "  - {name: %s, unit: ms, better: lower, threshold: 5%%}\n", k)
	}
	b.WriteString("notify:\n  email: [perf-cc@example.test]\n")
	return b.String()
}

func run(t *testing.T, commit string) *wire.Test {
	t.Helper()
	tt := st.Run(t, wire.RunRequest{Framework: "alerting", Commit: commit, Branch: "main"})
	got := st.Wait(t, tt.ID)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	return got
}

func alertsOf(t *testing.T, state string) []wire.Alert {
	t.Helper()
	var l wire.AlertList
	require.Equal(t, http.StatusOK, st.Call(t, "GET", "/api/v1/alerts?framework=alerting&state="+state, "", nil, &l))
	return l.Alerts
}

// eventually waits for cond, up to a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The life of an alert, and what is sent about it: twelve regressed KPIs
// of one commit open twelve alerts and send one e-mail and one webhook
// call; a second regressed test attaches to the open alerts; an
// acknowledged alert stops repeating; a return to baseline resolves them
// and notifies, through an SMTP server that refuses twice first (retried,
// the failure visible on the delivery).
func TestAlertLife(t *testing.T) {
	h := &hooks{}
	recv := httptest.NewServer(h)
	defer recv.Close()
	// The bootstrap token is no user's, so it may not set an address of
	// its own (403); the owner's address goes straight into the database.
	require.Equal(t, http.StatusForbidden, st.Call(t, "PUT", "/api/v1/account/email", "application/json",
		[]byte(`{"email":"owner@example.test"}`), nil))
	ch, _ := json.Marshal(wire.NotifyChannel{Kind: "webhook", Target: recv.URL + "/hook", Secret: hookSecret})
	var got wire.NotifyChannel
	require.Equal(t, http.StatusOK, st.Call(t, "PUT", "/api/v1/teams/default/channels/hook", "application/json", ch, &got))
	defer func() {
		require.Equal(t, http.StatusNoContent, st.Call(t, "DELETE", "/api/v1/teams/default/channels/hook", "", nil, nil))
	}()
	require.True(t, got.HasSecret)
	require.Empty(t, got.Secret)
	st.Apply(t, framework())

	for i := range 3 {
		tt := run(t, fmt.Sprintf("good%d", i))
		_, err := st.Pool.Exec(t.Context(), `INSERT INTO users (name, password_hash, email) VALUES ($1, 'x', 'owner@example.test')
			ON CONFLICT (name) DO UPDATE SET email = EXCLUDED.email`, tt.Owner)
		require.NoError(t, err)
	}
	time.Sleep(time.Second)
	require.Empty(t, alertsOf(t, ""))

	// One commit regresses twelve KPIs: twelve alerts, one e-mail, one call.
	bad1 := run(t, "bad1")
	require.Equal(t, "regressed", bad1.Verdict)
	eventually(t, "twelve open alerts", func() bool { return len(alertsOf(t, "open")) == 12 })
	open := alertsOf(t, "open")
	require.Len(t, open, 12)
	for _, a := range open {
		require.Equal(t, bad1.ID, a.FirstTest)
		require.Equal(t, "bad1", a.FirstCommit)
		require.Equal(t, wire.SeverityCritical, a.Severity, "30%% against a 5%% threshold")
	}
	id1 := fmt.Sprint(bad1.ID)
	eventually(t, "the e-mail and the webhook call of "+id1, func() bool { return len(inbox.For(id1)) >= 1 && len(h.For(bad1.ID)) >= 1 })
	time.Sleep(time.Second) // nothing more comes
	mails := inbox.For(id1)
	require.Len(t, mails, 1, "one e-mail for twelve regressed KPIs")
	m := mails[0]
	require.ElementsMatch(t, []string{"owner@example.test", "perf-cc@example.test"}, m.Rcpt)
	require.Equal(t, "pitwall@example.test", m.From, "envelope sender")
	require.Contains(t, m.Msg.Header.Get("Subject"), "12 new alert(s) at test #"+id1)
	require.Contains(t, m.Msg.Header.Get("From"), "pitwall@example.test")
	require.Contains(t, m.Body, "Latency07")
	require.Contains(t, m.Body, fmt.Sprintf("/tests/%d", bad1.ID))
	t.Logf("e-mail as received:\n%s", m.Raw)
	calls := h.For(bad1.ID)
	require.Len(t, calls, 1, "one webhook call for twelve regressed KPIs")
	require.Len(t, calls[0].Events, 12)
	require.Equal(t, wire.EventOpened, calls[0].Events[0].Event)
	require.Equal(t, "bad1", calls[0].Test.Commit)
	require.Empty(t, h.bad)

	// A second regressed test of the same problem attaches.
	bad2 := run(t, "bad2")
	eventually(t, "the webhook call of the second test", func() bool { return len(h.For(bad2.ID)) == 1 })
	open = alertsOf(t, "open")
	require.Len(t, open, 12)
	for _, a := range open {
		require.Equal(t, bad1.ID, a.FirstTest)
		require.Equal(t, bad2.ID, a.LastTest)
	}
	require.Equal(t, wire.EventAttached, h.For(bad2.ID)[0].Events[0].Event)

	// Acknowledged alerts stop repeating.
	for _, a := range open {
		var acked wire.Alert
		require.Equal(t, http.StatusOK, st.Call(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/acknowledge", a.ID), "application/json",
			[]byte(`{"note":"known: the new allocator, fix in review"}`), &acked))
		require.Equal(t, wire.AlertAcknowledged, acked.State)
	}
	bad3 := run(t, "bad3")
	eventually(t, "the owner's e-mail of the third test", func() bool { return len(inbox.For(fmt.Sprint(bad3.ID))) == 1 })
	time.Sleep(2 * time.Second)
	require.Empty(t, h.For(bad3.ID), "acknowledged alerts do not repeat on the webhook")
	m3 := inbox.For(fmt.Sprint(bad3.ID))
	require.Len(t, m3, 1)
	require.Equal(t, []string{"owner@example.test"}, m3[0].Rcpt, "only the owner hears the test ended")
	require.NotContains(t, m3[0].Body, "attached")

	// Back at the baseline: resolved, notified, through a refusing server.
	inbox.Refuse(2)
	good := run(t, "good9")
	gid := fmt.Sprint(good.ID)
	eventually(t, "the resolution's e-mail", func() bool { return len(inbox.For(gid)) == 1 })
	eventually(t, "the resolution's webhook call", func() bool { return len(h.For(good.ID)) == 1 })
	require.Empty(t, alertsOf(t, "open"))
	require.Empty(t, alertsOf(t, "acknowledged"))
	require.Len(t, alertsOf(t, "resolved"), 12)
	require.Len(t, h.For(good.ID)[0].Events, 12)
	require.Equal(t, wire.EventResolved, h.For(good.ID)[0].Events[0].Event)
	require.Contains(t, inbox.For(gid)[0].Msg.Header.Get("Subject"), "12 resolved")

	var a wire.Alert
	require.Equal(t, http.StatusOK, st.Call(t, "GET", fmt.Sprintf("/api/v1/alerts/%d", open[0].ID), "", nil, &a))
	var kinds []string
	for _, e := range a.History {
		kinds = append(kinds, e.Kind)
	}
	require.Equal(t, []string{"opened", "attached", "acknowledged", "attached", "resolved"}, kinds)
	var mailed *wire.Delivery
	for i, d := range a.Deliveries {
		if d.TestID == good.ID && d.Kind == "email" {
			mailed = &a.Deliveries[i]
		}
	}
	require.NotNil(t, mailed)
	require.Equal(t, "sent", mailed.Status)
	require.Equal(t, 3, mailed.Attempts, "two refusals, then sent")
	require.Contains(t, mailed.LastError, "451")
	pretty, _ := json.MarshalIndent(a, "", "  ")
	t.Logf("alert from open to resolved:\n%s", pretty)

	// starter alerts: the list by state, one alert's history and deliveries.
	r := st.Starter(t, "alerts", "list", "--framework", "alerting", "--state", "resolved")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, fmt.Sprintf("alert %d  resolved", a.ID))
	r = st.Starter(t, "alerts", "show", fmt.Sprint(a.ID))
	require.Equal(t, 0, r.Code, r.Stderr)
	for _, want := range []string{"opened  test", "acknowledged", "resolved  test", "after 3 attempt(s)"} {
		require.Contains(t, r.Stdout, want)
	}
	t.Logf("starter alerts show %d:\n%s", a.ID, r.Stdout)
	r = st.Starter(t, "alerts", "ack", fmt.Sprint(a.ID), "--note", "late")
	require.Equal(t, 3, r.Code, "a resolved alert cannot be acknowledged: %s", r.Stdout)
	require.NotEmpty(t, r.Stderr)
	t.Logf("resolution e-mail as received:\n%s", inbox.For(gid)[0].Raw)
}
