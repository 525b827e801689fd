package migrations

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRetentionPartitionWaitsForWriters applies 00033 and makes a day's
// partition while a log line of that day, written to the default
// partition, is not committed yet: the partition is made once the line
// commits, with the line in it (before 00033 the attach failed, the line
// having reached the default partition after the move).
func TestRetentionPartitionWaitsForWriters(t *testing.T) {
	ctx := context.Background()
	db, _, exec := migratedWithFramework(t, 33)
	exec(`INSERT INTO tests (id, framework_id, framework_version) VALUES (1, 1, 1)`)
	day := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	exec(`INSERT INTO test_logs (test_id, ts, stream, line) VALUES (1, $1, 'stdout', 'before')`, day.Add(time.Hour))

	writer, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer writer.Rollback() //nolint:errcheck // committed below
	_, err = writer.ExecContext(ctx, `INSERT INTO test_logs (test_id, ts, stream, line) VALUES (1, $1, 'stdout', 'meanwhile')`, day.Add(2*time.Hour))
	require.NoError(t, err)

	made := make(chan error, 1)
	var pid int
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	go func() {
		var created bool
		made <- conn.QueryRowContext(ctx, `SELECT retention_day_partition('test_logs_live', 'ts', $1::date)`,
			day.Format(time.DateOnly)).Scan(&created)
	}()
	// The partition is being made, and waits on the writer's lock.
	require.Eventually(t, func() bool {
		var waiting sql.NullString
		_ = db.QueryRowContext(ctx, `SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&waiting)
		return waiting.String == "Lock"
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, writer.Commit())
	require.NoError(t, <-made)

	var lines []string
	rows, err := db.QueryContext(ctx, `SELECT line FROM test_logs_live_20261128 ORDER BY ts`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var l string
		require.NoError(t, rows.Scan(&l))
		lines = append(lines, l)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"before", "meanwhile"}, lines)
	var left int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM test_logs_live_default`).Scan(&left))
	require.Zero(t, left)
}
