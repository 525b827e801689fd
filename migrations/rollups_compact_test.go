package migrations

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRollupsCompactMigration applies 00031 to roll-ups with every bucket
// and with buckets missing: n and last_ts go, the rest is kept, the last
// bucket's start computed from idx and the step is the last_ts there was,
// the table's key and foreign key are in place under their usual names,
// and Down gives both columns back as they were.
func TestRollupsCompactMigration(t *testing.T) {
	ctx := context.Background()
	db, p, exec := migratedWithFramework(t, 30)
	exec(`INSERT INTO tests (id, framework_id, framework_version, state) VALUES (1, 1, 1, 'finished')`)
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	// cpu: 3 buckets of 10 s, none missing; mem: buckets 0, 1 and 4 of 1 min.
	exec(`INSERT INTO sample_rollups (test_id, step_ms, host, metric, first_ts, last_ts, n, idx, avg, min, max) VALUES
		(1, 10000, 'a', 'cpu', $1, $1::timestamptz + interval '20 seconds', 3, NULL, '{1,2,3}', NULL, NULL),
		(1, 60000, 'a', 'mem', $1, $1::timestamptz + interval '4 minutes', 3, '{0,1,4}', '{4,5,6}', '{3,4,5}', '{5,6,7}')`, start)
	type row struct {
		metric string
		last   time.Time
		avg    string
	}
	read := func(last string) []row {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT metric, `+last+`, avg::text FROM sample_rollups ORDER BY metric`)
		require.NoError(t, err)
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			require.NoError(t, rows.Scan(&r.metric, &r.last, &r.avg))
			r.last = r.last.UTC()
			out = append(out, r)
		}
		require.NoError(t, rows.Err())
		return out
	}
	before := read("last_ts")
	require.Equal(t, []row{{"cpu", start.Add(20 * time.Second), "{1,2,3}"}, {"mem", start.Add(4 * time.Minute), "{4,5,6}"}}, before)

	_, err := p.UpTo(ctx, 31)
	require.NoError(t, err)
	var cols int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pg_attribute
		WHERE attrelid = 'sample_rollups'::regclass AND attname IN ('n', 'last_ts') AND NOT attisdropped`).Scan(&cols))
	require.Zero(t, cols, "n and last_ts are gone")
	// The expression store.rollupLastTS reads.
	require.Equal(t, before, read(`first_ts + coalesce(idx[cardinality(avg)], cardinality(avg) - 1) * step_ms * interval '1 millisecond'`))
	var names []string
	rows, err := db.QueryContext(ctx, `SELECT conname FROM pg_constraint WHERE conrelid = 'sample_rollups'::regclass ORDER BY conname`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"sample_rollups_pkey", "sample_rollups_test_id_fkey"}, names)
	_, err = db.ExecContext(ctx, `INSERT INTO sample_rollups (test_id, step_ms, host, metric, first_ts, avg) VALUES (1, 10000, 'a', 'cpu', now(), '{1}')`)
	require.Error(t, err, "the key holds")
	exec(`DELETE FROM tests WHERE id = 1`)
	var left int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM sample_rollups`).Scan(&left))
	require.Zero(t, left, "a deleted test takes its roll-ups")

	exec(`INSERT INTO tests (id, framework_id, framework_version, state) VALUES (1, 1, 1, 'finished')`)
	exec(`INSERT INTO sample_rollups (test_id, step_ms, host, metric, first_ts, idx, avg, min, max) VALUES
		(1, 10000, 'a', 'cpu', $1, NULL, '{1,2,3}', NULL, NULL),
		(1, 60000, 'a', 'mem', $1, '{0,1,4}', '{4,5,6}', '{3,4,5}', '{5,6,7}')`, start)
	_, err = p.DownTo(ctx, 30)
	require.NoError(t, err)
	require.Equal(t, before, read("last_ts"), "Down computes last_ts")
	var n []int
	rows, err = db.QueryContext(ctx, `SELECT n FROM sample_rollups ORDER BY metric`)
	require.NoError(t, err)
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		n = append(n, v)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []int{3, 3}, n, "and n")
}
