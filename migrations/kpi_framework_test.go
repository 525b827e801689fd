package migrations

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKPIFrameworkMigration applies 00030 to a database with the KPIs of
// two frameworks' tests: each KPI row gets its test's framework, a KPI
// inserted later (one statement of several rows, as COPY writes them)
// gets its own, a KPI of a test that does not exist still fails on the
// foreign key, and Down removes the column, trigger and index.
func TestKPIFrameworkMigration(t *testing.T) {
	ctx := context.Background()
	db, p, exec := migratedWithTwoFrameworks(t, 29)
	exec(`INSERT INTO test_kpis (test_id, iteration, name, value) VALUES (1, 1, 'a', 1), (1, 2, 'a', 2), (2, 1, 'a', 3)`)
	_, err := p.UpTo(ctx, 30)
	require.NoError(t, err)
	frameworks := func() []string {
		return texts(t, db, `SELECT test_id || '/' || iteration || ':' || framework_id FROM test_kpis ORDER BY 1`)
	}
	require.Equal(t, []string{"1/1:1", "1/2:1", "2/1:2"}, frameworks(), "filled from the tests")
	exec(`INSERT INTO test_kpis (test_id, iteration, name, value) VALUES (3, 1, 'b', 1), (2, 2, 'a', 1)`)
	require.Equal(t, []string{"1/1:1", "1/2:1", "2/1:2", "2/2:2", "3/1:1"}, frameworks(), "new rows get their test's framework")
	_, err = db.ExecContext(ctx, `INSERT INTO test_kpis (test_id, iteration, name, value) VALUES (99, 1, 'a', 1)`)
	require.ErrorContains(t, err, "test_kpis_test_id_fkey", "no such test: the foreign key refuses it")

	_, err = p.DownTo(ctx, 29)
	require.NoError(t, err)
	var left int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM pg_class WHERE relname = 'test_kpis_trend_idx')
		+ (SELECT count(*) FROM information_schema.columns WHERE table_name = 'test_kpis' AND column_name = 'framework_id')
		+ (SELECT count(*) FROM pg_proc WHERE proname = 'test_kpis_framework')`).Scan(&left))
	require.Zero(t, left)
	exec(`INSERT INTO test_kpis (test_id, iteration, name, value) VALUES (3, 2, 'b', 1)`) // no trigger left
}
