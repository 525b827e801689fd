package schedules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

func info() *wire.FrameworkInfo {
	return &wire.FrameworkInfo{Framework: framework.Framework{Name: "sample",
		Parameters: []framework.Parameter{{Name: "n", Default: "1"}}}}
}

func TestCheckFillsDefaults(t *testing.T) {
	t.Parallel()
	spec := wire.ScheduleSpec{Interval: "2s", Params: map[string]string{"n": "5"}}
	plan, err := Check(info(), &spec)
	require.NoError(t, err)
	require.Equal(t, "UTC", spec.TimeZone)
	require.Equal(t, "buffer_one", spec.Overlap)
	require.Equal(t, "1h0m0s", spec.CatchupWindow)
	require.Equal(t, 3, *spec.PauseAfterFailures)
	require.Equal(t, enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, plan.Overlap)
	require.Equal(t, time.Hour, plan.CatchupWindow)
	require.Equal(t, 2*time.Second, plan.Spec.Intervals[0].Every)

	cal := wire.ScheduleSpec{Calendar: &wire.ScheduleCalendar{Hour: "3", DayOfWeek: "MON-FRI"}, TimeZone: "Europe/Paris"}
	plan, err = Check(info(), &cal)
	require.NoError(t, err)
	require.Equal(t, []string{"0 0 3 * * MON-FRI *"}, plan.Spec.CronExpressions)
	require.Equal(t, "Europe/Paris", plan.Spec.TimeZoneName)
}

func TestCheckNamesTheField(t *testing.T) {
	t.Parallel()
	zero, big := 0, 101
	for _, c := range []struct {
		spec  wire.ScheduleSpec
		field string
	}{
		{wire.ScheduleSpec{}, "cron"},
		{wire.ScheduleSpec{Cron: "* * *"}, "cron"},
		{wire.ScheduleSpec{Cron: "CRON_TZ=UTC 0 3 * * *"}, "cron"},
		{wire.ScheduleSpec{Cron: "@every 5m"}, "cron"},
		{wire.ScheduleSpec{Cron: "@fortnightly"}, "cron"},
		{wire.ScheduleSpec{Cron: "0 3 * * *", Interval: "1h"}, "cron"},
		{wire.ScheduleSpec{Interval: "1.5s"}, "interval"},
		{wire.ScheduleSpec{Interval: "soon"}, "interval"},
		{wire.ScheduleSpec{Calendar: &wire.ScheduleCalendar{Minute: "0 0"}}, "calendar.minute"},
		{wire.ScheduleSpec{Cron: "@daily", TimeZone: "Local"}, "timezone"},
		{wire.ScheduleSpec{Cron: "@daily", TimeZone: "Atlantis/Capital"}, "timezone"},
		{wire.ScheduleSpec{Cron: "@daily", Params: map[string]string{"m": "1"}}, "params.m"},
		{wire.ScheduleSpec{Cron: "@daily", Overlap: "never"}, "overlap"},
		{wire.ScheduleSpec{Cron: "@daily", CatchupWindow: "5s"}, "catchup_window"},
		{wire.ScheduleSpec{Cron: "@daily", CatchupWindow: "721h"}, "catchup_window"},
		{wire.ScheduleSpec{Cron: "@daily", PauseAfterFailures: &big}, "pause_after_failures"},
		{wire.ScheduleSpec{Cron: "@daily", Branch: "a\tb"}, "branch"},
		{wire.ScheduleSpec{Cron: "@daily", Description: "two\nlines"}, "description"},
	} {
		_, err := Check(info(), &c.spec)
		require.Error(t, err, "%+v", c.spec)
		require.Equal(t, service.Invalid, service.KindOf(err))
		require.Equal(t, c.field, service.As(err).Field, err.Error())
	}
	never := wire.ScheduleSpec{Cron: "@daily", PauseAfterFailures: &zero}
	_, err := Check(info(), &never)
	require.NoError(t, err, "0 turns pause-on-failure off")
}

func TestFailuresInARow(t *testing.T) {
	t.Parallel()
	ts := func(states ...string) []wire.Test {
		var out []wire.Test
		for i, s := range states {
			out = append(out, wire.Test{ID: int64(100 - i), State: s})
		}
		return out
	}
	n, failed := FailuresInARow(ts(wire.StateRunning, wire.StateFailed, wire.StateTimedOut, wire.StateAborted, wire.StateFinished, wire.StateFailed))
	require.Equal(t, 3, n, "a test still going is skipped; the finished one ends the run")
	require.Equal(t, []int64{99, 98, 97}, []int64{failed[0].ID, failed[1].ID, failed[2].ID})
	n, _ = FailuresInARow(ts(wire.StateFinished, wire.StateFailed))
	require.Zero(t, n)
	n, _ = FailuresInARow(nil)
	require.Zero(t, n)
}
