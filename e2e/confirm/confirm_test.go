package confirm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// frameworkFile is a benchmark whose Latency is 100 ms, 103 ms at commit
// "slow", times 1 + noise% of a standard normal draw; sleep seconds first.
func frameworkFile(name, threshold string) string {
	return fmt.Sprintf(`
name: %s
execution:
  timeout: 2m
  script: |
    #!/bin/sh
    sleep "$PITWALL_PARAM_SLEEP"
    awk -v commit="$PITWALL_COMMIT" -v noise="$PITWALL_PARAM_NOISE" -v id="$PITWALL_TEST_ID" 'BEGIN {
      srand((id * 7919 + 17) %% 2147483647); rand(); rand(); base = 100; if (commit == "slow") base = 103
      u1 = rand(); u2 = rand(); if (u1 < 1e-12) u1 = 1e-12
      z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2)
      printf "Latency, %%.5fms\n", base * (1 + noise / 100 * z) }' > results.csv
parameters:
  - {name: noise, default: "1"}
  - {name: sleep, default: "0"}
kpis:
  - {name: Latency, unit: ms, better: lower, threshold: %s}
confirm: {checkout: true}
`, name, threshold)
}

// start asks for a confirmation of test id and returns it.
func start(t *testing.T, id int64, req wire.ConfirmRequest) *wire.Confirmation {
	t.Helper()
	body, _ := json.Marshal(req)
	var c wire.Confirmation
	code := st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/confirm", id), "application/json", body, &c)
	require.Equal(t, http.StatusCreated, code)
	require.Equal(t, wire.ConfirmRunning, c.State)
	return &c
}

// ended waits until confirmation id has ended.
func ended(t *testing.T, id int64, limit time.Duration) *wire.Confirmation {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var c wire.Confirmation
		require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/confirmations/%d", id), "", nil, &c))
		if c.State != wire.ConfirmRunning {
			return &c
		}
		if time.Now().After(deadline) {
			for _, r := range c.Runs {
				var x wire.Test
				st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d", r.TestID), "", nil, &x)
				t.Logf("run %d arm %s: %s %s; timeline %+v", r.TestID, r.Arm, x.State, x.Reason, x.Timeline)
			}
			t.Fatalf("confirmation %d still running after %s: %d runs", id, limit, len(c.Runs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func arms(c *wire.Confirmation) string {
	var b strings.Builder
	for _, r := range c.Runs {
		b.WriteString(r.Arm)
	}
	return b.String()
}

func logRuns(t *testing.T, c *wire.Confirmation) {
	t.Helper()
	for _, r := range c.Runs {
		t.Logf("  run %d arm %s commit %-5s %s Latency %.3f", r.TestID, r.Arm, r.Commit, r.State, r.Values["Latency"])
	}
	for _, o := range c.Outcomes {
		t.Logf("  %s: %s %s, change %+.2f%% (%.1f%% CI %+.2f..%+.2f%%) after %d pairs: %s", o.KPI, o.Decision, o.Verdict,
			o.ChangePct, 100*o.Confidence, o.CILowPct, o.CIHighPct, o.Pairs, o.Evidence)
	}
}

// A 3% slower commit under 1% noise: the confirmation runs the two commits
// in ABBA order on the test's host, holding its lease for the whole
// series (a test submitted meanwhile waits until the series ends), and
// confirms the regression.
func TestConfirmARegression(t *testing.T) {
	st.Apply(t, frameworkFile("confirm-3pct", "1%"))
	base := st.Run(t, wire.RunRequest{Framework: "confirm-3pct", Commit: "fast", Baseline: true})
	require.Equal(t, wire.StateFinished, base.State, base.Reason)
	cand := st.Run(t, wire.RunRequest{Framework: "confirm-3pct", Commit: "slow"})
	require.Equal(t, wire.StateFinished, cand.State, cand.Reason)

	began := time.Now()
	c := start(t, cand.ID, wire.ConfirmRequest{KPIs: []string{"Latency"}, BaseTest: base.ID, Budget: 20})
	require.Equal(t, "fast", c.BaseCommit)
	require.Equal(t, "slow", c.CandCommit)
	// Once the series holds the host, a test submitted meanwhile waits.
	for {
		var got wire.Confirmation
		st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/confirmations/%d", c.ID), "", nil, &got)
		if got.Host != "" && len(got.Runs) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	other, err := st.Submit(t.Context(), wire.RunRequest{Framework: "confirm-3pct", Commit: "other"})
	require.NoError(t, err)

	c = ended(t, c.ID, 90*time.Second)
	took := time.Since(began)
	t.Logf("confirmation %d: %s in %s, %d runs: %s", c.ID, c.State, took.Round(time.Second), len(c.Runs), c.Reason)
	logRuns(t, c)
	require.Equal(t, wire.ConfirmConfirmed, c.State, c.Reason)
	require.Len(t, c.Outcomes, 1)
	o := c.Outcomes[0]
	require.Equal(t, confirm.Different, o.Decision)
	require.Equal(t, "regressed", o.Verdict)
	require.InDelta(t, 3.0, o.ChangePct, 1.5)
	require.Less(t, o.CILowPct, 3.0)
	require.Greater(t, o.CIHighPct, 3.0)

	n := len(c.Runs)
	require.Equal(t, "ABBAABBAABBAABBAABBAABBAABBAABBAABBAABBA"[:n], arms(c), "the runs interleave ABBA")
	last := time.Time{}
	for _, r := range c.Runs {
		x := st.Wait(t, r.TestID)
		require.Equal(t, c.Host, x.Host, "every run is on the test's host")
		require.NotEmpty(t, stages(x, "lease held "+c.Host), "run %d used the confirmation's lease", x.ID)
		if r.EndedAt != nil && r.EndedAt.After(last) {
			last = *r.EndedAt
		}
	}
	o2 := st.Wait(t, other.ID)
	require.Equal(t, wire.StateFinished, o2.State)
	setup := stages(o2, "lease acquired "+c.Host)
	require.NotEmpty(t, setup)
	t.Logf("test %d submitted during the series got the host at %s; the series' last run ended at %s",
		o2.ID, setup[0].At.Format("15:04:05.000"), last.Format("15:04:05.000"))
	require.False(t, setup[0].At.Before(last), "no other test ran inside the series")
	st.RecordHistory(t, contract.ConfirmWorkflowID(c.ID), "../../workflows/testdata/confirm-take.json")

	// The confirmation's runs are no baselines: the next test of commit
	// "fast" is still judged against the one baseline test alone.
	var list wire.List[wire.Confirmation]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/confirmations", cand.ID), "", nil, &list))
	require.Len(t, list.Items, 1)
	again := st.Run(t, wire.RunRequest{Framework: "confirm-3pct", Commit: "fast"})
	require.Equal(t, []int64{base.ID}, again.BaselineTests, "runs of a confirmation are not baseline tests")

	// starter confirm --wait on a finished series' test: a second one
	// runs and its exit status says the regression is confirmed.
	out := st.Starter(t, "confirm", fmt.Sprint(cand.ID), "--kpi", "Latency", "--base-test", fmt.Sprint(base.ID), "--budget", "20", "--wait")
	require.Equal(t, 1, out.Code, "exit 1: confirmed; %s %s", out.Stdout, out.Stderr)
	require.Contains(t, out.Stdout, "confirmed")
}

func stages(x *wire.Test, name string) []wire.Stage {
	var out []wire.Stage
	for _, s := range x.Timeline {
		if s.Stage == name {
			out = append(out, s)
		}
	}
	return out
}

// No change under 2% noise, with a 5% threshold: the confirmation ends
// "not confirmed" (the change is confidently within the threshold).
func TestConfirmNoChange(t *testing.T) {
	st.Apply(t, frameworkFile("confirm-same", "5%"))
	params := map[string]string{"noise": "2"}
	base := st.Run(t, wire.RunRequest{Framework: "confirm-same", Commit: "a1", Baseline: true, Params: params})
	cand := st.Run(t, wire.RunRequest{Framework: "confirm-same", Commit: "a2", Params: params})
	require.Equal(t, wire.StateFinished, cand.State, cand.Reason)
	c := start(t, cand.ID, wire.ConfirmRequest{KPIs: []string{"Latency"}, BaseTest: base.ID, Budget: 20, Order: "random"})
	c = ended(t, c.ID, 5*time.Minute)
	t.Logf("confirmation %d: %s, %d runs: %s", c.ID, c.State, len(c.Runs), c.Reason)
	logRuns(t, c)
	require.Equal(t, wire.ConfirmNotConfirmed, c.State, c.Reason)
	require.Equal(t, confirm.Same, c.Outcomes[0].Decision)
	for _, r := range c.Runs {
		want := map[string]string{"A": "a1", "B": "a2"}[r.Arm]
		require.Equal(t, want, r.Commit)
	}
}

// Cancelling a confirmation aborts its run and gives the host back.
func TestConfirmCancel(t *testing.T) {
	st.Apply(t, frameworkFile("confirm-cancel", "1%"))
	base := st.Run(t, wire.RunRequest{Framework: "confirm-cancel", Commit: "fast", Baseline: true})
	cand := st.Run(t, wire.RunRequest{Framework: "confirm-cancel", Commit: "slow"})
	// The runs sleep 60 s: the first is cancelled while it runs.
	_, err := st.Pool.Exec(t.Context(), `UPDATE tests SET params = '[{"name":"noise","value":"1"},{"name":"sleep","value":"60"}]' WHERE id = $1`, cand.ID)
	require.NoError(t, err)
	c := start(t, cand.ID, wire.ConfirmRequest{KPIs: []string{"Latency"}, BaseTest: base.ID})
	var run int64
	require.Eventually(t, func() bool {
		var got wire.Confirmation
		st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/confirmations/%d", c.ID), "", nil, &got)
		if len(got.Runs) == 0 || got.Runs[0].State != wire.StateRunning {
			return false
		}
		run = got.Runs[0].TestID
		return true
	}, time.Minute, 100*time.Millisecond)
	require.Equal(t, http.StatusAccepted, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/confirmations/%d/cancel", c.ID), "", nil, nil))
	c = ended(t, c.ID, time.Minute)
	require.Equal(t, wire.ConfirmCancelled, c.State, c.Reason)
	require.Equal(t, wire.StateAborted, st.Wait(t, run).State)
	after := st.Run(t, wire.RunRequest{Framework: "confirm-cancel", Commit: "fast"})
	require.Equal(t, wire.StateFinished, after.State, "the host was given back: %s", after.Reason)
}
