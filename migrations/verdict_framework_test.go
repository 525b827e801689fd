package migrations

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVerdictFrameworkMigration applies 00034 to a database with the
// verdicts of two frameworks' tests: each verdict gets its test's
// framework, a verdict inserted later gets its own, and Down removes the
// column, trigger and index and brings back the probe index (00030's
// trigger function, which 00034 shares, stays).
func TestVerdictFrameworkMigration(t *testing.T) {
	ctx := context.Background()
	db, p, exec := migratedWithTwoFrameworks(t, 33)
	verdict := `INSERT INTO test_kpi_verdicts (test_id, kpi, verdict, delta_pct, ci_low_pct, ci_high_pct, p_value, method, baseline_n, candidate_n, evidence)
		VALUES ($1, $2, 'unchanged', 0, 0, 0, 1, 'm', 1, 1, '')`
	exec(verdict, 1, "a")
	exec(verdict, 1, "b")
	exec(verdict, 2, "a")
	_, err := p.UpTo(ctx, 34)
	require.NoError(t, err)
	frameworks := func() []string {
		return texts(t, db, `SELECT test_id || '/' || kpi || ':' || framework_id FROM test_kpi_verdicts ORDER BY 1`)
	}
	require.Equal(t, []string{"1/a:1", "1/b:1", "2/a:2"}, frameworks(), "filled from the tests")
	exec(verdict, 3, "a")
	require.Equal(t, []string{"1/a:1", "1/b:1", "2/a:2", "3/a:1"}, frameworks(), "a new verdict gets its test's framework")

	_, err = p.DownTo(ctx, 33)
	require.NoError(t, err)
	var left, probe int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM pg_class WHERE relname = 'test_kpi_verdicts_framework_idx')
		+ (SELECT count(*) FROM information_schema.columns WHERE table_name = 'test_kpi_verdicts' AND column_name = 'framework_id')
		+ (SELECT count(*) FROM pg_trigger WHERE tgname = 'test_kpi_verdicts_framework'),
		(SELECT count(*) FROM pg_class WHERE relname = 'test_kpi_verdicts_trend_idx')`).Scan(&left, &probe))
	require.Zero(t, left)
	require.Equal(t, 1, probe, "the probe index is back")
	exec(verdict, 3, "b") // no trigger left
}
