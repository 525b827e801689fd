package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/testenv"
)

// server is the package's one PostgreSQL, where each test makes a
// database of its own.
var server string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	admin, stop, err := testenv.Server(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "migrations tests: %v\n", err)
		return 1
	}
	defer stop()
	server = admin
	return m.Run()
}

// migratedTo makes a database of the test's own and migrates it up to
// version, returning it and the migrations to go on with.
func migratedTo(t *testing.T, version int64) (*sql.DB, *goose.Provider) {
	t.Helper()
	url, drop, err := testenv.Database(context.Background(), server)
	require.NoError(t, err)
	t.Cleanup(drop)
	db, err := sql.Open("pgx", url) // the driver of stdlib, which Apply uses
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, files)
	require.NoError(t, err)
	_, err = p.UpTo(context.Background(), version)
	require.NoError(t, err)
	return db, p
}

// migratedWithTwoFrameworks is migratedWithFramework with a second
// framework (2, team/other) and three finished tests: 1 and 3 of
// framework 1, 2 of framework 2.
func migratedWithTwoFrameworks(t *testing.T, version int64) (*sql.DB, *goose.Provider, func(q string, args ...any)) {
	t.Helper()
	db, p, exec := migratedWithFramework(t, version)
	exec(`INSERT INTO frameworks (id, team, name, current_version) VALUES (2, 'team', 'other', 1)`)
	exec(`INSERT INTO framework_versions (framework_id, version, spec, digest) VALUES (2, 1, '{}', 'd')`)
	exec(`INSERT INTO tests (id, framework_id, framework_version, state) VALUES (1, 1, 1, 'finished'), (2, 2, 1, 'finished'), (3, 1, 1, 'finished')`)
	return db, p, exec
}

// texts runs a query of one text column on db and returns its rows.
func texts(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// migratedWithFramework is migratedTo with framework 1 (team/fw, version
// 1) for the tests' rows, and exec, which runs a statement on db and fails
// the test on an error.
func migratedWithFramework(t *testing.T, version int64) (*sql.DB, *goose.Provider, func(q string, args ...any)) {
	t.Helper()
	db, p := migratedTo(t, version)
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := db.ExecContext(context.Background(), q, args...)
		require.NoError(t, err)
	}
	exec(`INSERT INTO frameworks (id, team, name, current_version) VALUES (1, 'team', 'fw', 1)`)
	exec(`INSERT INTO framework_versions (framework_id, version, spec, digest) VALUES (1, 1, '{}', 'd')`)
	return db, p, exec
}

// TestSampleChunksMigration applies 00007 to a database holding samples
// one row per point (in no particular order, and more points than fit in
// a chunk), checks they come out as time-ordered chunks, and that Down
// gives the rows back.
func TestSampleChunksMigration(t *testing.T) {
	ctx := context.Background()
	db, p, exec := migratedWithFramework(t, 6)
	exec(`INSERT INTO tests (id, framework_id, framework_version) VALUES (1, 1, 1), (2, 1, 1)`)
	// Test 1, host a, cpu: 4,500 points at 1 s, inserted newest first.
	// Test 1, host b, mem: 3 points. Test 2, host a, cpu: 1 point.
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	exec(`INSERT INTO samples (test_id, host, metric, ts, value)
		SELECT 1, 'a', 'cpu', $1::timestamptz + i * interval '1 second', i FROM generate_series(4499, 0, -1) i`, start)
	exec(`INSERT INTO samples (test_id, host, metric, ts, value) VALUES
		(1, 'b', 'mem', $1::timestamptz + interval '2.5 seconds', 30.5),
		(1, 'b', 'mem', $1, 10),
		(1, 'b', 'mem', $1::timestamptz + interval '1 millisecond', 20),
		(2, 'a', 'cpu', $1, 7)`, start)

	// rowsOf reads every sample back as test, host, metric, Unix ms, value.
	type sample struct {
		test         int64
		host, metric string
		ts           int64
		v            float64
	}
	rowsOf := func(q string) []sample {
		t.Helper()
		rows, err := db.QueryContext(ctx, q)
		require.NoError(t, err)
		defer rows.Close()
		var out []sample
		for rows.Next() {
			var s sample
			require.NoError(t, rows.Scan(&s.test, &s.host, &s.metric, &s.ts, &s.v))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	const oldRows = `SELECT test_id, host, metric, (extract(epoch FROM ts) * 1000)::bigint, value FROM samples
		ORDER BY test_id, host, metric, ts`
	before := rowsOf(oldRows)
	require.Len(t, before, 4504)

	_, err := p.UpTo(ctx, 7)
	require.NoError(t, err)
	var samplesLeft bool
	require.NoError(t, db.QueryRowContext(ctx, `SELECT to_regclass('samples') IS NOT NULL`).Scan(&samplesLeft))
	require.False(t, samplesLeft, "samples is dropped")
	var fastArrays int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'sample_chunks'::regclass
		AND attname IN ('ts', 'vals') AND (attcompression = 'l' OR attstorage = 'e')`).Scan(&fastArrays))
	require.Equal(t, 2, fastArrays, "arrays compressed with lz4, or not at all")

	type chunk struct {
		test        int64
		host        string
		n           int
		first, last time.Time
		sorted      bool
	}
	rows, err := db.QueryContext(ctx, `SELECT test_id, host, n, first_ts, last_ts,
			ts = ARRAY(SELECT x FROM unnest(ts) x ORDER BY x) AND first_ts = to_timestamp(ts[1] / 1000.0)
		FROM sample_chunks ORDER BY test_id, host, metric, first_ts`)
	require.NoError(t, err)
	var chunks []chunk
	for rows.Next() {
		var c chunk
		require.NoError(t, rows.Scan(&c.test, &c.host, &c.n, &c.first, &c.last, &c.sorted))
		require.True(t, c.sorted, "points of a chunk in time order, first_ts its first")
		chunks = append(chunks, c)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, []int{2000, 2000, 500, 3, 1}, []int{chunks[0].n, chunks[1].n, chunks[2].n, chunks[3].n, chunks[4].n},
		"a long series is cut into chunks of 2,000")
	require.True(t, chunks[0].first.Equal(start))
	require.True(t, chunks[2].last.Equal(start.Add(4499*time.Second)))
	require.True(t, chunks[3].last.Equal(start.Add(2500*time.Millisecond)))

	after := rowsOf(`SELECT test_id, host, metric, p.t, p.v FROM sample_chunks, unnest(ts, vals) WITH ORDINALITY AS p (t, v, i)
		ORDER BY test_id, host, metric, first_ts, i`)
	require.Equal(t, before, after, "every sample kept, in time order")

	_, err = p.DownTo(ctx, 6)
	require.NoError(t, err)
	require.Equal(t, before, rowsOf(oldRows), "down gives the rows back")
	var indexed bool
	require.NoError(t, db.QueryRowContext(ctx, `SELECT to_regclass('samples_series_idx') IS NOT NULL`).Scan(&indexed))
	require.True(t, indexed)
}

// TestLogTotalsMigration applies 00008 to a database holding the logs of a
// running test and of an ended one: the running test's totals are what it
// has stored, the ended test gets none.
func TestLogTotalsMigration(t *testing.T) {
	ctx := context.Background()
	db, p, _ := migratedWithFramework(t, 7)
	for _, q := range []string{
		`INSERT INTO tests (id, framework_id, framework_version, state) VALUES (1, 1, 1, 'running')`,
		`INSERT INTO tests (id, framework_id, framework_version, state, ended_at) VALUES (2, 1, 1, 'finished', now())`,
		`INSERT INTO test_logs (test_id, ts, stream, line) VALUES
			(1, now(), 'stdout', 'abc'), (1, now(), 'stderr', 'é'), (1, now(), 'pitwall', '[pitwall] 3 more'),
			(2, now(), 'stdout', 'x')`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	_, err := p.UpTo(ctx, 8)
	require.NoError(t, err)

	var test, lines, bytes, notices, dropped int64
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM test_log_totals`).Scan(&n))
	require.Equal(t, 1, n, "only the running test")
	require.NoError(t, db.QueryRowContext(ctx, `SELECT test_id, lines, bytes, notices, dropped FROM test_log_totals`).
		Scan(&test, &lines, &bytes, &notices, &dropped))
	require.Equal(t, []int64{1, 2, 3 + 2 + 16, 1, 0}, []int64{test, lines, bytes, notices, dropped})

	_, err = p.DownTo(ctx, 7)
	require.NoError(t, err)
}

// TestArtifactChunksMigration applies 00012 to artifacts stored whole (an
// empty one, one under a chunk, one of two chunks and a bit): each comes
// out as chunks of 1 MiB that add up to it, and Down puts it back whole.
func TestArtifactChunksMigration(t *testing.T) {
	ctx := context.Background()
	db, p, _ := migratedWithFramework(t, 11)
	for _, q := range []string{
		`INSERT INTO tests (id, framework_id, framework_version) VALUES (1, 1, 1)`,
		`INSERT INTO artifacts (test_id, path, size, sha256, content_type, content) VALUES
			(1, 'empty', 0, 'e', 't', ''),
			(1, 'small', 3, 's', 't', 'abc'),
			(1, 'big', 2097169, 'b', 't', (SELECT string_agg(decode(lpad(to_hex(i % 256), 2, '0'), 'hex'), '' ORDER BY i)
				FROM generate_series(0, 2097168) i))`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	whole := func(q string) map[string]string {
		t.Helper()
		rows, err := db.QueryContext(ctx, q)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var path, sum string
			require.NoError(t, rows.Scan(&path, &sum))
			out[path] = sum
		}
		require.NoError(t, rows.Err())
		return out
	}
	before := whole(`SELECT path, md5(content) FROM artifacts`)
	require.Len(t, before, 3)

	_, err := p.UpTo(ctx, 12)
	require.NoError(t, err)
	var sizes []int
	rows, err := db.QueryContext(ctx, `SELECT length(data) FROM artifact_chunks WHERE path = 'big' ORDER BY seq`)
	require.NoError(t, err)
	for rows.Next() {
		var n int
		require.NoError(t, rows.Scan(&n))
		sizes = append(sizes, n)
	}
	rows.Close()
	require.Equal(t, []int{1 << 20, 1 << 20, 17}, sizes)
	chunked := whole(`SELECT a.path, md5(coalesce(string_agg(c.data, ''::bytea ORDER BY c.seq), ''))
		FROM artifacts a LEFT JOIN artifact_chunks c USING (test_id, path) GROUP BY a.path`)
	require.Equal(t, before, chunked, "every artifact's chunks add up to it")

	_, err = p.DownTo(ctx, 11)
	require.NoError(t, err)
	require.Equal(t, before, whole(`SELECT path, md5(content) FROM artifacts`), "down puts them back whole")
}

// TestRetentionMigration applies 00021 to a database holding sample chunks
// and log lines of two days: every row is kept, each in the partition of
// its UTC day, the log ids go on from the same sequence, and Down gives the
// flat tables back with the same rows.
func TestRetentionMigration(t *testing.T) {
	ctx := context.Background()
	db, p, exec := migratedWithFramework(t, 19)
	exec(`INSERT INTO tests (id, framework_id, framework_version) VALUES (1, 1, 1), (2, 1, 1)`)
	day1 := time.Date(2026, 10, 1, 23, 59, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Minute)
	exec(`INSERT INTO sample_chunks (test_id, host, metric, first_ts, last_ts, n, ts, vals) VALUES
		(1, 'a', 'cpu', $1, $1, 1, ARRAY[$3::bigint], ARRAY[1.5]),
		(2, 'a', 'cpu', $2, $2, 1, ARRAY[$4::bigint], ARRAY[2.5])`, day1, day2, day1.UnixMilli(), day2.UnixMilli())
	exec(`INSERT INTO test_logs (test_id, ts, stream, line) VALUES (1, $1, 'stdout', 'one'), (2, $2, 'stdout', 'two')`, day1, day2)

	const samples = `SELECT test_id, host, metric, n, ts[1], vals[1] FROM sample_chunks ORDER BY test_id`
	const logs = `SELECT id, test_id, line FROM test_logs ORDER BY id`
	dump := func(q string) string {
		t.Helper()
		rows, err := db.QueryContext(ctx, q)
		require.NoError(t, err)
		defer rows.Close()
		cols, err := rows.Columns()
		require.NoError(t, err)
		out := ""
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			out += fmt.Sprintln(vals...)
		}
		require.NoError(t, rows.Err())
		return out
	}
	beforeSamples, beforeLogs := dump(samples), dump(logs)
	require.NotEmpty(t, beforeSamples)

	_, err := p.UpTo(ctx, 21)
	require.NoError(t, err)
	require.Equal(t, beforeSamples, dump(samples), "every chunk kept")
	require.Equal(t, beforeLogs, dump(logs), "every log line kept, with its id")

	var part string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT tableoid::regclass::text FROM sample_chunks WHERE test_id = 1`).Scan(&part))
	require.Equal(t, "sample_chunks_live_20261001", part)
	require.NoError(t, db.QueryRowContext(ctx, `SELECT tableoid::regclass::text FROM sample_chunks WHERE test_id = 2`).Scan(&part))
	require.Equal(t, "sample_chunks_live_20261002", part)
	require.NoError(t, db.QueryRowContext(ctx, `SELECT tableoid::regclass::text FROM test_logs WHERE test_id = 2`).Scan(&part))
	require.Equal(t, "test_logs_live_20261002", part)
	var fastArrays int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'sample_chunks_live_20261001'::regclass
		AND attname IN ('ts', 'vals') AND (attcompression = 'l' OR attstorage = 'e')`).Scan(&fastArrays))
	require.Equal(t, 2, fastArrays, "a day partition compresses its arrays as the table did")

	// New rows: a log line takes the next id; a sample of a day with no
	// partition goes to the default partition.
	exec(`INSERT INTO test_logs (test_id, ts, stream, line) VALUES (1, $1, 'stdout', 'three')`, day2)
	var id int64
	require.NoError(t, db.QueryRowContext(ctx, `SELECT id FROM test_logs WHERE line = 'three'`).Scan(&id))
	require.Equal(t, int64(3), id)
	exec(`INSERT INTO sample_chunks (test_id, host, metric, first_ts, last_ts, n, ts, vals) VALUES
		(1, 'b', 'cpu', $1, $1, 1, ARRAY[1::bigint], ARRAY[1.0])`, day2.AddDate(0, 1, 0))
	require.NoError(t, db.QueryRowContext(ctx, `SELECT tableoid::regclass::text FROM sample_chunks WHERE host = 'b'`).Scan(&part))
	require.Equal(t, "sample_chunks_live_default", part)

	exec(`DELETE FROM sample_chunks WHERE host = 'b'`)
	_, err = p.DownTo(ctx, 19)
	require.NoError(t, err)
	require.Equal(t, beforeSamples, dump(samples), "down keeps the chunks")
	require.Contains(t, dump(logs), "3 1 three")
}
