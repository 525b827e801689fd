package frameworks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// A schedule's edit form, sent as shown, gives back the schedule's spec.
func TestScheduleFormOfRoundTrips(t *testing.T) {
	t.Parallel()
	three := 3
	for _, spec := range []wire.ScheduleSpec{
		{Interval: "90s", TimeZone: "UTC", Params: map[string]string{"n": "5", "url": "http://x/?a=b"}, Branch: "main",
			Commit: "abc123", Overlap: "skip", CatchupWindow: "30m", Priority: "high", PauseAfterFailures: &three, Description: "nightly"},
		{Cron: "0 3 * * 1-5", TimeZone: "Europe/Paris", Params: map[string]string{}, Overlap: "buffer_one",
			CatchupWindow: "1h0m0s", Priority: "low", PauseAfterFailures: &three},
	} {
		f := scheduleFormOf(&wire.Schedule{ID: 7, ScheduleSpec: spec})
		got, err := f.spec()
		require.NoError(t, err)
		require.Equal(t, spec, got)
	}
	cal := scheduleFormOf(&wire.Schedule{ID: 7, ScheduleSpec: wire.ScheduleSpec{Calendar: &wire.ScheduleCalendar{Hour: "3", DayOfWeek: "MON-FRI"}}})
	require.Equal(t, "cron", cal.When)
	require.Equal(t, "0 0 3 * * MON-FRI *", cal.Cron, "a calendar spec edits as its 7-field cron expression")
	require.Equal(t, "schedule-7-cron", cal.fieldID("cron"))
	require.Equal(t, "schedule-cron", newScheduleForm().fieldID("cron"), "the new schedule's form keeps its ids")
}

// The backfill form's times are the schedule's time zone's.
func TestBackfillFormPeriod(t *testing.T) {
	t.Parallel()
	f := &backfillForm{Start: "2026-03-01T02:30", End: "2026-03-01T04:00:30"}
	start, end, err := f.period("Europe/Paris")
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 3, 1, 1, 30, 0, 0, time.UTC), start.UTC())
	require.Equal(t, time.Date(2026, 3, 1, 3, 0, 30, 0, time.UTC), end.UTC())

	f = &backfillForm{Start: "2026-03-01T02:30:00Z", End: "yesterday"}
	start, _, err = f.period("UTC")
	require.Error(t, err)
	require.Contains(t, err.Error(), `end "yesterday" is not a date and time`)
	require.True(t, start.Equal(time.Date(2026, 3, 1, 2, 30, 0, 0, time.UTC)))

	sc := &wire.Schedule{ID: 4, ScheduleSpec: wire.ScheduleSpec{TimeZone: "America/New_York"}}
	def := newBackfillForm(sc, time.Date(2026, 11, 26, 13, 51, 20, 0, time.UTC))
	require.Equal(t, &backfillForm{ID: 4, Start: "2026-11-25T08:51", End: "2026-11-26T08:51"}, def)
}
