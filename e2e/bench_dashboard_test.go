package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
)

// BenchmarkDashboard times GET / through real HTTP with 10,000 ended tests
// and 20 running ones in the database, and reports the median and 99th
// percentile: as a site admin (who sees every team, so the seeded tests
// fill the page) and as a viewer of a team with few tests (whose recent
// tests must be found among the 10,000). The tests are seeded with one
// INSERT ... SELECT into the framework dash-bench of the team dash-bench,
// so nothing else in the package sees them as its own.
//
//	go test -run '^$' -bench Dashboard ./e2e/
func BenchmarkDashboard(b *testing.B) {
	ctx := b.Context()
	st.Call(b, http.MethodPost, "/api/v1/teams", "application/json", []byte(`{"name":"dash-bench"}`), nil)
	st.Apply(b, "name: dash-bench\nteam: dash-bench\nexecution: {script: \"#!/bin/sh\\n\"}\n")
	_, err := st.Pool.Exec(ctx, `
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
	_, err = st.Pool.Exec(ctx, `
		INSERT INTO test_stages (test_id, name, at)
		SELECT t.id, s.name, now() - s.ago * interval '1 second'
		FROM tests t JOIN frameworks f ON f.id = t.framework_id,
		     (VALUES ('lease acquired bench-host', 30), ('setup done', 20), ('monitors started', 10)) s(name, ago)
		WHERE f.team = 'dash-bench' AND t.ended_at IS NULL;
		ANALYZE tests; ANALYZE test_stages; ANALYZE test_transitions;`)
	if err != nil {
		b.Fatal(err)
	}
	s := store.New(st.Pool)
	_ = s.TeamCreate(ctx, "dash-bench-small")
	hash, _ := auth.HashPassword("dash bench password")
	uid, err := s.UserCreate(ctx, "dash-bench-viewer", hash, false)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.MembershipSet(ctx, "dash-bench-small", uid, auth.Viewer); err != nil {
		b.Fatal(err)
	}
	viewer, vhash := auth.NewToken(auth.UserTokenPrefix)
	if _, err := s.TokenCreate(ctx, store.NewToken{Hash: vhash, Name: "bench", Kind: auth.KindUser, UserID: uid,
		Team: "dash-bench-small", Role: auth.Viewer}); err != nil {
		b.Fatal(err)
	}
	b.Run("site-admin", func(b *testing.B) { benchDashboard(b, st.Token, "verdict-regressed") })
	b.Run("viewer-of-small-team", func(b *testing.B) { benchDashboard(b, viewer, "No test has ended yet") })
}

// benchDashboard times GET / with token, after checking the page shows want.
func benchDashboard(b *testing.B, token, want string) {
	p50, p99 := benchGET(b, "/", token, want)
	fmt.Printf("GET / with 10,000 tests (%s): p50 %v, p99 %v over %d requests\n", b.Name(), p50, p99, b.N)
}
