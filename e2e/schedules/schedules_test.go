package schedules

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// framework applies a framework whose script writes its parameter n as a
// KPI, sleeps $delay seconds, and exits with $fail.
func framework(t *testing.T, name string) {
	t.Helper()
	st.Apply(t, fmt.Sprintf(`name: %s
execution:
  script: |
    #!/bin/sh
    sleep "$PITWALL_PARAM_DELAY"
    echo "N, $PITWALL_PARAM_N" > results.csv
    if [ "$PITWALL_PARAM_FAIL" != 0 ]; then echo "the benchmark broke" >&2; exit "$PITWALL_PARAM_FAIL"; fi
  timeout: 2m
parameters:
  - {name: n, default: "1"}
  - {name: delay, default: "0"}
  - {name: fail, default: "0"}
`, name))
}

// create makes a schedule of framework with spec (JSON).
func create(t *testing.T, fw, spec string) *wire.Schedule {
	t.Helper()
	var sc wire.Schedule
	code := st.Call(t, http.MethodPost, "/api/v1/frameworks/"+fw+"/schedules", "application/json", []byte(spec), &sc)
	require.Equal(t, http.StatusCreated, code)
	t.Cleanup(func() {
		_, _ = st.Do(context.Background(), http.MethodDelete, fmt.Sprintf("/api/v1/schedules/%d", sc.ID), "", nil, nil)
	})
	return &sc
}

func get(t *testing.T, id int64) *wire.Schedule {
	t.Helper()
	var sc wire.Schedule
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/schedules/%d", id), "", nil, &sc))
	return &sc
}

// testsOf lists a schedule's tests, newest first.
func testsOf(t *testing.T, id int64) []wire.Test {
	t.Helper()
	var list wire.List[wire.Test]
	path := "/api/v1/tests?tag=" + url.QueryEscape(fmt.Sprintf("schedule=%d", id))
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, path, "", nil, &list))
	return list.Items
}

// eventually polls cond every 250 ms until it holds or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// show prints a schedule as the framework page shows it.
func show(t *testing.T, sc *wire.Schedule) {
	t.Helper()
	var next []string
	for _, n := range sc.NextRuns {
		next = append(next, n.UTC().Format("15:04:05"))
	}
	t.Logf("schedule %d (%s): paused=%v note=%q next runs %s; runs %d running %d buffered %d missed %d skipped %d dropped %d failed-in-a-row %d tests %d",
		sc.ID, sc.Summary(), sc.Paused, sc.Note, strings.Join(next, " "), sc.Runs, sc.Running, sc.Buffered,
		sc.MissedCatchupWindow, sc.OverlapSkipped, sc.BufferDropped, sc.FailuresInARow, len(sc.Tests))
}

// A schedule every two seconds runs tests with its parameters and branch,
// as the schedule's principal, tagged with the schedule.
func TestScheduleRunsWithItsParameters(t *testing.T) {
	framework(t, "sched-params")
	sc := create(t, "sched-params", `{"interval":"2s","params":{"n":"7"},"branch":"nightly","description":"every 2 s"}`)
	require.Equal(t, "buffer_one", sc.Overlap)
	require.Equal(t, "1h0m0s", sc.CatchupWindow)
	require.Equal(t, 3, *sc.PauseAfterFailures)
	require.Equal(t, contract.ScheduleID(sc.ID), sc.TemporalID)
	require.NotEmpty(t, sc.NextRuns)
	require.False(t, sc.Paused)

	eventually(t, 60*time.Second, "two finished scheduled tests", func() bool {
		n := 0
		for _, x := range testsOf(t, sc.ID) {
			if x.State == wire.StateFinished {
				n++
			}
		}
		return n >= 2
	})
	for _, x := range testsOf(t, sc.ID)[:2] {
		full := st.Wait(t, x.ID)
		require.Equal(t, wire.StateFinished, full.State)
		require.Equal(t, "nightly", full.Branch)
		require.Equal(t, "schedule", full.Owner)
		require.Equal(t, "low", full.Priority, "scheduled runs default to low priority")
		require.Equal(t, fmt.Sprint(sc.ID), full.Tags["schedule"])
		require.True(t, strings.HasPrefix(full.Tags["schedule.run"], contract.ScheduledRunID(sc.ID)+"-"), full.Tags["schedule.run"])
		params := map[string]string{}
		for _, p := range full.Params {
			params[p.Name] = p.Value
		}
		require.Equal(t, map[string]string{"n": "7", "delay": "0", "fail": "0"}, params)
		require.Len(t, full.KPIs, 1)
		require.Equal(t, 7.0, full.KPIs[0].Value)
	}
	recordHistory(t, st.Wait(t, testsOf(t, sc.ID)[1].ID).Tags["schedule.run"], "scheduledrun.json")
	got := get(t, sc.ID)
	show(t, got)
	require.GreaterOrEqual(t, got.Runs, int64(2))
	require.Len(t, got.NextRuns, 10)
	require.True(t, got.NextRuns[0].After(time.Now().Add(-time.Second)))

	var list wire.List[wire.Schedule]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/frameworks/sched-params/schedules", "", nil, &list))
	require.Len(t, list.Items, 1)

	// Deleted: gone from Temporal and from Pitwall; its tests stay.
	require.Equal(t, http.StatusNoContent, st.Call(t, http.MethodDelete, fmt.Sprintf("/api/v1/schedules/%d", sc.ID), "", nil, nil))
	_, err := st.Temporal.ScheduleClient().GetHandle(t.Context(), sc.TemporalID).Describe(t.Context())
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/schedules/%d", sc.ID), "", nil, nil))
	require.NotEmpty(t, testsOf(t, sc.ID))
}

// While a run is still going, buffer_one keeps one more waiting and
// skips the rest: runs never overlap, and the counters say what was skipped.
func TestScheduleBuffersOneRun(t *testing.T) {
	framework(t, "sched-buffer")
	sc := create(t, "sched-buffer", `{"interval":"1s","params":{"delay":"6"}}`)
	var seen *wire.Schedule
	eventually(t, 30*time.Second, "a run going and one buffered", func() bool {
		seen = get(t, sc.ID)
		return seen.Running == 1 && seen.Buffered == 1
	})
	show(t, seen)
	eventually(t, 60*time.Second, "two scheduled tests finished", func() bool {
		ts := testsOf(t, sc.ID)
		return len(ts) >= 2 && ts[len(ts)-2].State == wire.StateFinished
	})
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/schedules/%d/pause", sc.ID), "application/json", []byte(`{"note":"test over"}`), nil))
	got := get(t, sc.ID)
	show(t, got)
	require.Positive(t, got.OverlapSkipped+got.BufferDropped, "runs due while one was going and one buffered were skipped")
	require.LessOrEqual(t, got.Buffered, int64(1))
	require.True(t, got.Paused)
	require.Regexp(t, `^paused by \S+: test over$`, got.Note)
	// No two tests of the schedule ran at the same time.
	ts := testsOf(t, sc.ID)
	for i := 0; i+1 < len(ts); i++ {
		newer, older := st.Wait(t, ts[i].ID), st.Wait(t, ts[i+1].ID)
		require.False(t, newer.CreatedAt.Before(*older.EndedAt), "test %d was created before test %d ended", newer.ID, older.ID)
	}
}

// A schedule whose runs fail pauses itself after its limit, and its note
// says why; it fires no more.
func TestSchedulePausesAfterFailures(t *testing.T) {
	framework(t, "sched-fail")
	sc := create(t, "sched-fail", `{"interval":"2s","params":{"fail":"3"},"pause_after_failures":2}`)
	var got *wire.Schedule
	eventually(t, 60*time.Second, "the schedule paused itself", func() bool {
		got = get(t, sc.ID)
		return got.Paused
	})
	show(t, got)
	require.Regexp(t, `^paused after 2 failed runs in a row: test \d+ failed: .+; test \d+ failed: .+$`, got.Note)
	require.GreaterOrEqual(t, got.FailuresInARow, 2)
	ts := testsOf(t, sc.ID)
	for _, x := range ts {
		require.Equal(t, wire.StateFailed, st.Wait(t, x.ID).State)
	}
	require.Contains(t, got.Note, fmt.Sprintf("test %d failed", ts[0].ID))
	recordHistory(t, st.Wait(t, ts[0].ID).Tags["schedule.run"], "scheduledrun-paused.json")
	n := len(testsOf(t, sc.ID))
	time.Sleep(5 * time.Second)
	require.Len(t, testsOf(t, sc.ID), n, "a paused schedule starts no tests")

	// Resumed, it fires again (and pauses again after two more failures).
	var res wire.Schedule
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/schedules/%d/resume", sc.ID), "", nil, &res))
	require.False(t, res.Paused)
	eventually(t, 30*time.Second, "a run after resuming", func() bool { return len(testsOf(t, sc.ID)) > n })
}

// Bad specs are refused with the field at fault.
func TestScheduleValidation(t *testing.T) {
	framework(t, "sched-valid")
	for _, c := range []struct{ body, field, says string }{
		{`{"cron":"61 * * * *"}`, "cron", "Temporal refused the schedule"},
		{`{"cron":"every day"}`, "cron", "has 2 fields"},
		{`{"cron":"0 3 * * *","interval":"1h"}`, "cron", "exactly one of cron, calendar and interval"},
		{`{}`, "cron", "exactly one of"},
		{`{"interval":"10ms"}`, "interval", "whole number of seconds"},
		{`{"calendar":{"hour":"3;rm"}}`, "calendar.hour", "cron syntax"},
		{`{"cron":"0 3 * * *","timezone":"Mars/Olympus"}`, "timezone", "unknown time zone"},
		{`{"cron":"0 3 * * *","params":{"iterations":"5"}}`, "params.iterations", `has no parameter "iterations"`},
		{`{"cron":"0 3 * * *","catchup_window":"1s"}`, "catchup_window", "from 10s to 720h"},
		{`{"cron":"0 3 * * *","catchup_window":"1000h"}`, "catchup_window", "from 10s to 720h"},
		{`{"cron":"0 3 * * *","overlap":"sometimes"}`, "overlap", "must be one of"},
		{`{"cron":"0 3 * * *","pause_after_failures":-1}`, "pause_after_failures", "from 0"},
		{`{"cron":"0 3 * * *","branch":"a\nb"}`, "branch", "one line"},
		{`{"cron":"0 3 * * *","priority":"urgent"}`, "priority", "must be one of low, normal, high"},
	} {
		var e wire.Error
		code := st.Call(t, http.MethodPost, "/api/v1/frameworks/sched-valid/schedules", "application/json", []byte(c.body), &e)
		require.Equal(t, http.StatusBadRequest, code, c.body)
		require.Equal(t, c.field, e.Field, "%s: %s", c.body, e.Error)
		require.Contains(t, e.Error, c.says, c.body)
	}
	var list wire.List[wire.Schedule]
	st.Call(t, http.MethodGet, "/api/v1/frameworks/sched-valid/schedules", "", nil, &list)
	require.Empty(t, list.Items, "no refused schedule was kept")
	require.Equal(t, http.StatusNotFound, st.Call(t, http.MethodPost, "/api/v1/frameworks/no-such/schedules", "application/json", []byte(`{"cron":"@daily"}`), nil))

	// A calendar spec with a time zone, and a cron expression, are taken.
	cal := create(t, "sched-valid", `{"calendar":{"hour":"3","day_of_week":"MON-FRI"},"timezone":"Europe/Paris"}`)
	require.Equal(t, "calendar 0 0 3 * * MON-FRI * (Europe/Paris)", cal.Summary())
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	for _, n := range cal.NextRuns {
		local := n.In(paris)
		require.Equal(t, 3, local.Hour(), n)
		require.NotEqual(t, time.Saturday, local.Weekday())
		require.NotEqual(t, time.Sunday, local.Weekday())
	}
	cron := create(t, "sched-valid", `{"cron":"30 2 * * *"}`)
	require.Equal(t, 30, cron.NextRuns[0].Minute())
}

// starter schedule drives a schedule's whole life.
func TestStarterSchedule(t *testing.T) {
	framework(t, "sched-starter")
	r := st.Starter(t, "schedule", "create", "sched-starter", "--cron", "0 4 * * *", "--timezone", "America/New_York",
		"-p", "n=3", "--branch", "main", "--overlap", "skip", "--catchup-window", "30m", "--pause-after-failures", "5", "--priority", "high", "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	var sc wire.Schedule
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &sc))
	t.Cleanup(func() { st.Starter(t, "schedule", "delete", fmt.Sprint(sc.ID)) })
	require.Equal(t, "skip", sc.Overlap)
	require.Equal(t, "30m", sc.CatchupWindow)
	require.Equal(t, 5, *sc.PauseAfterFailures)
	require.Equal(t, "high", sc.Priority)
	require.Equal(t, map[string]string{"n": "3"}, sc.Params)
	id := fmt.Sprint(sc.ID)

	r = st.Starter(t, "schedule", "list", "sched-starter")
	require.Equal(t, 0, r.Code, r.Stderr)
	t.Logf("starter schedule list:\n%s", r.Stdout)
	require.Contains(t, r.Stdout, "cron 0 4 * * * (America/New_York) n=3 on main")
	require.Contains(t, r.Stdout, "active · priority high · overlap skip · catch-up window 30m · pauses after 5 failed runs in a row")
	require.Contains(t, r.Stdout, "next runs: ")

	r = st.Starter(t, "schedule", "update", id, "--interval", "3s", "-p", "n=4")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "every 3s n=4 on main")
	require.Contains(t, r.Stdout, "overlap skip", "update keeps what its flags do not change")

	r = st.Starter(t, "schedule", "pause", id, "--note", "release freeze")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Regexp(t, `note: paused by \S+: release freeze`, r.Stdout)
	require.Contains(t, r.Stdout, "next runs: none")

	// Triggered while paused: it runs now, once.
	r = st.Starter(t, "schedule", "trigger", id)
	require.Equal(t, 0, r.Code, r.Stderr)
	eventually(t, 30*time.Second, "the triggered test", func() bool { return len(testsOf(t, sc.ID)) == 1 })
	x := st.Wait(t, testsOf(t, sc.ID)[0].ID)
	require.Equal(t, wire.StateFinished, x.State)
	require.Equal(t, "high", x.Priority)

	r = st.Starter(t, "schedule", "resume", id)
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "  active ·")

	r = st.Starter(t, "schedule", "create", "sched-starter", "--cron", "0 4 * * *", "-p", "nope=1")
	require.Equal(t, 3, r.Code)
	require.Contains(t, r.Stderr, `framework sched-starter has no parameter "nope"`)
	r = st.Starter(t, "schedule", "frobnicate", id)
	require.Equal(t, 3, r.Code)
	require.Contains(t, r.Stderr, "unknown schedule subcommand")

	r = st.Starter(t, "schedule", "delete", id)
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "schedule "+id+" deleted\n", r.Stdout)
	r = st.Starter(t, "schedule", "show", id)
	require.Equal(t, 3, r.Code)
	require.Contains(t, r.Stderr, "schedule "+id+" not found")
}

// Temporal owns the schedule: with Pitwall's server and central worker
// killed (kill -9), the schedule keeps firing (allow_all: each firing
// starts a run, which waits in Temporal for a worker); started again, the
// worker runs them and the schedule goes on, with nothing in Pitwall
// restored by hand.
func TestScheduleSurvivesRestart(t *testing.T) {
	framework(t, "sched-restart")
	sc := create(t, "sched-restart", `{"interval":"2s","params":{"n":"11"},"overlap":"allow_all"}`)
	eventually(t, 60*time.Second, "a finished scheduled test", func() bool {
		ts := testsOf(t, sc.ID)
		return len(ts) > 0 && ts[len(ts)-1].State == wire.StateFinished
	})
	before := get(t, sc.ID)
	show(t, before)

	st.Central.Kill9()
	st.Server.Kill9()
	down := time.Now()
	time.Sleep(8 * time.Second)
	// While Pitwall is down, Temporal keeps the schedule and fires it.
	d, err := st.Temporal.ScheduleClient().GetHandle(t.Context(), sc.TemporalID).Describe(t.Context())
	require.NoError(t, err)
	t.Logf("while Pitwall was down: actions %d, running %d, skipped (overlap) %d", d.Info.NumActions,
		len(d.Info.RunningWorkflows), d.Info.NumActionsSkippedOverlap)
	require.Greater(t, d.Info.NumActions, int(before.Runs), "the schedule fired while the server and worker were down")

	require.NoError(t, st.Server.Restart())
	require.NoError(t, st.Central.Restart())
	require.NoError(t, st.WaitReady(t.Context(), "/readyz", "", nil))
	fired := d.Info.NumActions - int(before.Runs)
	eventually(t, 90*time.Second, "the runs fired while Pitwall was down have each run a test", func() bool {
		n := 0
		for _, x := range testsOf(t, sc.ID) {
			if x.CreatedAt.After(down) && x.State == wire.StateFinished {
				n++
			}
		}
		return n >= fired
	})
	after := get(t, sc.ID)
	show(t, after)
	require.False(t, after.Paused)
	require.Greater(t, after.Runs, before.Runs)
	for _, x := range testsOf(t, sc.ID) {
		full := st.Wait(t, x.ID)
		require.Equal(t, wire.StateFinished, full.State, "test %d: %s", x.ID, full.Reason)
		require.Equal(t, 11.0, full.KPIs[0].Value)
	}
}
