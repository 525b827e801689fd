package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
)

// A seeded year: the workload of issue 22 made in SQL, for the
// seeded-year measure (seeded.go) and cmd/yearpages.

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
		// A verdict on each KPI of every test, as the central worker
		// leaves them: unchanged, but for the first day after each of
		// Latency-ms's steps (regressed going up, improved coming down);
		// the test's own verdict is its worst.
		{"verdicts", `WITH v AS (
				INSERT INTO test_kpi_verdicts (test_id, kpi, verdict, delta_pct, ci_low_pct, ci_high_pct, p_value, method,
				                               baseline_n, candidate_n, evidence)
				SELECT t.id, k.name, CASE WHEN k.name <> 'Latency-ms' OR d.age % 60 <> 59 THEN 'unchanged'
				                          WHEN d.age / 60 % 2 = 1 THEN 'regressed' ELSE 'improved' END,
				       CASE WHEN k.name <> 'Latency-ms' OR d.age % 60 <> 59 THEN 0.3 WHEN d.age / 60 % 2 = 1 THEN 5 ELSE -4.8 END,
				       -1.2, 1.4, 0.4, 'prediction-interval', 20, 1, 'seeded'
				FROM tests t JOIN test_kpis k ON k.test_id = t.id,
				     LATERAL (SELECT (extract(epoch FROM $2::timestamptz - t.created_at) / 86400)::int AS age) AS d
				WHERE ` + ofYear + `
				RETURNING test_id, verdict)
			UPDATE tests t SET verdict = w.verdict
			FROM (SELECT test_id, CASE WHEN bool_or(verdict = 'regressed') THEN 'regressed'
			                           WHEN bool_or(verdict = 'improved') THEN 'improved' ELSE 'unchanged' END AS verdict
			      FROM v GROUP BY test_id) w
			WHERE t.id = w.test_id`, []int{1, 2}},
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
