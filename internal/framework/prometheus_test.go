package framework

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const promBase = `name: p
execution: {script: "#!/bin/sh\ntrue\n"}
parameters: [{name: rate, default: "100"}]
kpis: [{name: P99, unit: ms}, {name: P90, unit: ms, test: mann-whitney}]
`

// The prometheus section: defaults, and each mistake named by its field.
func TestPrometheusSection(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(promBase + `prometheus:
  url: http://127.0.0.1:9090
  ramp: 2s
  queries:
    - {kpi: P99, query: 'histogram_quantile(0.99, sum by (le) (rate(x_bucket[{{.Duration}}]))) * 1000', mustHaveData: true}
    - {series: rps, query: 'sum(rate(x_total[5s])) # {{.Params.rate}} {{.Commit}}'}
    - {kpi: P90, query: 'histogram_quantile(0.9, sum by (le) (rate(x_bucket[5s])))', step: 5s}
`))
	require.NoError(t, err)
	p := f.Prometheus
	require.Equal(t, DefaultPromTimeout, p.Timeout)
	require.Equal(t, DefaultPromStep, p.Queries[1].Step)
	require.Equal(t, Duration(5*time.Second), p.Queries[2].Step, "a KPI with a step is a range query")
	require.Equal(t, AggregateMean, p.Queries[2].Aggregate, "its value is the mean of its samples unless it says otherwise")
	require.Empty(t, p.Queries[0].Aggregate)
	require.True(t, p.Queries[0].MustHaveData)

	w := NewPromWindow(time.Unix(1000, 0), time.Unix(1093, 500e6), 7, "abc", "main", map[string]string{"rate": "50"})
	require.Equal(t, "94s", w.Duration)
	require.Equal(t, "1000.000", w.Start)
	require.Equal(t, "1093.500", w.End)
	q, err := p.Queries[0].Render(w)
	require.NoError(t, err)
	require.Equal(t, "histogram_quantile(0.99, sum by (le) (rate(x_bucket[94s]))) * 1000", q)
	q, err = p.Queries[1].Render(w)
	require.NoError(t, err)
	require.Equal(t, "sum(rate(x_total[5s])) # 50 abc", q)

	for yaml, field := range map[string]string{
		"prometheus: {url: 'ftp://x', queries: [{kpi: P99, query: up}]}":                                     "prometheus.url",
		"prometheus: {url: 'http://u:p@x', queries: [{kpi: P99, query: up}]}":                                "prometheus.url",
		"prometheus: {url: 'http://x', queries: []}":                                                         "prometheus.queries",
		"prometheus: {url: 'http://x', queries: [{kpi: Nope, query: up}]}":                                   "prometheus.queries[0].kpi",
		"prometheus: {url: 'http://x', queries: [{query: up}]}":                                              "prometheus.queries[0]",
		"prometheus: {url: 'http://x', queries: [{kpi: P99, series: s, query: up}]}":                         "prometheus.queries[0]",
		"prometheus: {url: 'http://x', queries: [{kpi: P99, query: '{{.Nope}}'}]}":                           "prometheus.queries[0].query",
		"prometheus: {url: 'http://x', queries: [{kpi: P99, query: '{{.Params.nope}}'}]}":                    "prometheus.queries[0].query",
		"prometheus: {url: 'http://x', queries: [{kpi: P99, query: ' '}]}":                                   "prometheus.queries[0].query",
		"prometheus: {url: 'http://x', queries: [{kpi: P99, query: up, step: 10ms}]}":                        "prometheus.queries[0].step",
		"prometheus: {url: 'http://x', queries: [{kpi: P99, query: up, aggregate: mean}]}":                   "prometheus.queries[0].aggregate",
		"prometheus: {url: 'http://x', queries: [{kpi: P99, query: up, step: 1s, aggregate: p95}]}":          "prometheus.queries[0].aggregate",
		"prometheus: {url: 'http://x', queries: [{series: s, query: up, aggregate: max}]}":                   "prometheus.queries[0].aggregate",
		"prometheus: {url: 'http://x', queries: [{series: s, query: up, step: 10ms}]}":                       "prometheus.queries[0].step",
		"prometheus: {url: 'http://x', queries: [{series: 'a b', query: up}]}":                               "prometheus.queries[0].series",
		"prometheus: {url: 'http://x', queries: [{kpi: P99, query: up}, {kpi: P99, query: up}]}":             "prometheus.queries[1]",
		"prometheus: {url: 'http://x', bearer_secret: a, basic_secret: b, queries: [{kpi: P99, query: up}]}": "prometheus.bearer_secret",
		"prometheus: {url: 'http://x', bearer_secret: '../etc', queries: [{kpi: P99, query: up}]}":           "prometheus.bearer_secret",
		"prometheus: {url: 'http://x', timeout: 10m, queries: [{kpi: P99, query: up}]}":                      "prometheus.timeout",
	} {
		_, err := Parse([]byte(promBase + yaml + "\n"))
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", yaml, err)
		require.Equal(t, field, fe.Field, "%s: %v", yaml, err)
		require.False(t, strings.Contains(fe.Msg, "%!"), fe.Msg)
	}
}

// A KPI's test is welch (the default) or mann-whitney.
func TestKPITest(t *testing.T) {
	t.Parallel()
	const base = "name: k\nexecution: {script: \"#!/bin/sh\\ntrue\\n\"}\n"
	f, err := Parse([]byte(base + "kpis: [{name: A, test: mann-whitney}, {name: B, test: welch}, {name: C}]\n"))
	require.NoError(t, err)
	require.Equal(t, TestMannWhitney, f.KPIs[0].Test)
	_, err = Parse([]byte(base + "kpis: [{name: A, test: t-test}]\n"))
	var fe *FieldError
	require.True(t, errors.As(err, &fe), "%v", err)
	require.Equal(t, "kpis[0].test", fe.Field)
}
