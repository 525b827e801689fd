package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The figures of a test's earlier tests (CPU migration rates, the typical
// duration) come from the newest finished tests before it of its own
// framework with its parameters: not later ones, not unfinished ones, not
// another framework's or another parameter set's, and for migrations only
// those on the same hardware that counted them.
func TestEarlierTestsOfTheSameFrameworkAndParameters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(testPool)
	for _, name := range []string{"history-a", "history-b"} {
		_, err := testPool.Exec(ctx, `INSERT INTO frameworks (team, name, current_version) VALUES ('store', $1, 1)`, name)
		require.NoError(t, err)
		_, err = testPool.Exec(ctx, `INSERT INTO framework_versions (framework_id, version, spec, digest)
			SELECT id, 1, '{}', '' FROM frameworks WHERE name = $1`, name)
		require.NoError(t, err)
	}
	add := func(fw, state, params, hardware string, rate float64, secs int) int64 {
		t.Helper()
		fp := `{}`
		if rate > 0 {
			fp = fmt.Sprintf(`{"cpu_migrations": {"per_second": %g}}`, rate)
		}
		var id int64
		require.NoError(t, testPool.QueryRow(ctx, `INSERT INTO tests (framework_id, framework_version, state, params, hardware,
				fingerprint, created_at, ended_at)
			SELECT id, 1, $2, $3::jsonb, $4, $5::jsonb, now() - make_interval(secs => $6), CASE WHEN $2 = 'running' THEN NULL ELSE now() END
			FROM frameworks WHERE name = $1 RETURNING id`, fw, state, params, hardware, fp, secs).Scan(&id))
		return id
	}
	const p1, p2 = `[{"name": "n", "value": "1"}]`, `[{"name": "n", "value": "2"}]`
	add("history-a", "finished", p1, "hw", 1, 10)
	add("history-a", "finished", p1, "hw", 2, 20)
	add("history-a", "finished", p1, "hw", 3, 30)
	add("history-a", "finished", p1, "other", 50, 500) // other hardware: a duration, no rate
	add("history-a", "finished", p1, "hw", 0, 40)      // no migrations counted
	add("history-a", "failed", p1, "hw", 60, 600)
	add("history-a", "finished", p2, "hw", 70, 700)
	add("history-b", "finished", p1, "hw", 80, 800)
	add("history-a", "running", p1, "hw", 0, 900)
	test := add("history-a", "running", p1, "hw", 0, 1)
	add("history-a", "finished", p1, "hw", 90, 900) // later

	rates, err := s.MigrationRates(ctx, test, "hw", 20)
	require.NoError(t, err)
	require.Equal(t, []float64{3, 2, 1}, rates, "newest first")
	rates, err = s.MigrationRates(ctx, test, "hw", 2)
	require.NoError(t, err)
	require.Equal(t, []float64{3, 2}, rates)

	d, n, err := s.TypicalDuration(ctx, test, 20)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	require.InDelta(t, 30, d.Seconds(), 1, "the median of 10, 20, 30, 500 and 40 s")
	d, n, err = s.TypicalDuration(ctx, test, 2)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.InDelta(t, 270, d.Seconds(), 1, "the newest two: 40 and 500 s")

	_, n, err = s.TypicalDuration(ctx, 1<<50, 20)
	require.NoError(t, err)
	require.Zero(t, n, "no such test")
}
