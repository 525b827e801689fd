package e2e

import (
	"fmt"
	"testing"

	"github.com/pitwall/pitwall/internal/store"
)

// BenchmarkTrendsPage times the trends page through real HTTP for a year
// of daily tests (365 on main with a 25% step after 200 of them, each with
// its verdict, and 15 on a feature branch) of a framework with two KPIs,
// and reports the median and 99th percentile: a KPI's page (main's line,
// the band, the change point and its compare, the first 50 rows) with
// main alone and with the feature branch, and the framework's page of
// small multiples. The tests are seeded with one INSERT ... SELECT.
//
//	go test -run '^$' -bench TrendsPage ./e2e/
func BenchmarkTrendsPage(b *testing.B) {
	ctx := b.Context()
	st.Apply(b, `
name: trend-bench
execution: {script: "#!/bin/sh\n"}
kpis:
  - {name: Latency-ms, unit: ms, better: lower, threshold: 5%}
  - {name: Throughput, unit: req/s, better: higher, threshold: 3%}
`)
	_, err := st.Pool.Exec(ctx, `
		INSERT INTO tests (framework_id, framework_version, state, commit_sha, branch, owner, created_at, updated_at, ended_at)
		SELECT f.id, f.current_version, 'finished', md5(g::text), CASE WHEN g % 25 = 0 THEN 'feature' ELSE 'main' END,
		       'admin', now() - (381 - g) * interval '1 day', now(), now() - (381 - g) * interval '1 day' + interval '40 seconds'
		FROM frameworks f, generate_series(1, 380) g
		WHERE f.team = 'default' AND f.name = 'trend-bench'`)
	if err != nil {
		b.Fatal(err)
	}
	_, err = st.Pool.Exec(ctx, `
		WITH t AS (SELECT t.id, row_number() OVER (ORDER BY t.id) AS g FROM tests t JOIN frameworks f ON f.id = t.framework_id
		           WHERE f.team = 'default' AND f.name = 'trend-bench')
		INSERT INTO test_kpis (test_id, iteration, name, value, unit, raw)
		SELECT id, 1, k.name, k.base * CASE WHEN g > 210 THEN k.step ELSE 1 END + (g % 3) - 1, k.unit, ''
		FROM t, (VALUES ('Latency-ms', 100.0, 1.25, 'ms'), ('Throughput', 1000.0, 0.8, 'req/s')) k(name, base, step, unit);
		WITH t AS (SELECT t.id, row_number() OVER (ORDER BY t.id) AS g FROM tests t JOIN frameworks f ON f.id = t.framework_id
		           WHERE f.team = 'default' AND f.name = 'trend-bench')
		INSERT INTO test_kpi_verdicts (test_id, kpi, verdict, delta_pct, ci_low_pct, ci_high_pct, p_value, method, baseline_n,
		                               candidate_n, evidence)
		SELECT id, k, CASE WHEN g = 1 THEN 'no-baseline' WHEN g > 210 THEN 'regressed' ELSE 'unchanged' END, 0, 0, 0, 1, 'welch',
		       20, 1, '' FROM t, (VALUES ('Latency-ms'), ('Throughput')) k(k);
		ANALYZE tests; ANALYZE test_kpis; ANALYZE test_kpi_verdicts;`)
	if err != nil {
		b.Fatal(err)
	}
	var step int64
	if err := st.Pool.QueryRow(ctx, `SELECT t.id FROM tests t JOIN frameworks f ON f.id = t.framework_id
		WHERE f.team = 'default' AND f.name = 'trend-bench' ORDER BY t.id OFFSET 210 LIMIT 1`).Scan(&step); err != nil {
		b.Fatal(err)
	}
	s := store.New(st.Pool)
	for kpi, after := range map[string]float64{"Latency-ms": 125, "Throughput": 800} {
		before := map[string]float64{"Latency-ms": 100, "Throughput": 1000}[kpi]
		if err := s.ChangePointsReplaceFrom(ctx, step, kpi, step, []store.ChangePoint{{TestID: step, Before: before, After: after,
			DeltaPct: (after - before) / before * 100, PValue: 1e-9}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct{ name, path, want string }{
		{"kpi-main", "/trends?framework=trend-bench&kpi=Latency-ms", `class="cp-compare"`},
		{"kpi-main-and-feature", "/trends?framework=trend-bench&kpi=Latency-ms&branch=main&branch=feature", "380 in all"},
		{"every-kpi", "/trends?framework=trend-bench", `id="kpi-multiples"`},
		{"kpi-sorted-by-value", "/trends?framework=trend-bench&kpi=Latency-ms&sort=value&dir=desc&page=2", "by value, descending"},
	} {
		b.Run(c.name, func(b *testing.B) {
			p50, p99 := benchGET(b, c.path, st.Token, c.want)
			fmt.Printf("GET %s (365 + 15 tests): p50 %v, p99 %v over %d requests\n", c.path, p50, p99, b.N)
		})
	}
}
