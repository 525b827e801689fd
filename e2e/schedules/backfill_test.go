package schedules

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// pausedEveryMinute makes a schedule of fw that fires every minute and
// pauses it at once, so it fires nothing itself: it is made well inside a
// minute, away from the minute its first run is due.
func pausedEveryMinute(t *testing.T, fw, params string) *wire.Schedule {
	t.Helper()
	for s := time.Now().Second(); s < 5 || s > 45; s = time.Now().Second() {
		time.Sleep(time.Second)
	}
	sc := create(t, fw, `{"interval":"1m","params":`+params+`,"branch":"past"}`)
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/schedules/%d/pause", sc.ID), "application/json",
		[]byte(`{"note":"fires only when backfilled"}`), nil))
	return sc
}

// backfill asks for the runs of schedule id due from start to end.
func backfill(t *testing.T, id int64, start, end time.Time, out any) int {
	t.Helper()
	body, err := json.Marshal(wire.ScheduleBackfill{Start: start.Format(time.RFC3339), End: end.Format(time.RFC3339)})
	require.NoError(t, err)
	return st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/schedules/%d/backfill", id), "application/json", body, out)
}

// runIDs are the workflow IDs of schedule id's runs due at times.
func runIDs(id int64, times ...time.Time) []string {
	var out []string
	for _, at := range times {
		out = append(out, contract.ScheduledRunID(id)+"-"+at.UTC().Format(time.RFC3339))
	}
	sort.Strings(out)
	return out
}

// waitFinished waits until schedule id has n tests, all ended, and returns
// them in full, oldest first.
func waitFinished(t *testing.T, id int64, n int) []*wire.Test {
	t.Helper()
	eventually(t, 2*time.Minute, fmt.Sprintf("%d ended tests of schedule %d", n, id), func() bool {
		ts := testsOf(t, id)
		if len(ts) < n {
			return false
		}
		for _, x := range ts {
			if !wire.Ended(x.State) {
				return false
			}
		}
		return true
	})
	ts := testsOf(t, id)
	require.Len(t, ts, n)
	var out []*wire.Test
	for i := len(ts) - 1; i >= 0; i-- {
		out = append(out, st.Wait(t, ts[i].ID))
	}
	return out
}

// A paused schedule every minute, backfilled over the past three
// minutes, runs three tests with its parameters, one after another, as
// the schedule's, each its run of a minute of the period.
func TestScheduleBackfill(t *testing.T) {
	framework(t, "sched-backfill")
	sc := pausedEveryMinute(t, "sched-backfill", `{"n":"13"}`)
	// Three minutes due: the period's ends fall between them.
	end := time.Now().Truncate(time.Minute).Add(-30 * time.Second)
	start := end.Add(-3 * time.Minute)
	due := []time.Time{start.Add(30 * time.Second), start.Add(90 * time.Second), start.Add(150 * time.Second)}

	var got wire.Schedule
	require.Equal(t, http.StatusAccepted, backfill(t, sc.ID, start, end, &got))
	require.Equal(t, sc.ID, got.ID)
	require.True(t, got.Paused, "a backfill leaves the schedule paused")

	ts := waitFinished(t, sc.ID, 3)
	var runs []string
	for i, x := range ts {
		require.Equal(t, wire.StateFinished, x.State, "test %d: %s", x.ID, x.Reason)
		require.Equal(t, "schedule", x.Owner)
		require.Equal(t, "past", x.Branch)
		require.Equal(t, fmt.Sprint(sc.ID), x.Tags["schedule"])
		require.Equal(t, 13.0, x.KPIs[0].Value)
		runs = append(runs, x.Tags["schedule.run"])
		if i > 0 {
			require.False(t, x.CreatedAt.Before(*ts[i-1].EndedAt), "buffer_all: test %d was created before test %d ended", x.ID, ts[i-1].ID)
		}
	}
	sort.Strings(runs)
	require.Equal(t, runIDs(sc.ID, due...), runs, "one run for each minute of the period")
	after := get(t, sc.ID)
	show(t, after)
	require.True(t, after.Paused)
	require.Equal(t, int64(3), after.Runs)

	// The audit log says who backfilled what.
	var log struct {
		Items []struct{ Actor, Action, Target, Detail string } `json:"items"`
	}
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/audit?team=default", "", nil, &log))
	var audited string
	for _, e := range log.Items {
		if e.Action == "schedule backfilled" && e.Target == fmt.Sprintf("schedule %d", sc.ID) {
			audited = e.Detail
		}
	}
	require.Contains(t, audited, "sched-backfill: 3 runs due from ", "the audit log has the backfill")
	require.Contains(t, audited, "overlap buffer_all")

	// Refused, with the field at fault; nothing more runs.
	now := time.Now()
	for _, c := range []struct {
		name, body, field, says string
	}{
		{"start after end", fmt.Sprintf(`{"start":%q,"end":%q}`, rfc(now.Add(-time.Hour)), rfc(now.Add(-2*time.Hour))), "end", "must be after start"},
		{"start at end", fmt.Sprintf(`{"start":%q,"end":%q}`, rfc(now.Add(-time.Hour)), rfc(now.Add(-time.Hour))), "end", "must be after start"},
		{"longer than 31 days", fmt.Sprintf(`{"start":%q,"end":%q}`, rfc(now.Add(-32*24*time.Hour)), rfc(now.Add(-time.Hour))), "start", "longer than 31 days"},
		{"end in the future", fmt.Sprintf(`{"start":%q,"end":%q}`, rfc(now.Add(-time.Hour)), rfc(now.Add(time.Hour))), "end", "in the future"},
		{"too many runs", fmt.Sprintf(`{"start":%q,"end":%q}`, rfc(now.Add(-3*time.Hour)), rfc(now.Add(-time.Hour))), "start", "a backfill runs at most 100"},
		{"not a time", `{"start":"last tuesday","end":"2026-01-01T00:00:00Z"}`, "start", "not an RFC 3339 time"},
		{"no end", fmt.Sprintf(`{"start":%q}`, rfc(now.Add(-time.Hour))), "end", "give end"},
		{"unknown overlap", fmt.Sprintf(`{"start":%q,"end":%q,"overlap":"sometimes"}`, rfc(now.Add(-2*time.Hour)), rfc(now.Add(-time.Hour))), "overlap", "must be one of"},
	} {
		var e wire.Error
		code := st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/schedules/%d/backfill", sc.ID), "application/json", []byte(c.body), &e)
		require.Equal(t, http.StatusBadRequest, code, c.name)
		require.Equal(t, c.field, e.Field, "%s: %s", c.name, e.Error)
		require.Contains(t, e.Error, c.says, c.name)
	}
	require.Equal(t, http.StatusNotFound, backfill(t, 999999, start, end, nil))
	time.Sleep(2 * time.Second)
	require.Len(t, testsOf(t, sc.ID), 3, "a refused backfill runs nothing")
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// starter schedule backfill runs the runs of a past period; bad input
// exits 3 with the reason.
func TestStarterScheduleBackfill(t *testing.T) {
	framework(t, "sched-starter-backfill")
	sc := pausedEveryMinute(t, "sched-starter-backfill", `{"n":"21"}`)
	id := fmt.Sprint(sc.ID)
	// One minute due: two minutes ago, give or take half a minute.
	at := time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	start, end := rfc(at.Add(-30*time.Second)), rfc(at.Add(30*time.Second))

	r := st.Starter(t, "schedule", "backfill", id, "--start", start, "--end", end)
	require.Equal(t, 0, r.Code, r.Stderr)
	t.Logf("starter schedule backfill:\n%s", r.Stdout)
	require.Contains(t, r.Stdout, fmt.Sprintf("schedule %s backfilled from %s to %s\n", id, start, end))
	require.Contains(t, r.Stdout, "every 1m n=21 on past")
	require.Contains(t, r.Stdout, "  paused ·")
	ts := waitFinished(t, sc.ID, 1)
	require.Equal(t, wire.StateFinished, ts[0].State, ts[0].Reason)
	require.Equal(t, 21.0, ts[0].KPIs[0].Value)
	require.Equal(t, runIDs(sc.ID, at), []string{ts[0].Tags["schedule.run"]})

	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"schedule", "backfill", id, "--start", start}, "schedule backfill needs --start and --end"},
		{[]string{"schedule", "backfill", "--start", start, "--end", end}, "schedule backfill needs exactly one schedule ID"},
		{[]string{"schedule", "backfill", id, "--start", end, "--end", start}, "must be after start"},
		{[]string{"schedule", "backfill", id, "--start", "yesterday", "--end", end}, `start "yesterday" is not an RFC 3339 time`},
		{[]string{"schedule", "backfill", id, "--start", start, "--end", end, "--overlap", "sometimes"}, `overlap "sometimes" must be one of`},
	} {
		r := st.Starter(t, c.args...)
		require.Equal(t, 3, r.Code, "%v: %s", c.args, r.Stdout)
		require.Contains(t, r.Stderr, c.says, c.args)
	}
	require.Len(t, testsOf(t, sc.ID), 1, "refused backfills run nothing")
}
