package promql

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/promq"
	"github.com/pitwall/pitwall/internal/wire"
)

// latencyFramework runs a script that waits while the service is under
// load; its KPIs come from PromQL over the window alone.
func latencyFramework(name string) string {
	return fmt.Sprintf(`name: %s
execution:
  hosts: [%s]
  script: |
    #!/bin/sh
    sleep 6
    echo done
kpis:
  - {name: LatencyP50, unit: ms, better: lower, threshold: 5%%}
  - {name: LatencyP99, unit: ms, better: lower, threshold: 10%%}
  - {name: LatencyP90, unit: ms, better: lower, threshold: 10%%, test: mann-whitney}
prometheus:
  url: %s
  ramp: 1s
  queries:
    - kpi: LatencyP50
      query: 'histogram_quantile(0.5, sum by (le) (rate(svc_request_duration_seconds_bucket[{{.Duration}}]))) * 1000'
      mustHaveData: true
    - kpi: LatencyP99
      query: 'histogram_quantile(0.99, sum by (le) (rate(svc_request_duration_seconds_bucket[{{.Duration}}]))) * 1000'
    - series: rps
      query: 'sum(rate(svc_requests_total[2s]))'
      step: 1s
    - kpi: LatencyP90
      query: 'histogram_quantile(0.9, sum by (le) (rate(svc_request_duration_seconds_bucket[2s]))) * 1000'
      step: 1s
      aggregate: median
`, name, agentName, prom.URL)
}

func run(t *testing.T, args ...string) (wire.Test, int) {
	t.Helper()
	r := st.Starter(t, append([]string{"run", "--wait", "--json"}, args...)...)
	var test wire.Test
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &test), "stdout %s\nstderr %s", r.Stdout, r.Stderr)
	return test, r.Code
}

func queries(t *testing.T, id int64) map[string]wire.PromQuery {
	t.Helper()
	var list wire.List[wire.PromQuery]
	st.Call(t, "GET", fmt.Sprintf("/api/v1/tests/%d/queries", id), "", nil, &list)
	out := map[string]wire.PromQuery{}
	for _, q := range list.Items {
		out[q.Name] = q
	}
	return out
}

// KPIs from histogram_quantile over the window: each is what Prometheus
// answers when asked the same query at the same time, and computes again
// from the stored raw answer; a service 20% slower is regressed through
// the PromQL KPIs alone, and starter run --wait exits 1; the range query's
// series is stored and drawn.
func TestPromQLKPIsCatchARegression(t *testing.T) {
	prom.Require(t)
	st.Apply(t, latencyFramework("promql-latency"))
	delay.Store(10_000)
	var base []wire.Test
	for range 2 {
		test, code := run(t, "promql-latency", "--branch", "main")
		require.Equal(t, wire.StateFinished, test.State, test.Reason)
		require.Contains(t, []int{0, 1}, code)
		base = append(base, test)
	}
	delay.Store(12_000) // the "commit" that makes the service 20% slower
	slow, code := run(t, "promql-latency", "--branch", "main")
	delay.Store(10_000)
	require.Equal(t, wire.StateFinished, slow.State, slow.Reason)
	for _, test := range append(base, slow) {
		r := st.Starter(t, "results", strconv.FormatInt(test.ID, 10))
		t.Logf("starter results %d:\n%s", test.ID, r.Stdout)
	}
	require.Equal(t, 1, code, "starter run --wait exits 1 on a regression")
	require.NotContains(t, strings.Join(slow.Notes, "\n"), "wrote no results.csv", "the KPIs came from PromQL")
	verdicts := map[string]string{}
	for _, v := range slow.Verdicts {
		verdicts[v.Name] = v.Verdict
		t.Logf("verdict %s: %s (%s) %s", v.Name, v.Verdict, v.Method, v.Evidence)
		if v.Name == "LatencyP90" {
			// The range query's points are the rank test's samples.
			require.Equal(t, "mann-whitney", v.Method)
			require.Contains(t, v.Evidence, "Mann-Whitney U over PromQL range-query samples")
			require.GreaterOrEqual(t, v.CandidateN, 3, "one sample a second over the window")
			require.GreaterOrEqual(t, v.BaselineN, 2*v.CandidateN-2, "the samples of both baseline tests")
		}
	}
	require.Equal(t, wire.VerdictRegressed, verdicts["LatencyP50"], "%v", verdicts)
	require.Equal(t, wire.VerdictRegressed, verdicts["LatencyP90"], "%v", verdicts)

	qs := queries(t, slow.ID)
	p50 := qs["LatencyP50"]
	require.Equal(t, "kpi", p50.Kind)
	require.Empty(t, p50.Problem)
	require.NotNil(t, p50.Value)
	require.Equal(t, p50.WindowEnd, p50.EvaluatedAt, "a KPI is an instant query at the window's end")
	window := p50.WindowEnd.Sub(p50.WindowStart)
	require.InDelta(t, 4, window.Seconds(), 1, "6 s of script, less the ramp of 1 s at each end")
	require.Contains(t, p50.Query, fmt.Sprintf("[%ds]", int(window.Round(time.Second).Seconds())), "{{.Duration}} became the window")
	t.Logf("LatencyP50 of test %d: %v ms over %s..%s (%s), query %s\nraw %s", slow.ID, *p50.Value,
		p50.WindowStart.Format(time.RFC3339Nano), p50.WindowEnd.Format(time.RFC3339Nano), window, p50.Query, p50.Raw)

	// What Prometheus answers directly, for the same query and time.
	direct := askPrometheus(t, p50.Query, p50.EvaluatedAt)
	got, problem := promq.KPIFromRaw(direct)
	require.Empty(t, problem)
	require.InDelta(t, *p50.Value, got, 1e-9, "asked directly: %s", direct)
	again, problem := promq.KPIFromRaw(p50.Raw)
	require.Empty(t, problem)
	require.Equal(t, *p50.Value, again, "the stored raw answer computes the same KPI")
	p90 := qs["LatencyP90"]
	require.Equal(t, "kpi", p90.Kind)
	require.Empty(t, p90.Problem)
	require.EqualValues(t, 1000, p90.StepMS)
	require.Equal(t, "median", p90.Aggregate)
	require.GreaterOrEqual(t, len(p90.Samples), 3)
	value, samples, problem := promq.KPIFromRangeRaw(p90.Raw, p90.Aggregate)
	require.Empty(t, problem)
	require.Equal(t, p90.Samples, samples, "the stored raw answer gives the same samples")
	require.Equal(t, *p90.Value, value, "and the same median")
	t.Logf("LatencyP90 of test %d: %v ms, the median of %v", slow.ID, *p90.Value, p90.Samples)
	var kpis struct {
		Items []wire.KPI `json:"items"`
	}
	st.Call(t, "GET", fmt.Sprintf("/api/v1/tests/%d/kpis", slow.ID), "", nil, &kpis)
	stored := map[string]float64{}
	for _, k := range kpis.Items {
		stored[k.Name] = k.Value
	}
	require.Equal(t, *p50.Value, stored["LatencyP50"])

	rps := qs["rps"]
	require.Equal(t, "series", rps.Kind)
	require.Empty(t, rps.Problem)
	var series wire.List[wire.Series]
	st.Call(t, "GET", fmt.Sprintf("/api/v1/tests/%d/series", slow.ID), "", nil, &series)
	found := false
	for _, s := range series.Items {
		if s.Host == "prometheus" && s.Metric == "prom.rps" {
			found = len(s.Values) >= 3
			for _, v := range s.Values {
				require.InDelta(t, 100, v, 30, "about 100 requests a second")
			}
		}
	}
	require.True(t, found, "the range query's series is stored: %v", series.Items)
	code, page := st.Page(t, fmt.Sprintf("/tests/%d", slow.ID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `id="queries"`, "the test page lists the queries")
	require.Contains(t, page, `data-query="LatencyP50"`)
	require.Contains(t, page, fmt.Sprintf(`data-samples="%d">median of %d samples`, len(p90.Samples), len(p90.Samples)))
	require.Contains(t, page, "histogram_quantile(0.5, sum by (le) (rate(svc_request_duration_seconds_bucket[")
	bctx := st.Browser(t)
	fams := st.DrawnCharts(t, bctx, slow.ID, "promql-test-page")
	require.Contains(t, fams, "prometheus/prom", "charts drawn: %v", fams)

	// Compare overlays the range query's series of both tests.
	cctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(cctx,
		stack.Navigate(fmt.Sprintf("%s/compare?ids=%d,%d", st.URL, base[0].ID, slow.ID)),
		chromedp.WaitVisible(chromedp.CSS("#compare-charts"))))
	deadline := time.Now().Add(30 * time.Second)
	for {
		lines, err := chromedp.Run(cctx, chromedp.Evaluate[int](`(() => {
			const e = document.querySelector('#compare-charts .chart[data-metric="prom.rps"]');
			return e && (+e.dataset.drawn || 0) > 0 ? e.querySelectorAll('.u-legend .u-series').length : 0;
		})()`))
		if err == nil && lines > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "compare never drew prom.rps (last error %v)", err)
		time.Sleep(200 * time.Millisecond)
	}
}

// askPrometheus runs an instant query against the server directly.
func askPrometheus(t *testing.T, query string, at time.Time) json.RawMessage {
	t.Helper()
	u := prom.URL + "/api/v1/query?" + url.Values{"query": {query},
		"time": {strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64)}}.Encode()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status)
	return body.Data
}

// A query with a syntax error and one with no data give notes on the test,
// not zeros; with mustHaveData, no data fails the test.
func TestPromQLProblemsAreSaid(t *testing.T) {
	prom.Require(t)
	fw := func(name, must string) string {
		return fmt.Sprintf(`name: %s
execution:
  hosts: [%s]
  script: "#!/bin/sh\nsleep 3\necho 'Done, 1' > results.csv\n"
kpis:
  - {name: Broken, unit: ms}
  - {name: Nothing, unit: ms}
prometheus:
  url: %s
  queries:
    - kpi: Broken
      query: 'sum(rate(svc_requests_total[{{.Duration}}])'
    - kpi: Nothing
      query: 'sum(rate(no_such_metric_total[{{.Duration}}]))'
      %s
`, name, agentName, prom.URL, must)
	}
	st.Apply(t, fw("promql-problems", ""))
	test, _ := run(t, "promql-problems")
	require.Equal(t, wire.StateFinished, test.State, test.Reason)
	notes := strings.Join(test.Notes, "\n")
	require.Contains(t, notes, "prometheus kpi Broken: the query failed: bad_data")
	require.Contains(t, notes, "prometheus kpi Nothing: the query answered no series")
	for _, k := range test.KPIs {
		require.NotContains(t, []string{"Broken", "Nothing"}, k.Name, "no value is made up")
	}
	qs := queries(t, test.ID)
	require.Contains(t, qs["Broken"].Problem, "bad_data")
	require.Nil(t, qs["Nothing"].Value)
	require.NotEmpty(t, qs["Nothing"].Raw, "the empty answer is kept too")

	st.Apply(t, fw("promql-must", "mustHaveData: true"))
	test, code := run(t, "promql-must")
	require.Equal(t, wire.StateFailed, test.State)
	require.Contains(t, test.Reason, "prometheus kpi Nothing: the query answered no series")
	require.Contains(t, test.Reason, "mustHaveData")
	require.NotEqual(t, 0, code)
}
