package noise

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/workflows/contract"
)

// frameworkFile is a benchmark whose Latency is 100 ms (110 ms at commit
// "slow") times 1 + noise% of
// a standard normal draw (Box-Muller on awk's rand, seeded by the test's
// ID so a series is reproducible); hosts pins it to a host when set.
func frameworkFile(name, hosts string) string {
	pin := ""
	if hosts != "" {
		pin = "\n  hosts: [" + hosts + "]"
	}
	return fmt.Sprintf(`
name: %s
execution:
  timeout: 2m%s
  script: |
    #!/bin/sh
    awk -v noise="$PITWALL_PARAM_NOISE" -v id="$PITWALL_TEST_ID" -v commit="$PITWALL_COMMIT" 'BEGIN {
      srand((id * 7919 + 17) %% 2147483647); rand(); rand()
      u1 = rand(); u2 = rand(); if (u1 < 1e-12) u1 = 1e-12
      z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2)
      base = 100; if (commit == "slow") base = 110
      printf "Latency, %%.5fms\n", base * (1 + noise / 100 * z) }' > results.csv
parameters:
  - {name: noise, default: "2"}
kpis:
  - {name: Latency, unit: ms, better: lower, threshold: 5%%}
confirm: {checkout: true}
`, name, pin)
}

// measure starts an A/A measurement on host and waits until it ends.
func measure(t *testing.T, host string, req wire.NoiseRequest, limit time.Duration) *wire.NoiseMeasurement {
	t.Helper()
	body, _ := json.Marshal(req)
	var m wire.NoiseMeasurement
	require.Equal(t, http.StatusCreated, st.Call(t, http.MethodPost, "/api/v1/agents/"+host+"/noise", "application/json", body, &m))
	require.Equal(t, wire.NoiseRunning, m.State)
	began := time.Now()
	deadline := began.Add(limit)
	for {
		n := hostNoise(t, host)
		for _, got := range n.Measurements {
			if got.ID == m.ID && got.State != wire.NoiseRunning {
				t.Logf("measurement %d (%s, %d runs): %s in %s: %s", got.ID, req.Params["noise"]+"% noise", got.Runs,
					got.State, time.Since(began).Round(100*time.Millisecond), got.Reason)
				return &got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("measurement %d still running after %s", m.ID, limit)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func hostNoise(t *testing.T, host string) *wire.HostNoise {
	t.Helper()
	var n wire.HostNoise
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/agents/"+host+"/noise", "", nil, &n))
	return &n
}

// An A/A series of 40 runs under 2% normal noise gives a CV within 20% of
// 2%, every run on the host and marked AA (no baseline); a second series
// on the same host at 6% noise is flagged as a jump, in the API and on the
// agents page; a confirmation's default budget follows the noise floor;
// an excluded host gets no test that does not name it.
func TestNoiseFloors(t *testing.T) {
	host := st.Agents[0]
	st.Apply(t, frameworkFile("noise-aa", host))

	m := measure(t, host, wire.NoiseRequest{Framework: "noise-aa", Runs: 40, Commit: "c1",
		Params: map[string]string{"noise": "2"}}, 4*time.Minute)
	require.Equal(t, wire.NoiseFinished, m.State, m.Reason)
	require.Len(t, m.Tests, 40)
	require.Len(t, m.Floors, 1)
	f := m.Floors[0]
	t.Logf("A/A at 2%% noise: Latency CV %.3f%% (95%% interval %.3f..%.3f%%) over %d runs; %s",
		100*f.CV, 100*f.CVLow, 100*f.CVHigh, f.N, f.Evidence)
	require.Equal(t, "Latency", f.KPI)
	require.Equal(t, 40, f.N)
	require.InDelta(t, 0.02, f.CV, 0.2*0.02, "the CV is within 20%% of the injected 2%%")
	require.Less(t, f.CVLow, f.CV)
	require.Greater(t, f.CVHigh, f.CV)
	require.False(t, f.Jumped)
	for _, id := range []int64{m.Tests[0], m.Tests[39]} {
		x := st.Wait(t, id)
		require.Equal(t, host, x.Host, "run %d is on the measured host", id)
		require.Equal(t, "c1", x.Commit)
	}
	require.False(t, hostNoise(t, host).Flagged)

	// The A/A runs are no baselines: a test marked baseline is judged
	// against no earlier test.
	first := st.Run(t, wire.RunRequest{Framework: "noise-aa", Commit: "c1", Baseline: true})
	require.Empty(t, first.BaselineTests, "runs of a noise measurement are not baseline tests")

	// The same host, noisier: flagged.
	m2 := measure(t, host, wire.NoiseRequest{Framework: "noise-aa", Runs: 15, Commit: "c1",
		Params: map[string]string{"noise": "6"}}, 3*time.Minute)
	require.Equal(t, wire.NoiseFinished, m2.State, m2.Reason)
	f2 := m2.Floors[0]
	t.Logf("A/A at 6%% noise: Latency CV %.3f%% (95%% interval %.3f..%.3f%%); jumped %v: %s",
		100*f2.CV, 100*f2.CVLow, 100*f2.CVHigh, f2.Jumped, f2.Evidence)
	require.True(t, f2.Jumped, f2.Evidence)
	n := hostNoise(t, host)
	require.True(t, n.Flagged)
	require.Len(t, n.Latest, 1)
	require.Equal(t, m2.ID, n.Latest[0].MeasurementID, "the latest floor is the second measurement's")
	var agents wire.List[wire.Agent]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/agents", "", nil, &agents))
	for _, a := range agents.Items {
		require.Equal(t, a.Name == host, a.NoiseJumped, "agent %s", a.Name)
	}

	// With one baseline test, a 10% slower commit is beyond the 5%
	// threshold but within the host's noise: the floor's interval judges
	// it unchanged instead of the threshold alone calling it regressed.
	cand := st.Run(t, wire.RunRequest{Framework: "noise-aa", Commit: "slow"})
	require.Equal(t, wire.StateFinished, cand.State, cand.Reason)
	require.Equal(t, []int64{first.ID}, cand.BaselineTests)
	require.Len(t, cand.Verdicts, 1)
	v := cand.Verdicts[0]
	t.Logf("test %d (commit slow) against test %d: %s by %s, change %+.2f%%: %s", cand.ID, first.ID, v.Verdict, v.Method, v.DeltaPct, v.Evidence)
	require.Greater(t, v.DeltaPct, 5.0, "the change is beyond the threshold")
	require.Equal(t, "noise-floor", v.Method)
	require.Equal(t, "unchanged", v.Verdict)
	require.Contains(t, v.Evidence, fmt.Sprintf("noise floor (CV %.2f%%)", 100*f2.CV))

	// A confirmation with no budget takes 16 × (CV / threshold)² pairs.
	body, _ := json.Marshal(wire.ConfirmRequest{KPIs: []string{"Latency"}, BaseTest: first.ID})
	var c wire.Confirmation
	require.Equal(t, http.StatusCreated, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/confirm", cand.ID), "application/json", body, &c))
	want := tests.NoiseBudget(f2.CV, 0.05)
	t.Logf("confirmation %d: budget %d pairs from the noise floor CV %.2f%% and threshold 5%%", c.ID, c.Budget, 100*f2.CV)
	require.Equal(t, want, c.Budget)
	require.Greater(t, c.Budget, 10, "a noisy host asks for more than the 10 pairs of the default")
	require.Equal(t, http.StatusAccepted, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/confirmations/%d/cancel", c.ID), "", nil, nil))

	// The agents page, in a real browser, shows the CV and the flag.
	bctx := st.Browser(t)
	ctx, cancel := context.WithTimeout(bctx, time.Minute)
	defer cancel()
	card := fmt.Sprintf(`.noise-host[data-agent=%q]`, host)
	require.NoError(t, chromedp.Do(ctx, stack.Navigate(st.URL+"/agents"), chromedp.WaitVisible(chromedp.CSS(card))))
	cv, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(card+` tr[data-kpi="Latency"] td.cv`)))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%.2f%%", 100*f2.CV), strings.TrimSpace(cv))
	flag, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(card+` tr[data-kpi="Latency"] td.flag`)))
	require.NoError(t, err)
	require.Equal(t, "noise jumped", strings.TrimSpace(flag))
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(fmt.Sprintf(`#agents tr[data-agent=%q]`, host))))
	require.NoError(t, err)
	require.Contains(t, status, "noise jumped")
	other, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(fmt.Sprintf(`.noise-host[data-agent=%q]`, st.Agents[1]))))
	require.NoError(t, err)
	require.Contains(t, other, "Not measured yet.")

	// The framework page lists the floor by host.
	code, page := st.Page(t, "/frameworks/noise-aa?team=default")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, fmt.Sprintf(`<td class="num cv">%.2f%%</td>`, 100*f2.CV))

	// The Measure noise form starts a measurement on the other host.
	st.Apply(t, frameworkFile("noise-free", ""))
	other2 := fmt.Sprintf(`.noise-host[data-agent=%q]`, st.Agents[1])
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(other2+` .noise-form input[name="framework"]`), "noise-free"),
		chromedp.SetValue(chromedp.CSS(other2+` .noise-form input[name="runs"]`), "3"),
		chromedp.Click(chromedp.CSS(other2+` .noise-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice`)),
	))
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#notice`)))
	require.NoError(t, err)
	require.Regexp(t, `^noise measurement \d+ started`, notice)
	require.Eventually(t, func() bool {
		ms := hostNoise(t, st.Agents[1]).Measurements
		return len(ms) == 1 && ms[0].State == wire.NoiseFinished && ms[0].Runs == 3 && len(ms[0].Floors) == 1
	}, time.Minute, 250*time.Millisecond, "the form's measurement of 3 runs finishes with a floor")
	st.RecordHistory(t, contract.NoiseWorkflowID(hostNoise(t, st.Agents[1]).Measurements[0].ID), "../../workflows/testdata/noisefloor-take.json")
	require.NoError(t, chromedp.Do(ctx, stack.Navigate(st.URL+"/agents"),
		chromedp.WaitVisible(chromedp.CSS(other2+` tr[data-kpi="Latency"] td.cv`))))

	// A site admin excludes the flagged host with its button: tests that
	// do not name it go to the other agent; one that names it still runs
	// there.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(card+` .exclude-form input[name="reason"]`), "noise jumped"),
		chromedp.Click(chromedp.CSS(card+` .exclude-form button`)),
		chromedp.WaitVisible(chromedp.CSS(card+` .badge.excluded`)),
	))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	require.NoError(t, err)
	if dir := stack.ScreenshotDir; os.MkdirAll(dir, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(dir, "agents-noise.png"), shot, 0o644)
	}
	n = hostNoise(t, host)
	require.True(t, n.Excluded)
	require.Equal(t, "noise jumped", n.ExcludedReason)
	for range 3 {
		x := st.Run(t, wire.RunRequest{Framework: "noise-free"})
		require.Equal(t, wire.StateFinished, x.State, x.Reason)
		require.Equal(t, st.Agents[1], x.Host, "an excluded host is not picked")
	}
	pinned := st.Run(t, wire.RunRequest{Framework: "noise-aa"})
	require.Equal(t, host, pinned.Host, "a test that names the excluded host runs there")

	body, _ = json.Marshal(wire.ExcludeRequest{Excluded: false})
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodPut, "/api/v1/agents/"+host+"/excluded", "application/json", body, &n))
	require.False(t, n.Excluded)
}

// Bad requests get clear errors and start nothing.
func TestNoiseRequestErrors(t *testing.T) {
	host := st.Agents[1]
	st.Apply(t, frameworkFile("noise-bad", ""))
	before := len(hostNoise(t, host).Measurements)
	for _, c := range []struct {
		host, body string
		code       int
		says       string
	}{
		{host, `{"framework":"noise-bad","runs":51}`, http.StatusBadRequest, "runs is how many times"},
		{host, `{"framework":"noise-bad","runs":1}`, http.StatusBadRequest, "2-50"},
		{host, `{"framework":"nope"}`, http.StatusNotFound, `framework "nope" not found`},
		{"no-such-host", `{"framework":"noise-bad"}`, http.StatusNotFound, `agent "no-such-host" is not registered`},
		{host, `{"framework":"noise-bad","params":{"nope":"1"}}`, http.StatusBadRequest, "nope"},
	} {
		var e wire.Error
		require.Equal(t, c.code, st.Call(t, http.MethodPost, "/api/v1/agents/"+c.host+"/noise", "application/json", []byte(c.body), &e), c.body)
		require.Contains(t, e.Error, c.says, c.body)
	}
	require.Len(t, hostNoise(t, host).Measurements, before, "nothing started")
}
