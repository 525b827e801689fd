package bench

import (
	"context"
	"log/slog"
	neturl "net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/migrations"
)

// TestSeededYearRetention seeds a tiny year (the seeded-year measure's
// smoke size) and runs retention on it: the day partition past 30 days
// is dropped, its tests keep their KPIs and roll-ups and lose their raw
// samples, a baseline of that day keeps its samples (in the kept
// partition), newer tests keep theirs, and the size figures are measured.
func TestSeededYearRetention(t *testing.T) {
	ctx := context.Background()
	url, stop, err := testenv.Postgres(ctx)
	require.NoError(t, err)
	t.Cleanup(stop)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, migrations.Apply(ctx, pool, slog.New(slog.DiscardHandler)))

	now := YearClock(time.Now())
	y := YearShape{Days: 40, TestsPerDay: 3, Series: 4, Points: 60, RawDays: 30, LogDays: 35, LogLines: 5, Frameworks: 2}
	year, err := SeedYear(ctx, pool, y, now, nil)
	require.NoError(t, err)
	require.Equal(t, int64(y.Days*y.TestsPerDay), year.Tests)
	require.Equal(t, int64((y.RawDays+1)*y.TestsPerDay*y.Series*y.Points), year.RawSamples, "raw samples for 31 days")

	// The tests with raw samples in the oldest raw day's partition.
	var day time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT min(first_ts) FROM sample_chunks`).Scan(&day))
	part := "sample_chunks_live_" + day.UTC().Format("20060102")
	rows, err := pool.Query(ctx, `SELECT DISTINCT test_id FROM `+part+` ORDER BY test_id`)
	require.NoError(t, err)
	var expiring []int64
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		expiring = append(expiring, id)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, expiring)
	baseline := expiring[0]
	_, err = pool.Exec(ctx, `UPDATE tests SET baseline = true WHERE id = $1`, baseline)
	require.NoError(t, err)
	count := func(q string, id int64) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, q, id).Scan(&n))
		return n
	}
	const chunks = `SELECT count(*) FROM sample_chunks WHERE test_id = $1`
	baselineChunks := count(chunks, baseline)
	require.Equal(t, y.Series, baselineChunks)

	s := store.New(pool)
	rep, err := s.RetentionRun(ctx, now, store.RetentionOptions{})
	require.NoError(t, err)
	require.Contains(t, rep.PartitionsDropped, part)
	var gone bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass($1) IS NULL`, part).Scan(&gone))
	require.True(t, gone, "%s is dropped", part)
	require.Equal(t, (y.RawDays+1)*y.TestsPerDay, rep.RolledUp, "the raw days' tests are rolled up")

	for _, id := range expiring[1:] {
		require.Zero(t, count(chunks, id), "test %d loses its raw samples", id)
		require.Equal(t, 2*y.Series, count(`SELECT count(*) FROM sample_rollups WHERE test_id = $1`, id), "test %d keeps 10 s and 1 min roll-ups", id)
		require.Equal(t, 3, count(`SELECT count(*) FROM test_kpis WHERE test_id = $1`, id), "test %d keeps its KPIs", id)
		step, err := s.SeriesRollup(ctx, id)
		require.NoError(t, err)
		require.Equal(t, int64(store.Rollup10s), step, "test %d's series come from its 10-second roll-ups", id)
	}
	require.Equal(t, baselineChunks, count(`SELECT count(*) FROM sample_chunks_kept WHERE test_id = $1`, baseline), "the baseline keeps its samples")
	require.Equal(t, y.Series, count(chunks, year.Newest), "the newest test keeps its raw samples")

	sizes, err := s.RetentionSizesGet(ctx)
	require.NoError(t, err)
	require.Positive(t, sizes.Samples)
	require.Positive(t, sizes.Rollups)
	require.Greater(t, sizes.Tests, sizes.Samples+sizes.Rollups)
	t.Logf("bytes: samples %d, roll-ups %d, logs %d, all %d; retention run %v", sizes.Samples, sizes.Rollups, sizes.Logs, sizes.Tests, rep.Took)
}

// TestMirrorAgents copies a database's agents into another, as the
// seeded-year measure does for its database before the year: the same
// names, facts, declared labels, settings and version, online.
func TestMirrorAgents(t *testing.T) {
	ctx := context.Background()
	url, stop, err := testenv.Postgres(ctx)
	require.NoError(t, err)
	t.Cleanup(stop)
	open := func(url string) *store.Store {
		pool, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		require.NoError(t, migrations.Apply(ctx, pool, slog.New(slog.DiscardHandler)))
		return store.New(pool)
	}
	from := open(url)
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	_, err = from.Pool().Exec(ctx, `CREATE DATABASE mirror`)
	require.NoError(t, err)
	u.Path = "/mirror"
	to := open(u.String())

	facts := wire.Facts{CPUModel: "AMD EPYC", Cores: 2, Kernel: "6.1"}
	require.NoError(t, from.AgentUpsert(ctx, "a1", wire.Heartbeat{Labels: map[string]string{"disk": "ssd"}, Facts: facts, Version: "v1"}))
	require.NoError(t, from.AgentUpsert(ctx, "a2", wire.Heartbeat{Facts: facts, Version: "v2"}))
	require.NoError(t, from.AgentSettingsSet(ctx, "a2", wire.AgentSettings{Labels: map[string]string{"pool": "perf"},
		Teams: []string{"core"}, Shared: true}, "admin"))

	require.NoError(t, mirrorAgents(ctx, from, to))
	want, err := from.AgentList(ctx)
	require.NoError(t, err)
	got, err := to.AgentList(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	for i := range want {
		w, g := want[i], got[i]
		require.Equal(t, w.Name, g.Name)
		require.Equal(t, w.Facts, g.Facts)
		require.Equal(t, w.DeclaredLabels, g.DeclaredLabels)
		require.Equal(t, w.Labels, g.Labels)
		require.Equal(t, w.Teams, g.Teams)
		require.Equal(t, w.Shared, g.Shared)
		require.Equal(t, w.Version, g.Version)
		require.True(t, g.Online, g.Name)
	}
}
