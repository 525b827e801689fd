package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/changepoint"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/ui/server"
	"github.com/pitwall/pitwall/workflows/contract"
)

// YearShape is the workload a seeded year holds: TestsPerDay tests a day
// for Days days, each with Series series of Points points at 1 Hz (issue
// 22: 1,000 tests a day, 40 series, 10 minutes), as retention leaves them:
// raw samples for the last RawDays+1 days (the oldest of which is due to
// expire), roll-ups for every day, log lines for the last LogDays days.
type YearShape struct {
	Days, TestsPerDay, Series, Points int
	RawDays, LogDays, LogLines        int
	// Frameworks share the tests, round robin; the longest KPI history is
	// Days × TestsPerDay / Frameworks tests long. They are named
	// Prefix-01, Prefix-02, ... (default bench-year).
	Frameworks int
	Prefix     string
}

// FullYear is the workload at scale 1.
var FullYear = YearShape{Days: 365, TestsPerDay: 1000, Series: 40, Points: 600, RawDays: 30, LogDays: 90, LogLines: 100, Frameworks: 20}

// Scaled is the shape with TestsPerDay scaled by f (at least one a day).
func (y YearShape) Scaled(f float64) YearShape {
	y.TestsPerDay = max(1, int(math.Round(float64(y.TestsPerDay)*f)))
	return y
}

// Samples is how many samples the shape ingests in its Days.
func (y YearShape) Samples() int64 {
	return int64(y.Days) * int64(y.TestsPerDay) * int64(y.Series) * int64(y.Points)
}

// SeededYear is what SeedYear made.
type SeededYear struct {
	Frameworks []int64
	Tests      int64
	// RawSamples are the samples still raw; Oldest and Newest two tests of
	// the first framework (the oldest has only roll-ups).
	RawSamples     int64
	Oldest, Newest int64
	// Took is how long seeding took.
	Took time.Duration
}

// yearFramework is the framework file of seeded framework i.
func yearFramework(prefix string, i int) string {
	return fmt.Sprintf(`name: %s-%02d
execution:
  script: "#!/bin/sh\necho 'Latency-ms, 1' > results.csv\n"
kpis:
  - {name: Latency-ms, unit: ms, better: lower, threshold: 5%%}
  - {name: Throughput, unit: req/s, better: higher, threshold: 3%%}
  - {name: Errors, better: lower}
`, prefix, i)
}

// YearClock is the "now" a seeded year is made and measured as of: noon
// UTC of the day before t. The year's tests are laid out back from now
// (the oldest raw test about 30 days and 16 hours before it), so with the
// real clock the oldest raw day's partition ends after the raw retention's
// cutoff whenever the seed runs after 16:21 UTC, and the retention job has
// only an empty partition to drop. At noon it is wholly past the cutoff at
// any hour, and it is always in the past.
func YearClock(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour)
}

// SeedYear fills the database with a year of y as of now, generating the
// rows in SQL (generate_series), and logs progress to log.
func SeedYear(ctx context.Context, pool *pgxpool.Pool, y YearShape, now time.Time, log io.Writer) (*SeededYear, error) {
	t0 := time.Now()
	s := store.New(pool)
	out := &SeededYear{}
	for i := range y.Frameworks {
		f, err := framework.Parse([]byte(yearFramework(cmp.Or(y.Prefix, "bench-year"), i+1)))
		if err != nil {
			return nil, err
		}
		if _, err := s.FrameworkApply(ctx, f); err != nil {
			return nil, fmt.Errorf("framework: %w", err)
		}
		var id int64
		if err := pool.QueryRow(ctx, `SELECT id FROM frameworks WHERE name = $1`, f.Name).Scan(&id); err != nil {
			return nil, err
		}
		out.Frameworks = append(out.Frameworks, id)
	}
	// Partitions for the days that hold raw samples and logs, as the
	// retention job would have made them.
	for _, p := range []struct {
		table, col string
		days       int
	}{{"sample_chunks_live", "first_ts", y.RawDays + 1}, {"test_logs_live", "ts", y.LogDays}} {
		for d := 0; d <= p.days; d++ {
			day := now.UTC().AddDate(0, 0, -d).Format(time.DateOnly)
			if _, err := pool.Exec(ctx, `SELECT retention_day_partition($1, $2, $3::date)`, p.table, p.col, day); err != nil {
				return nil, fmt.Errorf("partition: %w", err)
			}
		}
	}
	// Tests: day d (0 today) holds tests spread over its 24 hours, the
	// newest 11 minutes before now (ended, settled); 1 in 97 a baseline.
	// Latency steps by 5% every 60 days.
	perDay, n := y.TestsPerDay, int64(y.Days)*int64(y.TestsPerDay)
	if _, err := pool.Exec(ctx, `
		INSERT INTO tests (framework_id, framework_version, commit_sha, branch, baseline, owner, state, created_at, updated_at, ended_at)
		SELECT ($1::bigint[])[1 + g % cardinality($1::bigint[])], 1, md5(g::text), 'main', g % 97 = 0, 'bench', 'finished',
		       c, c + interval '10 minutes', c + interval '10 minutes'
		FROM generate_series(0, $2::bigint - 1) AS g,
		     LATERAL (SELECT $3::timestamptz - interval '21 minutes' - (g / $4) * interval '1 day'
		                     - (g % $4) * (86400.0 / $4) * interval '1 second' AS c) AS t`,
		out.Frameworks, n, now, perDay); err != nil {
		return nil, fmt.Errorf("tests: %w", err)
	}
	fws := out.Frameworks
	// Days are counted back from just after the newest test.
	now = now.Add(-21*time.Minute + time.Second)
	const ofYear = `t.framework_id = ANY($1)`
	for _, q := range []struct {
		what, sql string
		args      []int // which of the arguments below: $n is args[n-1]
	}{
		{"kpis", `INSERT INTO test_kpis (test_id, iteration, name, value, unit)
			SELECT t.id, 1, k.name, k.base * (1 + 0.05 * ((extract(epoch FROM $2::timestamptz - t.created_at) / 86400)::int / 60 % 2))
			       * (1 + 0.02 * (random() - 0.5)), k.unit
			FROM tests t, (VALUES ('Latency-ms', 12.5, 'ms'), ('Throughput', 2400.0, 'req/s'), ('Errors', 0.0, '')) AS k (name, base, unit)
			WHERE ` + ofYear, []int{1, 2}},
		{"transitions", `INSERT INTO test_transitions (test_id, state, at)
			SELECT t.id, s.state, t.created_at + s.after * interval '1 second'
			FROM tests t, (VALUES ('queued', 0), ('setup', 1), ('running', 2), ('collating', 598), ('finished', 600)) AS s (state, after)
			WHERE ` + ofYear, []int{1}},
		// Roll-ups of every test, as the retention job leaves them (the
		// newest days' are rolled up by the job in the measure itself).
		{"roll-ups", `INSERT INTO sample_rollups (test_id, step_ms, host, metric, first_ts, avg, min, max)
			SELECT t.id, st.step, 'bench-host', 'host.m' || lpad(s::text, 2, '0'),
			       'epoch'::timestamptz + floor(extract(epoch FROM t.created_at) * 1000 / st.step) * st.step * interval '1 millisecond',
			       ARRAY(SELECT (50 + 20 * sin(i / 3.7 + s) + 5 * random())::real FROM generate_series(1, b.n) i),
			       -- the 10-second roll-up keeps the mean only (00026)
			       CASE WHEN st.step = 60000 THEN ARRAY(SELECT (40 + 20 * sin(i / 3.7 + s))::real FROM generate_series(1, b.n) i) END,
			       CASE WHEN st.step = 60000 THEN ARRAY(SELECT (60 + 20 * sin(i / 3.7 + s))::real FROM generate_series(1, b.n) i) END
			FROM tests t, generate_series(1, $3) AS s, (VALUES (10000), (60000)) AS st (step),
			     LATERAL (SELECT ceil($4 * 1000.0 / st.step)::int AS n) AS b
			WHERE ` + ofYear + ` AND t.created_at < $2::timestamptz - ($5 + 1) * interval '1 day'`, []int{1, 2, 3, 4, 5}},
		{"retention marks", `INSERT INTO test_retention (test_id, rolled_up_at, raw_expired_at, logs_expired_at)
			SELECT t.id, t.ended_at + interval '1 hour', t.created_at + ($3 + 1) * interval '1 day',
			       CASE WHEN t.created_at < $2::timestamptz - $4 * interval '1 day' THEN t.created_at + $4 * interval '1 day' END
			FROM tests t WHERE ` + ofYear + ` AND t.created_at < $2::timestamptz - ($3 + 1) * interval '1 day'`, []int{1, 2, 5, 6}},
		{"logs", `INSERT INTO test_logs (test_id, ts, stream, line)
			SELECT t.id, t.created_at + i * interval '1 second', 'stdout',
			       'iteration ' || i || ': ' || round((random() * 100)::numeric, 1) || ' ms, ' || (random() * 3000)::int || ' req/s, ok'
			FROM tests t, generate_series(1, $4) AS i
			WHERE ` + ofYear + ` AND t.created_at >= $2::timestamptz - $3 * interval '1 day'`, []int{1, 2, 6, 7}},
	} {
		t1 := time.Now()
		all := []any{fws, now, y.Series, y.Points, y.RawDays, y.LogDays, y.LogLines}
		var args []any
		for _, a := range q.args {
			args = append(args, all[a-1])
		}
		if _, err := pool.Exec(ctx, q.sql, args...); err != nil {
			return nil, fmt.Errorf("seed %s: %w", q.what, err)
		}
		logf(log, "seeded %s in %s", q.what, time.Since(t1).Round(time.Millisecond))
	}
	// Raw samples, a day at a time: one chunk per series (the shape
	// Collate's merge leaves), timestamps 1 s apart (deltas of 1,000 ms
	// from first_ts, as the monitor's ticks stamp them), values of a few
	// digits as /proc gives.
	t1 := time.Now()
	for d := 0; d <= y.RawDays; d++ {
		if _, err := pool.Exec(ctx, `
			INSERT INTO sample_chunks (test_id, host, metric, first_ts, last_ts, n, dts, vals, batch)
			SELECT t.id, 'bench-host', 'host.m' || lpad(s::text, 2, '0'), date_trunc('milliseconds', t.created_at),
			       date_trunc('milliseconds', t.created_at) + ($3 - 1) * interval '1 second', $3,
			       ARRAY(SELECT CASE WHEN i = 0 THEN 0 ELSE 1000 END FROM generate_series(0, $3 - 1) i),
			       ARRAY(SELECT round((50 + 20 * sin(i / 37.0 + s) + 5 * random()) * 100) / 100 FROM generate_series(0, $3 - 1) i),
			       'seed'
			FROM tests t, generate_series(1, $2) AS s
			WHERE t.framework_id = ANY($1) AND t.created_at < $4::timestamptz - $5 * interval '1 day'
			  AND t.created_at >= $4::timestamptz - ($5 + 1) * interval '1 day'`,
			fws, y.Series, y.Points, now, d); err != nil {
			return nil, fmt.Errorf("seed samples of day %d: %w", d, err)
		}
	}
	logf(log, "seeded raw samples of %d days in %s", y.RawDays+1, time.Since(t1).Round(time.Millisecond))
	// As autovacuum keeps a database in use: statistics, and the
	// visibility map set, so index-only scans read no heap pages. Right
	// after bulk inserts neither holds yet (a day's new rows in a real
	// database are a small part of it).
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE)`); err != nil {
		return nil, err
	}
	err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM tests WHERE framework_id = ANY($1)),
			(SELECT coalesce(sum(n), 0) FROM sample_chunks),
			(SELECT min(id) FROM tests WHERE framework_id = $2), (SELECT max(id) FROM tests WHERE framework_id = $2)`,
		fws, fws[0]).Scan(&out.Tests, &out.RawSamples, &out.Newest, &out.Oldest)
	out.Took = time.Since(t0)
	return out, err
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "bench: "+format+"\n", args...)
	}
}

// yearScale is the scale of the full measure: PITWALL_BENCH_YEAR_SCALE, or
// what a quarter of the free disk under dir holds at about 6 bytes a raw
// sample (raw samples dominate), at most 0.02 (20 tests a day: the seeding
// then takes minutes on 2 cores).
func yearScale(dir string) float64 {
	if v, err := strconv.ParseFloat(os.Getenv("PITWALL_BENCH_YEAR_SCALE"), 64); err == nil && v > 0 {
		return v
	}
	scale := 0.02
	var fs syscall.Statfs_t
	if syscall.Statfs(dir, &fs) == nil {
		free := float64(fs.Bavail) * float64(fs.Bsize)
		y := FullYear
		raw := float64(y.RawDays+1) * float64(y.TestsPerDay) * float64(y.Series*y.Points) * 6
		scale = min(scale, free/4/raw)
	}
	return scale
}

// measureSeededYear seeds a year of the workload (scaled) into the
// suite's database and measures bytes per sample and per test, ingest,
// the pages' server times against the same pages before the seeding,
// change-point detection over the longest KPI history, and the retention
// job's run for the day partition that expires.
func measureSeededYear(ctx context.Context, e *env) []Result {
	y := FullYear.Scaled(yearScale(os.TempDir()))
	if e.Smoke {
		y = YearShape{Days: 40, TestsPerDay: 2, Series: 4, Points: 60, RawDays: 30, LogDays: 35, LogLines: 10, Frameworks: 2}
	}
	scale := float64(y.TestsPerDay) / float64(FullYear.TestsPerDay)
	method := fmt.Sprintf("seeded year at scale %.4g of the issue's workload: %d tests a day (not 1,000) × %d days, %d series × %d points, "+
		"raw samples for %d+1 days, logs %d days (%d lines a test), roll-ups for all; rows generated in SQL; then measured on that database",
		scale, y.TestsPerDay, y.Days, y.Series, y.Points, y.RawDays, y.LogDays, y.LogLines)
	if e.Smoke {
		method = "SMOKE: " + method
	}
	fail := func(err error) []Result { return []Result{failed("year-seed", method, "-", err)} }
	pool, now := e.st.Pool, YearClock(time.Now())
	// The measure runs retention itself: the stack's hourly schedule must
	// not run it in the middle.
	if err := e.st.Temporal.ScheduleClient().GetHandle(ctx, contract.RetentionScheduleID).
		Pause(ctx, client.SchedulePauseOptions{Note: "the seeded-year measure runs retention itself"}); err != nil {
		return fail(fmt.Errorf("pause the retention schedule: %w", err))
	}
	// The pages' "before": a database of its own on the same PostgreSQL
	// server with the same shape of test (raw and rolled up), 5 tests a
	// day for 3 days of one framework, timed beside the year's pages.
	before, err := newBeforeDB(ctx, e)
	if err != nil {
		return fail(fmt.Errorf("the database before the year: %w", err))
	}
	defer before.close()
	small, err := SeedYear(ctx, before.pool, YearShape{Days: 3, TestsPerDay: 5, Series: y.Series, Points: y.Points, RawDays: 0,
		LogDays: 1, LogLines: y.LogLines, Frameworks: 1, Prefix: "bench-empty"}, now, nil)
	if err != nil {
		return fail(err)
	}
	// 15 requests a page left the trends page's ratio between 2.03 and
	// 2.77 from one full run to the next on the same code; 100 take about
	// 10 s more and give a median that holds.
	repeats := e.pick(3, 100)
	pages := func(fw string, oldest, newest int64) map[string]string {
		return map[string]string{
			"dashboard": "/", "test-page": fmt.Sprintf("/tests/%d", newest),
			"test-page-rolled-up": fmt.Sprintf("/tests/%d", oldest),
			"search":              "/tests?framework=" + fw, "compare": fmt.Sprintf("/compare?ids=%d,%d", oldest, newest),
			"trends": "/trends?framework=" + fw + "&kpi=Latency-ms",
		}
	}
	year, err := SeedYear(ctx, pool, y, now, e.Log)
	if err != nil {
		return fail(err)
	}
	e.logf("seeded %d tests, %d raw samples in %s", year.Tests, year.RawSamples, year.Took.Round(time.Second))
	s := store.New(pool)
	// The newest days' tests are rolled up by the job, as every hour.
	t0 := time.Now()
	rolled, err := s.RetentionRollUp(ctx, now.Add(-10*time.Minute), 0)
	if err != nil {
		return fail(err)
	}
	rollTook := time.Since(t0)
	sizes, err := s.RetentionSizesGet(ctx)
	if err != nil {
		return fail(err)
	}
	res := []Result{}
	raw := float64(sizes.Samples) / float64(max(year.RawSamples, 1))
	rollupPer := float64(sizes.Rollups) / float64(year.Tests*int64(y.Series*y.Points))
	steady := float64(sizes.Samples+sizes.Rollups) / float64(y.Samples())
	res = append(res,
		Result{Name: "year-bytes-per-sample", Method: method + "; pg_total_relation_size of sample_chunks (all partitions, TOAST, " +
			"indexes) / raw samples; extra: roll-ups per sample they stand for, and samples + roll-ups of the year / samples the year ingested",
			Ours: Figure{Unit: "B", N: 1, Median: raw, P50: raw, Extra: map[string]float64{
				"rollup B per sample": rollupPer, "year B per ingested sample": steady, "scale": scale,
				"raw samples": float64(year.RawSamples), "tests": float64(year.Tests)}},
			Peer: Figure{Text: "no peer measured"}, Goal: "≤ 2 B/sample after compression", Met: met(steady <= 2)},
		Result{Name: "year-bytes-per-test", Method: method + "; pg_total_relation_size of every table retention manages and " +
			"the tests' own (tests, KPIs, transitions, notes, ingest batches) / tests",
			Ours: Figure{Unit: "kB", N: 1, Median: float64(sizes.Tests) / float64(year.Tests) / 1000,
				P50: float64(sizes.Tests) / float64(year.Tests) / 1000, Extra: map[string]float64{
					"total MB": float64(sizes.Tests) / 1e6, "samples MB": float64(sizes.Samples) / 1e6,
					"rollups MB": float64(sizes.Rollups) / 1e6, "logs MB": float64(sizes.Logs) / 1e6}},
			Peer: Figure{Text: "no peer measured"}, Goal: "reference (no goal)", Met: "n/a"},
		Result{Name: "year-rollup", Method: method + "; RetentionRollUp of the tests with raw samples (10 s and 1 min, mean/min/max)",
			Ours: Figure{Unit: "ms/test", N: rolled, Median: ms(rollTook) / float64(max(rolled, 1)),
				P50: ms(rollTook) / float64(max(rolled, 1))},
			Peer: Figure{Text: "no peer measured"}, Goal: "reference (no goal)", Met: "n/a"},
	)
	res = append(res, yearIngest(ctx, e, pool, method))
	// The dashboard lists the installation's agents: the database before
	// the year gets the suite's, so the two sides differ by the year alone.
	if err := mirrorAgents(ctx, s, store.New(before.pool)); err != nil {
		return append(res, failed("year-seed", method, "-", fmt.Errorf("the agents before the year: %w", err)))
	}
	names := []string{"dashboard", "test-page", "test-page-rolled-up", "search", "compare", "trends"}
	beforeFig, after := timePagesAlternating(ctx, names,
		pageSide{handler: before.handler, token: before.token, pages: pages("bench-empty-01", small.Oldest, small.Newest)},
		pageSide{handler: server.New(server.Deps{Store: s, Log: slog.New(slog.DiscardHandler), Ctx: ctx}), token: e.st.Token,
			pages: pages("bench-year-01", year.Oldest, year.Newest)}, repeats)
	for _, name := range names {
		b, a := beforeFig[name], after[name]
		r := Result{Name: "year-" + name, Method: method + fmt.Sprintf("; GET over loopback HTTP as the site admin, %d repeats "+
			"after a warm-up, each page's request on the year's database and on the database before it alternating (the first of "+
			"the two every other round), so the machine's load weighs on both alike; both served by ui/server.New in the bench's "+
			"process (as cmd/yearpages -http); peer: the same page on a database of its own before any year (one framework of 15 "+
			"tests of the same shape, on the same PostgreSQL server, with the suite's agents copied in)", repeats),
			Ours: a, Peer: b, PeerName: "before the year", Goal: "≤ 2 × before", Met: "n/a"}
		if a.N > 0 && b.N > 0 && b.P50 > 0 {
			r.Ratio = a.P50 / b.P50
			r.Met = met(r.Ratio <= 2)
		}
		res = append(res, r)
	}
	res = append(res, yearChangepoint(ctx, pool, year, method))
	// The retention job: the oldest raw day is past 30 days.
	t0 = time.Now()
	rep, err := s.RetentionRun(ctx, now, store.RetentionOptions{})
	if err != nil {
		return append(res, failed("year-retention", method, "< 1 s for a day's partition", err))
	}
	total := time.Since(t0)
	drop := rep.Took["samples"]
	res = append(res, Result{Name: "year-retention", Method: method + fmt.Sprintf("; store.RetentionRun as of now: partitions "+
		"ahead, roll-up pass, the expired day's sample partition (%d tests) dropped after moving its baselines' rows to the kept "+
		"partition; ours is the samples part, extra the whole run and its parts", y.TestsPerDay),
		Ours: Figure{Unit: "ms", N: 1, Median: ms(drop), P50: ms(drop), Extra: map[string]float64{
			"run ms": ms(total), "partitions ms": ms(rep.Took["partitions"]), "rollup ms": ms(rep.Took["rollup"]),
			"logs ms": ms(rep.Took["logs"]), "rollups ms": ms(rep.Took["rollups"]), "artifacts ms": ms(rep.Took["artifacts"]),
			"dropped": float64(len(rep.PartitionsDropped)), "kept rows": float64(rep.KeptRows)}},
		Peer: Figure{Text: "no peer measured"}, Goal: "< 1 s for a day's partition", Met: met(drop < time.Second && len(rep.PartitionsDropped) > 0)})
	return res
}

// beforeDB is the seeded-year measure's database before the year: its
// own database on the suite's PostgreSQL server (a cluster of its own when
// the suite's user may not create one), migrated, with a site admin, served
// by ui/server.New.
type beforeDB struct {
	pool    *pgxpool.Pool
	handler http.Handler
	token   string
	close   func()
}

func newBeforeDB(ctx context.Context, e *env) (*beforeDB, error) {
	const name = "pitwall_year_before"
	url, drop := "", func() {}
	if u, err := neturl.Parse(e.st.DBURL); err == nil && u.Scheme != "" {
		_, _ = e.st.Pool.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		if _, err := e.st.Pool.Exec(ctx, `CREATE DATABASE `+name); err == nil {
			u.Path = "/" + name
			url = u.String()
			drop = func() {
				_, _ = e.st.Pool.Exec(context.WithoutCancel(ctx), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
			}
		} else {
			e.logf("create database %s: %v; a PostgreSQL cluster of its own instead", name, err)
		}
	}
	if url == "" {
		var err error
		if url, drop, err = testenv.Postgres(ctx); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		drop()
		return nil, err
	}
	b := &beforeDB{pool: pool, token: "pwt_year-before-bootstrap-token-0123456789abcdef",
		close: func() { pool.Close(); drop() }}
	log := slog.New(slog.DiscardHandler)
	if err := migrations.Apply(ctx, pool, log); err != nil {
		b.close()
		return nil, err
	}
	st := store.New(pool)
	if _, err := server.Bootstrap(ctx, st, b.token, "year-before admin password", log); err != nil {
		b.close()
		return nil, err
	}
	b.handler = server.New(server.Deps{Store: st, Log: log, Ctx: ctx})
	return b, nil
}

// mirrorAgents registers from's agents in to, with their facts, labels
// and settings, as just seen (online while the pages are timed).
func mirrorAgents(ctx context.Context, from, to *store.Store) error {
	agents, err := from.AgentList(ctx)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if err := to.AgentUpsert(ctx, a.Name, wire.Heartbeat{Labels: a.DeclaredLabels, Facts: a.Facts, Version: a.Version}); err != nil {
			return err
		}
		if len(a.Labels) > 0 || len(a.Teams) > 0 || a.Shared {
			set := wire.AgentSettings{Labels: a.Labels, Teams: a.Teams, Shared: a.Shared}
			if err := to.AgentSettingsSet(ctx, a.Name, set, "bench"); err != nil {
				return err
			}
		}
	}
	return nil
}

// pageSide is one database's server and the addresses of its pages.
type pageSide struct {
	handler http.Handler
	token   string
	pages   map[string]string
}

// timePagesAlternating gets each page repeats times (after a warm-up) on
// both servers over loopback HTTP, the two sides' requests of a page one
// after the other and the first of them alternating round by round, and
// summarises each side's server times: the ratio of the two does not move
// with the machine's load between them (the measure timed them minutes
// apart before).
func timePagesAlternating(ctx context.Context, names []string, before, year pageSide, repeats int) (map[string]Figure, map[string]Figure) {
	sides := [2]pageSide{before, year}
	var urls [2]string
	for i, sd := range sides {
		srv := httptest.NewServer(sd.handler)
		defer srv.Close()
		urls[i] = srv.URL
	}
	client := &http.Client{Timeout: time.Minute}
	get := func(i int, path string) (float64, bool) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, urls[i]+path, nil)
		if err != nil {
			return 0, false
		}
		req.Header.Set("Authorization", "Bearer "+sides[i].token)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return ms(time.Since(t0)), resp.StatusCode == http.StatusOK
	}
	xs := map[string]*[2][]float64{}
	failed := map[string]bool{}
	for _, name := range names {
		xs[name] = &[2][]float64{}
		for i := range sides { // warm-up
			if _, ok := get(i, sides[i].pages[name]); !ok {
				failed[name] = true
			}
		}
	}
	for r := range repeats {
		for _, name := range names {
			if failed[name] {
				continue
			}
			for k := range 2 {
				i := k
				if r%2 == 1 { // the year first every other round
					i = 1 - k
				}
				d, ok := get(i, sides[i].pages[name])
				if !ok {
					failed[name] = true
					break
				}
				xs[name][i] = append(xs[name][i], d)
			}
		}
	}
	out := [2]map[string]Figure{{}, {}}
	for _, name := range names {
		for i := range sides {
			if failed[name] {
				out[i][name] = Figure{Text: "a request failed"}
				continue
			}
			out[i][name] = summarize("ms", xs[name][i], true)
		}
	}
	return out[0], out[1]
}

// yearIngest times the server's store path of sample ingest
// (store.SampleIngest: batch claim and COPY of chunk rows) at the seeded
// size: batches of one second of the shape's series, as agents send them.
func yearIngest(ctx context.Context, e *env, pool *pgxpool.Pool, method string) Result {
	const name, goal = "year-ingest", "reference (no goal)"
	var id int64
	err := pool.QueryRow(ctx, `INSERT INTO tests (framework_id, framework_version, state, owner)
		SELECT id, 1, 'running', 'bench' FROM frameworks WHERE name = 'bench-year-01' RETURNING id`).Scan(&id)
	if err != nil {
		return failed(name, method, goal, err)
	}
	defer func() {
		_, _ = pool.Exec(context.WithoutCancel(ctx), `DELETE FROM tests WHERE id = $1`, id)
	}()
	s := store.New(pool)
	const series, points = 40, 60
	batches := e.pick(5, 100)
	start := time.Now().UnixMilli()
	t0 := time.Now()
	for b := range batches {
		batch := ingest.Samples{Header: ingest.Header{TestID: id, Host: "bench-host", Batch: "year-" + strconv.Itoa(b)}}
		for k := range series {
			ser := ingest.Series{Metric: fmt.Sprintf("host.m%02d", k), TS: make([]int64, points), Values: make([]float64, points)}
			for i := range points {
				ser.TS[i] = start + int64(b*points+i)*1000
				ser.Values[i] = float64((i*7+k)%100) + 0.25
			}
			batch.Series = append(batch.Series, ser)
		}
		if _, err := s.SampleIngest(ctx, &batch); err != nil {
			return failed(name, method, goal, err)
		}
	}
	rate := float64(batches*series*points) / time.Since(t0).Seconds()
	return Result{Name: name, Method: method + fmt.Sprintf("; store.SampleIngest (the ingest endpoint's database path, no HTTP) "+
		"of %d batches of %d series × %d points into the seeded database, one after another", batches, series, points),
		Ours: Figure{Unit: "samples/s", N: 1, Median: rate, P50: rate}, Peer: Figure{Text: "no peer measured"}, Goal: goal, Met: "n/a"}
}

// yearChangepoint loads the longest KPI history (the first framework's
// Latency-ms over the year) and runs change-point detection over it.
func yearChangepoint(ctx context.Context, pool *pgxpool.Pool, year *SeededYear, method string) Result {
	const name, goal = "year-changepoint", "reference (no goal)"
	t0 := time.Now()
	rows, err := pool.Query(ctx, `SELECT k.value FROM test_kpis k JOIN tests t ON t.id = k.test_id
		WHERE t.framework_id = $1 AND k.name = 'Latency-ms' ORDER BY t.id`, year.Frameworks[0])
	if err != nil {
		return failed(name, method, goal, err)
	}
	xs, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return failed(name, method, goal, err)
	}
	load := time.Since(t0)
	t1 := time.Now()
	found := changepoint.Detect(xs, changepoint.Options{})
	detect := time.Since(t1)
	return Result{Name: name, Method: method + fmt.Sprintf("; the longest KPI history (%d tests of one framework) read from "+
		"test_kpis, then changepoint.Detect over all of it; ours is detection, extra the read", len(xs)),
		Ours: Figure{Unit: "ms", N: 1, Median: ms(detect), P50: ms(detect), Extra: map[string]float64{
			"read ms": ms(load), "runs": float64(len(xs)), "change points": float64(len(found))}},
		Peer: Figure{Text: "no peer measured"}, Goal: goal, Met: "n/a"}
}
