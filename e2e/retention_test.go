package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	temporalclient "go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// runRetention runs the Retention workflow as the schedule would, as of
// now, and returns what it did.
func runRetention(t *testing.T) *contract.RetentionResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	run, err := st.Temporal.ExecuteWorkflow(ctx, temporalclient.StartWorkflowOptions{
		ID: fmt.Sprintf("retention-e2e-%d", time.Now().UnixNano()), TaskQueue: contract.CentralQueue,
	}, contract.RetentionWorkflow, contract.RetentionInput{Now: time.Now()})
	require.NoError(t, err)
	var res contract.RetentionResult
	require.NoError(t, run.Get(ctx, &res))
	return &res
}

// backdate moves tests, with their samples and log lines, days into the
// past, as if they had run then.
func backdate(t *testing.T, days int, ids ...int64) {
	t.Helper()
	shift := time.Duration(days) * 24 * time.Hour
	for _, q := range []string{
		`UPDATE tests SET created_at = created_at - $2::interval, updated_at = updated_at - $2::interval,
			ended_at = ended_at - $2::interval WHERE id = ANY($1) AND $3::bigint > 0`,
		// A chunk's times are deltas from first_ts (migration 00026).
		`UPDATE sample_chunks SET first_ts = first_ts - $2::interval, last_ts = last_ts - $2::interval
			WHERE test_id = ANY($1) AND $3::bigint > 0`,
		`UPDATE test_logs SET ts = ts - $2::interval WHERE test_id = ANY($1) AND $3::bigint > 0`,
	} {
		_, err := st.Pool.Exec(t.Context(), q, ids, shift.String(), shift.Milliseconds())
		require.NoError(t, err)
	}
}

// rowCount counts rows of a table of one test.
func rowCount(t *testing.T, table string, id int64) int {
	t.Helper()
	var n int
	require.NoError(t, st.Pool.QueryRow(t.Context(), `SELECT count(*) FROM `+table+` WHERE test_id = $1`, id).Scan(&n))
	return n
}

// A test older than the retention keeps its KPIs and roll-ups and loses
// its raw samples and log lines, its day's partitions are dropped, and the
// series API reads its roll-ups; a baseline test, a pinned test and a test
// an open alert names keep their samples and logs (moved to the kept
// partitions).
func TestRetentionExpiresOldTestsKeepsProtected(t *testing.T) {
	ctx := t.Context()
	// The test runs retention itself; the hourly schedule must not run it
	// in the middle.
	sched := st.Temporal.ScheduleClient().GetHandle(ctx, contract.RetentionScheduleID)
	require.NoError(t, sched.Pause(ctx, temporalclient.SchedulePauseOptions{Note: "retention e2e test"}))
	t.Cleanup(func() { _ = sched.Unpause(context.Background(), temporalclient.ScheduleUnpauseOptions{}) })
	st.Apply(t, fmt.Sprintf(`
name: retention-e2e
execution:
  script: |
    #!/bin/sh
    echo "starting"
    sleep 3
    echo "Latency-ms, 12.5ms" > results.csv
  hosts: [%s]
statistics:
  hosts: [%s]
  interval: 200ms
kpis:
  - {name: Latency-ms, unit: ms, better: lower}
`, agentName, agentName))
	run := func(req wire.RunRequest) int64 {
		req.Framework = "retention-e2e"
		got := st.Run(t, req)
		require.Equal(t, wire.StateFinished, got.State, got.Reason)
		return got.ID
	}
	old := run(wire.RunRequest{})
	baseline := run(wire.RunRequest{Baseline: true})
	pinned := run(wire.RunRequest{})
	alerted := run(wire.RunRequest{})

	var pin wire.TestRetention
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodPut, fmt.Sprintf("/api/v1/tests/%d/pin", pinned), "", nil, &pin))
	require.True(t, pin.Pinned)
	require.Equal(t, []string{"pinned"}, pin.Kept)
	_, err := st.Pool.Exec(ctx, `INSERT INTO alerts (framework_id, kind, severity, first_test, last_test, summary)
		SELECT framework_id, 'regression', 'minor', id, id, 'retention e2e' FROM tests WHERE id = $1`, alerted)
	require.NoError(t, err)

	s := store.New(st.Pool)
	raw := map[int64][]wire.Series{}
	chunks := map[int64]int{}
	for _, id := range []int64{old, baseline, pinned, alerted} {
		raw[id], err = s.SeriesAll(ctx, id)
		require.NoError(t, err)
		require.NotEmpty(t, raw[id], "test %d has samples", id)
		chunks[id] = rowCount(t, "sample_chunks", id)
		require.Positive(t, rowCount(t, "test_logs", id))
	}

	// 100 days ago: past raw samples (30 days) and logs (90), within the
	// roll-ups' year.
	backdate(t, 100, old, baseline, pinned, alerted)
	var day time.Time
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT min(first_ts) FROM sample_chunks WHERE test_id = $1`, old).Scan(&day))
	samplesPart := "sample_chunks_live_" + day.UTC().Format("20060102")
	logsPart := "test_logs_live_" + day.UTC().Format("20060102")
	oldTest := st.Wait(t, old)
	require.NotEmpty(t, oldTest.KPIs)

	res := runRetention(t)
	require.Contains(t, res.PartitionsDropped, samplesPart, "the day's sample partition is dropped")
	require.Contains(t, res.PartitionsDropped, logsPart, "the day's log partition is dropped")
	for _, part := range []string{samplesPart, logsPart} {
		var exists, attached bool
		require.NoError(t, st.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL,
			EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname = $1)`, part).
			Scan(&exists, &attached))
		require.False(t, exists, "%s is gone", part)
		require.False(t, attached, "%s is no partition any more", part)
	}

	// The old test: KPIs kept, raw samples and logs gone, roll-ups there.
	after := st.Wait(t, old)
	require.Equal(t, oldTest.KPIs, after.KPIs, "KPIs are kept")
	require.Zero(t, rowCount(t, "sample_chunks", old), "raw samples are gone")
	require.Zero(t, rowCount(t, "test_logs", old), "log lines are gone")
	var steps []int
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT array_agg(DISTINCT step_ms ORDER BY step_ms) FROM sample_rollups WHERE test_id = $1`, old).Scan(&steps))
	require.Equal(t, []int{store.Rollup10s, store.Rollup1m}, steps, "10-second and 1-minute roll-ups")
	require.Contains(t, after.Notes, "raw samples removed by retention; charts show the 10-second roll-ups (1-minute once those go)")

	var tr wire.TestRetention
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/retention", old), "", nil, &tr))
	require.NotNil(t, tr.RawExpiredAt)
	require.NotNil(t, tr.LogsExpiredAt)
	require.NotNil(t, tr.RolledUpAt)
	require.Empty(t, tr.Kept)

	// Its roll-ups are the 10-second means of its raw samples, shifted as
	// they were.
	shift := int64(100 * 24 * time.Hour / time.Millisecond)
	rolled, err := s.SeriesAll(ctx, old)
	require.NoError(t, err)
	require.Len(t, rolled, len(raw[old]), "every series rolled up")
	for i, ser := range raw[old] {
		sums, counts := map[int64]float64{}, map[int64]int{}
		for j, ts := range ser.TS {
			k := (ts - shift) / store.Rollup10s * store.Rollup10s
			sums[k] += ser.Values[j]
			counts[k]++
		}
		got := rolled[i]
		require.Equal(t, ser.Metric, got.Metric)
		require.Len(t, got.TS, len(sums), "%s: one point per 10-second bucket", ser.Metric)
		for j, ts := range got.TS {
			want := sums[ts] / float64(counts[ts])
			require.InDelta(t, want, got.Values[j], math.Max(1e-6, math.Abs(want)*1e-6), "%s at %d", ser.Metric, ts)
		}
	}

	// The series API answers from the roll-ups, and says so.
	var list wire.List[wire.Series]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/series?metric=cpu.*", old), "", nil, &list))
	require.NotEmpty(t, list.Items)
	for _, ser := range list.Items {
		require.Equal(t, int64(store.Rollup10s), ser.Rollup, ser.Metric)
		require.NotEmpty(t, ser.TS, ser.Metric)
	}

	// Protected tests keep every chunk and log line, now in the kept
	// partitions, and their series are raw.
	for _, id := range []int64{baseline, pinned, alerted} {
		require.Equal(t, chunks[id], rowCount(t, "sample_chunks", id), "test %d keeps its samples", id)
		require.Equal(t, chunks[id], rowCount(t, "sample_chunks_kept", id), "test %d's samples are in the kept partition", id)
		require.Positive(t, rowCount(t, "test_logs_kept", id), "test %d keeps its log lines", id)
		var list wire.List[wire.Series]
		require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/series", id), "", nil, &list))
		require.NotEmpty(t, list.Items)
		require.Zero(t, list.Items[0].Rollup, "test %d's series are raw", id)
	}
	var kept wire.TestRetention
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/retention", baseline), "", nil, &kept))
	require.Equal(t, []string{"baseline"}, kept.Kept)
	require.Nil(t, kept.RawExpiredAt)

	// Unpinned, the pinned test is no longer kept: the next run takes its
	// samples from the kept partition.
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodDelete, fmt.Sprintf("/api/v1/tests/%d/pin", pinned), "", nil, &pin))
	require.False(t, pin.Pinned)
	runRetention(t)
	require.Zero(t, rowCount(t, "sample_chunks", pinned), "the unpinned test's raw samples go")
	require.Positive(t, rowCount(t, "sample_rollups", pinned), "its roll-ups stay")
	require.Equal(t, chunks[baseline], rowCount(t, "sample_chunks", baseline), "the baseline's stay")

	// The schedule that runs retention is there.
	desc, err := sched.Describe(ctx)
	require.NoError(t, err)
	require.Len(t, desc.Schedule.Spec.Intervals, 1)
	require.Equal(t, time.Hour, desc.Schedule.Spec.Intervals[0].Every)
}

// Team retention settings: read the defaults, set them, refuse bad values.
func TestRetentionSettings(t *testing.T) {
	var r wire.Retention
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/teams/default/retention", "", nil, &r))
	require.Equal(t, wire.Retention{Team: "default", RawDays: 30, Rollup10sDays: 365, Rollup1mDays: 365, LogDays: 90,
		ArtifactMaxBytes: 10 << 30, Default: true}, r)
	var e wire.Error
	require.Equal(t, http.StatusBadRequest, st.Call(t, http.MethodPut, "/api/v1/teams/default/retention", "application/json",
		[]byte(`{"raw_days":0,"rollup_10s_days":365,"rollup_1m_days":365,"log_days":90,"artifact_max_bytes":1}`), &e))
	require.Equal(t, "raw_days", e.Field)
	require.Contains(t, e.Error, "between 1 and 3650")
	require.Equal(t, http.StatusNotFound, st.Call(t, http.MethodGet, "/api/v1/teams/no-such-team/retention", "", nil, &e))
	var set, got wire.Retention
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodPut, "/api/v1/teams/default/retention", "application/json",
		[]byte(`{"raw_days":30,"rollup_10s_days":365,"rollup_1m_days":365,"log_days":90,"artifact_max_bytes":10737418240}`), &set))
	require.False(t, set.Default)
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/teams/default/retention", "", nil, &got))
	require.False(t, got.Default, "the team has set its retention")
	require.Equal(t, set, got)
}
