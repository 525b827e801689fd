package migrations

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCompactSamplesMigration applies 00026 to chunks of absolute times and
// double values (in a day partition and the default one, with a first time
// that is not on the millisecond): every point reads back the same through
// sample_ts, the arrays stay lz4-compressed on every partition, new
// 10-second roll-ups may leave min and max out, and Down gives the rows back.
func TestCompactSamplesMigration(t *testing.T) {
	ctx := context.Background()
	db, p, exec := migratedWithFramework(t, 25)
	exec(`INSERT INTO tests (id, framework_id, framework_version) VALUES (1, 1, 1), (2, 1, 1)`)
	day := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	exec(`SELECT retention_day_partition('sample_chunks_live', 'first_ts', $1::date)`, day.Format(time.DateOnly))
	exec(`INSERT INTO sample_chunks (test_id, host, metric, first_ts, last_ts, n, ts, vals) VALUES
		(1, 'a', 'cpu', $1, $1::timestamptz + interval '2.5 seconds', 4, ARRAY[$2::bigint, $2 + 1000, $2 + 1999, $2 + 2500], ARRAY[1.5, 2, -3.25, 1e6]),
		(2, 'a', 'mem', $3, $3, 1, ARRAY[$4::bigint], ARRAY[42.0])`,
		day, day.UnixMilli(), day.AddDate(0, 2, 0).Add(500*time.Microsecond), day.AddDate(0, 2, 0).UnixMilli())

	type point struct {
		test int64
		ts   int64
		v    float64
	}
	points := func(q string) []point {
		t.Helper()
		rows, err := db.QueryContext(ctx, q)
		require.NoError(t, err)
		defer rows.Close()
		var out []point
		for rows.Next() {
			var x point
			require.NoError(t, rows.Scan(&x.test, &x.ts, &x.v))
			out = append(out, x)
		}
		require.NoError(t, rows.Err())
		return out
	}
	const old = `SELECT test_id, p.t, p.v FROM sample_chunks, unnest(ts, vals) WITH ORDINALITY AS p (t, v, i) ORDER BY test_id, i`
	before := points(old)
	require.Len(t, before, 5)

	_, err := p.UpTo(ctx, 26)
	require.NoError(t, err)
	require.Equal(t, before, points(`SELECT test_id, p.t, p.v FROM sample_chunks,
		unnest(sample_ts(first_ts, dts), vals) WITH ORDINALITY AS p (t, v, i) ORDER BY test_id, i`), "every point kept")
	var dts string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT dts::text FROM sample_chunks WHERE test_id = 1`).Scan(&dts))
	require.Equal(t, "{0,1000,999,501}", dts, "times as deltas from first_ts")
	var kinds []string
	rows, err := db.QueryContext(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'sample_chunks'::regclass AND attname IN ('dts', 'vals') ORDER BY attname`)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		kinds = append(kinds, k)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"integer[]", "real[]"}, kinds)
	var compressed int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pg_attribute a JOIN pg_partition_tree('sample_chunks') p ON p.relid = a.attrelid
		WHERE attname IN ('dts', 'vals') AND (attcompression = 'l' OR attstorage = 'e')`).Scan(&compressed))
	var parts int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pg_partition_tree('sample_chunks')`).Scan(&parts))
	require.Equal(t, 2*parts, compressed, "dts and vals compressed on every partition")

	exec(`INSERT INTO sample_rollups (test_id, step_ms, host, metric, first_ts, last_ts, n, avg) VALUES (1, 10000, 'a', 'cpu', $1, $1, 1, '{1.5}')`, day)

	_, err = p.DownTo(ctx, 25)
	require.NoError(t, err)
	require.Equal(t, before, points(old), "down gives the absolute times and values back")
	var lo, hi float64
	require.NoError(t, db.QueryRowContext(ctx, `SELECT min[1], max[1] FROM sample_rollups WHERE test_id = 1`).Scan(&lo, &hi))
	require.Equal(t, []float64{1.5, 1.5}, []float64{lo, hi}, "a roll-up without extremes gets its mean as both")
}
