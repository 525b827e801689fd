package e2e

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkDashboard times GET / through real HTTP as a site admin (who
// sees every team) with 10,000 ended tests and 20 running ones in the
// database, and reports the median and 99th percentile. The tests are
// seeded with one INSERT ... SELECT into the framework dash-bench of the
// team dash-bench, so nothing else in the package sees them as its own.
//
//	go test -run '^$' -bench Dashboard ./internal/e2e
func BenchmarkDashboard(b *testing.B) {
	ctx := b.Context()
	t := &testing.T{}
	call(t, http.MethodPost, "/api/v1/teams", "application/json", []byte(`{"name":"dash-bench"}`), nil)
	applyFramework(t, "name: dash-bench\nteam: dash-bench\nexecution: {script: \"#!/bin/sh\\n\"}\n")
	_, err := stack.pool.Exec(ctx, `
		INSERT INTO tests (framework_id, framework_version, state, verdict, commit_sha, branch, owner,
		                   created_at, updated_at, ended_at, host)
		SELECT f.id, f.current_version,
		       CASE WHEN g <= 20 THEN 'running' WHEN g % 10 = 0 THEN 'failed' ELSE 'finished' END,
		       CASE WHEN g <= 20 OR g % 10 = 0 THEN '' ELSE (ARRAY['unchanged', 'improved', 'regressed'])[1 + g % 3] END,
		       md5(g::text), 'main', 'dash-bench',
		       now() - (10001 - g) * interval '1 minute', now(),
		       CASE WHEN g <= 20 THEN NULL ELSE now() - (10001 - g) * interval '1 minute' + interval '40 seconds' END,
		       'bench-host'
		FROM frameworks f, generate_series(1, 10000) g
		WHERE f.team = 'dash-bench' AND f.name = 'dash-bench'`)
	if err != nil {
		b.Fatal(err)
	}
	_, err = stack.pool.Exec(ctx, `
		INSERT INTO test_stages (test_id, name, at)
		SELECT t.id, s.name, now() - s.ago * interval '1 second'
		FROM tests t JOIN frameworks f ON f.id = t.framework_id,
		     (VALUES ('lease acquired bench-host', 30), ('setup done', 20), ('monitors started', 10)) s(name, ago)
		WHERE f.team = 'dash-bench' AND t.ended_at IS NULL;
		ANALYZE tests; ANALYZE test_stages; ANALYZE test_transitions;`)
	if err != nil {
		b.Fatal(err)
	}
	fetch := func() string {
		req, _ := http.NewRequest(http.MethodGet, stack.server.URL+"/", nil)
		req.Header.Set("Authorization", "Bearer "+stack.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /: %s: %s", resp.Status, body)
		}
		return string(body)
	}
	if page := fetch(); !strings.Contains(page, "monitors started") || !strings.Contains(page, "verdict-regressed") {
		b.Fatal("the dashboard does not show the seeded tests")
	}
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		fetch()
		took = append(took, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(took)
	p50, p99 := took[len(took)/2], took[len(took)*99/100]
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.Logf("GET / with 10,000 tests: p50 %v, p99 %v over %d requests", p50, p99, len(took))
}
