package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The partitioned tables: each has a _kept partition, a _live one cut
// into UTC days on its time column, and the _live one's default partition.
var partitioned = []struct{ table, col string }{{"sample_chunks", "first_ts"}, {"test_logs", "ts"}}

// protectedTests are the tests whose data retention never removes: tests
// still going, baselines, pinned tests, and every test an unresolved alert
// names.
const protectedTests = `
	SELECT id FROM tests WHERE pinned OR baseline OR ended_at IS NULL
	UNION SELECT first_test FROM alerts WHERE state <> 'resolved'
	UNION SELECT last_test FROM alerts WHERE state <> 'resolved'
	UNION SELECT e.test_id FROM alert_events e JOIN alerts a ON a.id = e.alert_id
	      WHERE a.state <> 'resolved' AND e.test_id IS NOT NULL`

// RetentionReport is what one retention run did and how long each part took.
type RetentionReport struct {
	PartitionsCreated []string `json:"partitions_created,omitempty"`
	PartitionsDropped []string `json:"partitions_dropped,omitempty"`
	// RolledUp counts the tests rolled up.
	RolledUp int `json:"rolled_up"`
	// RawExpired and LogsExpired count the tests whose raw samples or logs
	// went; KeptRows the rows moved to a _kept partition before a drop.
	RawExpired  int   `json:"raw_expired"`
	LogsExpired int   `json:"logs_expired"`
	KeptRows    int64 `json:"kept_rows"`
	// RollupsDeleted counts roll-up rows past their retention and
	// ArtifactTests the tests whose artifacts went.
	RollupsDeleted int64 `json:"rollups_deleted"`
	ArtifactTests  int   `json:"artifact_tests"`
	// Took is each part's duration, by name.
	Took map[string]time.Duration `json:"took"`
}

// RetentionOptions tune a run; zero values take the defaults.
type RetentionOptions struct {
	// AheadDays is how many days of partitions to make ahead (default 7).
	AheadDays int
	// Settle is how long after its end a test is rolled up (default 10
	// minutes: agents may still deliver for 2 minutes).
	Settle time.Duration
	// Progress, when set, is called between parts (a heartbeat).
	Progress func(part string)
}

// RetentionRun applies every team's retention as of now: partitions made
// ahead, ended tests rolled up, expired day partitions dropped (their
// protected rows moved to the kept partition first), shorter team
// retentions applied row by row, roll-ups and artifacts past their limits
// removed. Each part commits on its own, so a run cut short leaves
// consistent data and the next run goes on.
func (s *Store) RetentionRun(ctx context.Context, now time.Time, o RetentionOptions) (*RetentionReport, error) {
	rep := &RetentionReport{Took: map[string]time.Duration{}}
	// One run at a time, whoever starts it (the schedule skips overlaps,
	// but a manual run may meet a scheduled one).
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext('pitwall-retention'))`); err != nil {
		return nil, fmt.Errorf("retention lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('pitwall-retention'))`) //nolint:errcheck // the session ends with the connection anyway
	if o.AheadDays == 0 {
		o.AheadDays = 7
	}
	if o.Settle == 0 {
		o.Settle = 10 * time.Minute
	}
	parts := []struct {
		name string
		run  func() error
	}{
		{"partitions", func() (err error) {
			rep.PartitionsCreated, err = s.RetentionPartitions(ctx, now, o.AheadDays)
			return err
		}},
		{"rollup", func() (err error) {
			rep.RolledUp, err = s.RetentionRollUp(ctx, now.Add(-o.Settle), 0)
			return err
		}},
		{"samples", func() error { return s.retentionExpire(ctx, now, "sample_chunks", rep) }},
		{"logs", func() error { return s.retentionExpire(ctx, now, "test_logs", rep) }},
		{"rollups", func() (err error) {
			rep.RollupsDeleted, err = s.retentionRollupsExpire(ctx, now)
			return err
		}},
		{"artifacts", func() (err error) {
			rep.ArtifactTests, err = s.retentionArtifacts(ctx, now)
			return err
		}},
	}
	for _, p := range parts {
		start := time.Now()
		if err := p.run(); err != nil {
			return rep, fmt.Errorf("retention %s: %w", p.name, err)
		}
		rep.Took[p.name] = time.Since(start)
		if o.Progress != nil {
			o.Progress(p.name)
		}
	}
	return rep, nil
}

// RetentionPartitions makes the day partitions of the partitioned tables
// from yesterday to aheadDays ahead, and one for every day the default
// partitions hold rows of (moving them there). It returns the partitions
// it made.
func (s *Store) RetentionPartitions(ctx context.Context, now time.Time, aheadDays int) ([]string, error) {
	var made []string
	today := now.UTC().Truncate(24 * time.Hour)
	for _, p := range partitioned {
		days := map[time.Time]bool{}
		for d := -1; d <= aheadDays; d++ {
			days[today.AddDate(0, 0, d)] = true
		}
		rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT DISTINCT (%s AT TIME ZONE 'UTC')::date FROM %s`,
			p.col, pgx.Identifier{p.table + "_live_default"}.Sanitize()))
		if err != nil {
			return made, err
		}
		stray, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		if err != nil {
			return made, err
		}
		for _, d := range stray {
			days[d.UTC()] = true
		}
		sorted := make([]time.Time, 0, len(days))
		for d := range days {
			sorted = append(sorted, d)
		}
		slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
		for _, d := range sorted {
			var created bool
			if err := s.pool.QueryRow(ctx, `SELECT retention_day_partition($1, $2, $3::date)`,
				p.table+"_live", p.col, d.Format(time.DateOnly)).Scan(&created); err != nil {
				return made, fmt.Errorf("partition %s of %s: %w", d.Format(time.DateOnly), p.table, err)
			}
			if created {
				made = append(made, p.table+"_live_"+d.Format("20060102"))
			}
		}
	}
	return made, nil
}

// DayPartition is one day partition of a partitioned table.
type DayPartition struct {
	Name string
	Day  time.Time
}

// RetentionDayPartitions lists the day partitions of table (sample_chunks
// or test_logs), oldest first.
func (s *Store) RetentionDayPartitions(ctx context.Context, table string) ([]DayPartition, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass($1) ORDER BY c.relname`, table+"_live")
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []DayPartition
	for _, n := range names {
		d, err := time.Parse("20060102", strings.TrimPrefix(n, table+"_live_"))
		if err != nil {
			continue // the default partition
		}
		out = append(out, DayPartition{Name: n, Day: d})
	}
	return out, nil
}

// RetentionRollUp rolls up the series of the tests that ended before
// settled and have not been rolled up, at most limit tests (0: all), in
// batches, and forgets their ingest batches (no agent may deliver for them
// any more). It returns how many tests it rolled up.
func (s *Store) RetentionRollUp(ctx context.Context, settled time.Time, limit int) (int, error) {
	done := 0
	for limit == 0 || done < limit {
		batch := 200
		if limit > 0 {
			batch = min(batch, limit-done)
		}
		rows, err := s.pool.Query(ctx, `SELECT t.id FROM tests t
			WHERE t.ended_at < $1 AND NOT EXISTS (SELECT FROM test_retention r WHERE r.test_id = t.id AND r.rolled_up_at IS NOT NULL)
			ORDER BY t.id LIMIT $2`, settled, batch)
		if err != nil {
			return done, err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) == 0 {
			return done, err
		}
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return rollUp(ctx, tx, ids) }); err != nil {
			return done, err
		}
		done += len(ids)
	}
	return done, nil
}

// rollUp writes the 10-second and 1-minute roll-ups of the tests' raw
// series and marks them rolled up: the 10-second ones keep the buckets'
// mean only, the 1-minute ones mean, minimum and maximum (00026).
func rollUp(ctx context.Context, tx pgx.Tx, ids []int64) error {
	_, err := tx.Exec(ctx, `
		WITH b AS (
			SELECT c.test_id, s.step, c.host, c.metric, p.t / s.step AS k,
			       avg(p.v)::real AS a, min(p.v)::real AS lo, max(p.v)::real AS hi
			FROM sample_chunks c CROSS JOIN LATERAL unnest(sample_ts(c.first_ts, c.dts), c.vals) AS p (t, v)
			     CROSS JOIN (VALUES ($2::int), ($3::int)) AS s (step)
			WHERE c.test_id = ANY($1)
			GROUP BY 1, 2, 3, 4, 5
		), g AS (
			SELECT test_id, step, host, metric, min(k) AS k0, max(k) AS k1, count(*) AS n,
			       array_agg(k ORDER BY k) AS ks, array_agg(a ORDER BY k) AS av,
			       array_agg(lo ORDER BY k) AS mn, array_agg(hi ORDER BY k) AS mx
			FROM b GROUP BY 1, 2, 3, 4
		)
		INSERT INTO sample_rollups (test_id, step_ms, host, metric, first_ts, idx, avg, min, max)
		SELECT test_id, step, host, metric,
		       'epoch'::timestamptz + k0 * step * interval '1 millisecond',
		       CASE WHEN n = k1 - k0 + 1 THEN NULL ELSE ARRAY(SELECT (x - k0)::int FROM unnest(ks) AS x) END,
		       av, CASE WHEN step = $3 THEN mn END, CASE WHEN step = $3 THEN mx END
		FROM g
		ON CONFLICT (test_id, step_ms, host, metric) DO NOTHING`, ids, Rollup10s, Rollup1m)
	if err != nil {
		return fmt.Errorf("roll up: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO test_retention (test_id, rolled_up_at) SELECT unnest($1::bigint[]), now()
		ON CONFLICT (test_id) DO UPDATE SET rolled_up_at = EXCLUDED.rolled_up_at`, ids); err != nil {
		return fmt.Errorf("mark rolled up: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM ingest_batches WHERE test_id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("forget ingest batches: %w", err)
	}
	return nil
}

// retentionKind is what differs between samples and logs.
type retentionKind struct {
	col      string // the partitions' time column
	days     string // the team_retention column
	def      int    // its default
	marker   string // the test_retention column stamped
	note     string // the note left on the test
	columns  string // the columns, kept last
	needRoll bool   // only rolled-up tests lose their rows
}

func kindOf(table string) retentionKind {
	if table == "sample_chunks" {
		return retentionKind{col: "first_ts", days: "raw_days", def: DefaultRetention.RawDays, marker: "raw_expired_at",
			note:    "raw samples removed by retention; charts show the 10-second roll-ups (1-minute once those go)",
			columns: "test_id, host, metric, first_ts, last_ts, n, dts, vals, batch", needRoll: true}
	}
	return retentionKind{col: "ts", days: "log_days", def: DefaultRetention.LogDays, marker: "logs_expired_at",
		note: "output lines removed by retention", columns: "id, test_id, ts, stream, line"}
}

// retentionExpire applies the retention of table (sample_chunks or
// test_logs): a day partition that every team's retention has passed is
// dropped, after its protected tests' rows have moved to the kept
// partition and the rest of its tests' rows elsewhere have gone (a test
// loses all its rows or none); a team whose retention is shorter than the
// longest loses its tests' rows row by row; and the kept partition gives up
// the rows of tests no longer protected once their team's retention has
// passed.
func (s *Store) retentionExpire(ctx context.Context, now time.Time, table string, rep *RetentionReport) error {
	k := kindOf(table)
	var longest int
	if err := s.pool.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(max(coalesce(r.%s, $1)), $1)
		FROM teams t LEFT JOIN team_retention r ON r.team = t.name`, k.days), k.def).Scan(&longest); err != nil {
		return err
	}
	parts, err := s.RetentionDayPartitions(ctx, table)
	if err != nil {
		return err
	}
	cutoff := now.UTC().AddDate(0, 0, -longest)
	for _, p := range parts {
		if p.Day.AddDate(0, 0, 1).After(cutoff) {
			break
		}
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return dropDay(ctx, tx, table, k, p, rep) }); err != nil {
			return fmt.Errorf("drop %s: %w", p.Name, err)
		}
		rep.PartitionsDropped = append(rep.PartitionsDropped, p.Name)
	}
	// The kept partition, and teams with a shorter retention than the
	// longest: row by row, whole tests at a time (by the test's start).
	rolled := ""
	if k.needRoll {
		rolled = `AND EXISTS (SELECT FROM test_retention r WHERE r.test_id = t.id AND r.rolled_up_at IS NOT NULL)`
	}
	expire := func(from, where string, args ...any) error {
		rows, err := s.pool.Query(ctx, fmt.Sprintf(`
			WITH gone AS (
				DELETE FROM %[1]s x USING tests t JOIN frameworks f ON f.id = t.framework_id
				     LEFT JOIN team_retention tr ON tr.team = f.team
				WHERE x.test_id = t.id AND t.created_at < $1::timestamptz - coalesce(tr.%[2]s, $2) * interval '1 day'
				  AND t.id NOT IN (%[3]s) %[4]s %[5]s
				RETURNING x.test_id)
			SELECT DISTINCT test_id FROM gone`, from, k.days, protectedTests, rolled, where), append([]any{now, k.def}, args...)...)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		countExpired(table, rep, len(ids))
		return markExpired(ctx, s.pool, k, ids, now)
	}
	if err := expire(pgx.Identifier{table + "_kept"}.Sanitize(), ""); err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT team FROM team_retention WHERE %s < $1`, k.days), longest)
	if err != nil {
		return err
	}
	short, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(short) > 0 {
		if err := expire(table, `AND f.team = ANY($3)`, short); err != nil {
			return err
		}
	}
	// The default applies to teams without a row of their own.
	if k.def < longest {
		return expire(table, `AND tr.team IS NULL`)
	}
	return nil
}

func countExpired(table string, rep *RetentionReport, n int) {
	if table == "sample_chunks" {
		rep.RawExpired += n
	} else {
		rep.LogsExpired += n
	}
}

// dropDay drops one expired day partition of table in tx.
func dropDay(ctx context.Context, tx pgx.Tx, table string, k retentionKind, p DayPartition, rep *RetentionReport) error {
	part := pgx.Identifier{p.Name}.Sanitize()
	if k.needRoll {
		// Tests ended too recently for the roll-up pass (a long test that
		// began on this day) are rolled up now, before their rows go.
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT DISTINCT x.test_id FROM %s x JOIN tests t ON t.id = x.test_id
			WHERE t.ended_at IS NOT NULL AND NOT EXISTS (SELECT FROM test_retention r WHERE r.test_id = x.test_id
				AND r.rolled_up_at IS NOT NULL)`, part))
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := rollUp(ctx, tx, ids); err != nil {
				return err
			}
		}
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf(`WITH moved AS (DELETE FROM %[1]s WHERE test_id IN (%[2]s) RETURNING %[3]s)
		INSERT INTO %[4]s (%[3]s, kept) SELECT %[3]s, true FROM moved`, part, protectedTests, k.columns, table))
	if err != nil {
		return fmt.Errorf("keep protected rows: %w", err)
	}
	rep.KeptRows += tag.RowsAffected()
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT DISTINCT test_id FROM %s`, part))
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	lo, hi := p.Day, p.Day.AddDate(0, 0, 1)
	// The same tests' rows on other days (a test across midnight) go too.
	if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %[1]s WHERE test_id = ANY($1) AND NOT kept
		AND (%[2]s < $2 OR %[2]s >= $3)`, table, k.col), ids, lo, hi); err != nil {
		return fmt.Errorf("rows of the same tests: %w", err)
	}
	if _, err := tx.Exec(ctx, `DROP TABLE `+part); err != nil {
		return err
	}
	if err := markExpired(ctx, tx, k, ids, time.Now()); err != nil {
		return err
	}
	countExpired(table, rep, len(ids))
	return nil
}

// execer runs a statement: a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// markExpired stamps the tests' rows as expired and leaves a note on each.
func markExpired(ctx context.Context, db execer, k retentionKind, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, fmt.Sprintf(`INSERT INTO test_retention (test_id, %[1]s) SELECT unnest($1::bigint[]), $2
		ON CONFLICT (test_id) DO UPDATE SET %[1]s = EXCLUDED.%[1]s`, k.marker), ids, now); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `INSERT INTO test_notes (test_id, source, seq, note)
		SELECT unnest($1::bigint[]), 'retention', coalesce((SELECT max(seq) + 1 FROM test_notes WHERE source = 'retention'
			AND test_id = ANY($1)), 0), $2
		ON CONFLICT DO NOTHING`, ids, k.note)
	return err
}

// retentionRollupsExpire deletes the roll-ups of unprotected tests past
// their team's roll-up retention, a step at a time, and marks the tests
// (so each old test is looked at once, not at every run).
func (s *Store) retentionRollupsExpire(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, r := range []struct {
		step         int
		marker, days string
		def          int
	}{
		{Rollup10s, "rollup_10s_expired_at", "rollup_10s_days", DefaultRetention.Rollup10sDays},
		{Rollup1m, "rollup_1m_expired_at", "rollup_1m_days", DefaultRetention.Rollup1mDays},
	} {
		var n int64
		err := s.pool.QueryRow(ctx, fmt.Sprintf(`
			WITH c AS (
				SELECT t.id FROM tests t JOIN frameworks f ON f.id = t.framework_id
				     LEFT JOIN team_retention tr ON tr.team = f.team
				     LEFT JOIN test_retention r ON r.test_id = t.id
				WHERE t.created_at < $1::timestamptz - coalesce(tr.%[2]s, $3) * interval '1 day'
				  AND r.%[1]s IS NULL AND t.id NOT IN (%[3]s)
			), gone AS (
				DELETE FROM sample_rollups x USING c WHERE x.test_id = c.id AND x.step_ms = $2 RETURNING x.test_id
			), marked AS (
				INSERT INTO test_retention (test_id, %[1]s) SELECT id, $1 FROM c
				ON CONFLICT (test_id) DO UPDATE SET %[1]s = EXCLUDED.%[1]s
			)
			SELECT count(*) FROM gone`, r.marker, r.days, protectedTests), now, r.step, r.def).Scan(&n)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// retentionArtifacts deletes the artifacts of each team's oldest
// unprotected tests while the team's artifacts (its protected tests'
// included) add up to more than its limit. It returns the tests whose
// artifacts went.
func (s *Store) retentionArtifacts(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, fmt.Sprintf(`
			WITH sizes AS (
				SELECT a.test_id, f.team, sum(a.size) AS size
				FROM artifacts a JOIN tests t ON t.id = a.test_id JOIN frameworks f ON f.id = t.framework_id
				GROUP BY a.test_id, f.team
			), ranked AS (
				SELECT s.test_id, s.team, s.test_id IN (%s) AS protected,
				       sum(s.size) OVER (PARTITION BY s.team ORDER BY s.test_id DESC) AS newer
				FROM sizes s
			), gone AS (
				DELETE FROM artifacts a USING ranked r LEFT JOIN team_retention tr ON tr.team = r.team
				WHERE a.test_id = r.test_id AND NOT r.protected AND r.newer > coalesce(tr.artifact_max_bytes, $1)
				RETURNING a.test_id)
			SELECT DISTINCT test_id FROM gone`, protectedTests), DefaultRetention.ArtifactMaxBytes)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		n = len(ids)
		return markExpired(ctx, tx, retentionKind{marker: "artifacts_expired_at",
			note: "artifacts removed by retention (the team's artifacts passed its size limit)"}, ids, now)
	})
	return n, err
}

// RetentionSizes are the bytes on disk of what retention manages.
type RetentionSizes struct {
	Samples, Rollups, Logs, Artifacts, Tests int64
}

// RetentionSizesGet measures the tables with pg_total_relation_size
// (partitions summed; indexes and TOAST included).
func (s *Store) RetentionSizesGet(ctx context.Context) (RetentionSizes, error) {
	var r RetentionSizes
	err := s.pool.QueryRow(ctx, `
		WITH RECURSIVE tree AS (
			SELECT oid AS root, oid FROM pg_class WHERE relname IN ('sample_chunks', 'sample_rollups', 'test_logs',
				'artifacts', 'artifact_chunks', 'tests', 'test_kpis', 'test_transitions', 'test_stages', 'ingest_batches',
				'test_notes', 'test_retention', 'test_log_totals') AND relkind IN ('r', 'p')
			UNION ALL SELECT tree.root, i.inhrelid FROM tree JOIN pg_inherits i ON i.inhparent = tree.oid
		), sized AS (
			SELECT c.relname, sum(pg_total_relation_size(tree.oid)) AS size
			FROM tree JOIN pg_class c ON c.oid = tree.root GROUP BY c.relname
		)
		SELECT coalesce(sum(size) FILTER (WHERE relname = 'sample_chunks'), 0)::bigint,
		       coalesce(sum(size) FILTER (WHERE relname = 'sample_rollups'), 0)::bigint,
		       coalesce(sum(size) FILTER (WHERE relname = 'test_logs'), 0)::bigint,
		       coalesce(sum(size) FILTER (WHERE relname IN ('artifacts', 'artifact_chunks')), 0)::bigint,
		       coalesce(sum(size), 0)::bigint
		FROM sized`).Scan(&r.Samples, &r.Rollups, &r.Logs, &r.Artifacts, &r.Tests)
	return r, err
}
