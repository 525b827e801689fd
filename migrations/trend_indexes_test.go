package migrations

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTrendIndexesMigration applies 00029 to a database with KPIs: the
// framework's KPI names are filled from them, a KPI inserted later adds
// its name once (a second test with it adds none), and Down removes the
// table, its trigger and the indexes.
func TestTrendIndexesMigration(t *testing.T) {
	ctx := context.Background()
	db, p, exec := migratedWithFramework(t, 28)
	exec(`INSERT INTO tests (id, framework_id, framework_version, state) VALUES (1, 1, 1, 'finished'), (2, 1, 1, 'finished')`)
	exec(`INSERT INTO test_kpis (test_id, iteration, name, value) VALUES (1, 1, 'b', 1), (1, 2, 'b', 2), (1, 1, 'a', 3)`)
	_, err := p.UpTo(ctx, 29)
	require.NoError(t, err)
	names := func() []string {
		return texts(t, db, `SELECT framework_id || ':' || name FROM framework_kpis ORDER BY 1`)
	}
	require.Equal(t, []string{"1:a", "1:b"}, names(), "filled from the KPIs there were")
	exec(`INSERT INTO test_kpis (test_id, iteration, name, value) VALUES (2, 1, 'c', 1), (2, 1, 'a', 1)`)
	exec(`INSERT INTO test_kpis (test_id, iteration, name, value) VALUES (2, 2, 'c', 1)`)
	require.Equal(t, []string{"1:a", "1:b", "1:c"}, names(), "a new name once")

	_, err = p.DownTo(ctx, 28)
	require.NoError(t, err)
	var left int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pg_class
		WHERE relname IN ('framework_kpis', 'tests_trend_idx', 'test_kpis_name_idx', 'test_kpi_verdicts_trend_idx', 'tests_branch_idx')`).Scan(&left))
	require.Zero(t, left)
	exec(`INSERT INTO test_kpis (test_id, iteration, name, value) VALUES (2, 1, 'd', 1)`) // no trigger left
}
