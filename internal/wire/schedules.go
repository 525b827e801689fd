package wire

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// ScheduleSpec is what a schedule asks for, as its creator gives it
// (POST /api/v1/frameworks/{name}/schedules, PUT /api/v1/schedules/{id}):
// when (one of cron, calendar or interval), in which time zone, and the
// test it runs.
type ScheduleSpec struct {
	// Description says what the schedule is for, for people.
	Description string `json:"description,omitempty"`
	// Cron is a cron expression: 5 fields (minute hour day-of-month month
	// day-of-week), 6 (with year) or 7 (second first), or @daily and friends.
	Cron string `json:"cron,omitempty"`
	// Calendar is a calendar spec: each field in cron syntax.
	Calendar *ScheduleCalendar `json:"calendar,omitempty"`
	// Interval is a period such as "30m" or "2s", counted from the Unix epoch.
	Interval string `json:"interval,omitempty"`
	// TimeZone is the IANA time zone cron and calendar specs are read in
	// (default UTC).
	TimeZone string `json:"timezone,omitempty"`
	// Params, Branch and Commit are those of each test the schedule runs.
	Params map[string]string `json:"params,omitempty"`
	Branch string            `json:"branch,omitempty"`
	Commit string            `json:"commit,omitempty"`
	// Overlap is what happens when a run is due while the last one is still
	// going: skip, buffer_one (the default), buffer_all, cancel_other,
	// terminate_other or allow_all.
	Overlap string `json:"overlap,omitempty"`
	// CatchupWindow is how late a run may still start after Temporal was
	// unavailable (default 1h, 10s to 30 days).
	CatchupWindow string `json:"catchup_window,omitempty"`
	// Priority is the scheduled tests' priority in their hosts' queues
	// (default low: scheduled runs yield to people and pull requests).
	Priority string `json:"priority,omitempty"`
	// PauseAfterFailures pauses the schedule after that many failed runs
	// in a row (nil: 3; 0: never).
	PauseAfterFailures *int `json:"pause_after_failures,omitempty"`
}

// ScheduleCalendar is a calendar spec, each field in cron syntax ("*",
// "0", "1-5", "*/15", "MON-FRI"); a field left out is "*" but for second
// and minute, which default to 0.
type ScheduleCalendar struct {
	Second     string `json:"second,omitempty"`
	Minute     string `json:"minute,omitempty"`
	Hour       string `json:"hour,omitempty"`
	DayOfMonth string `json:"day_of_month,omitempty"`
	Month      string `json:"month,omitempty"`
	DayOfWeek  string `json:"day_of_week,omitempty"`
	Year       string `json:"year,omitempty"`
}

// Schedule is a schedule as the API shows it: its spec with defaults
// filled in, and what Temporal, which owns it, says of it.
type Schedule struct {
	ID        int64  `json:"id"`
	Team      string `json:"team"`
	Framework string `json:"framework"`
	ScheduleSpec
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// TemporalID is the schedule's ID in Temporal.
	TemporalID string `json:"temporal_id"`
	// Paused says the schedule takes no action; Note says why (who paused
	// it, or the failures that did).
	Paused bool   `json:"paused"`
	Note   string `json:"note,omitempty"`
	// NextRuns are the next times the schedule fires (up to 10).
	NextRuns []time.Time `json:"next_runs"`
	// Runs counts the runs the schedule started; MissedCatchupWindow the
	// runs missed because they were later than the catch-up window;
	// OverlapSkipped the runs skipped because the last one was still going;
	// BufferDropped the runs dropped because the buffer was full; Buffered
	// the runs waiting in the buffer now; Running the runs going now.
	Runs                int64 `json:"runs"`
	MissedCatchupWindow int64 `json:"missed_catchup_window"`
	OverlapSkipped      int64 `json:"overlap_skipped"`
	BufferDropped       int64 `json:"buffer_dropped"`
	Buffered            int64 `json:"buffered"`
	Running             int   `json:"running"`
	// FailuresInARow counts the latest tests that failed, were aborted or
	// timed out, up to the latest that finished.
	FailuresInARow int `json:"failures_in_a_row"`
	// Tests are the schedule's latest tests, newest first.
	Tests []ScheduleTest `json:"tests"`
	// Error says Temporal could not be asked (the rest is this table's).
	Error string `json:"error,omitempty"`
}

// ScheduleTest is one of a schedule's tests.
type ScheduleTest struct {
	ID      int64     `json:"id"`
	State   string    `json:"state"`
	Verdict string    `json:"verdict,omitempty"`
	Created time.Time `json:"created_at"`
	URL     string    `json:"url"`
}

// SchedulePause is the body of POST /api/v1/schedules/{id}/pause and
// /resume (both optional).
type SchedulePause struct {
	Note string `json:"note,omitempty"`
}

// Fields are the calendar's fields in cron order (second first), each
// with its name and its value or default: 0 for second and minute, * for
// the rest.
func (c ScheduleCalendar) Fields() [7][2]string {
	or := func(v, def string) string {
		if v = strings.TrimSpace(v); v == "" {
			return def
		}
		return v
	}
	return [7][2]string{
		{"second", or(c.Second, "0")}, {"minute", or(c.Minute, "0")}, {"hour", or(c.Hour, "*")},
		{"day_of_month", or(c.DayOfMonth, "*")}, {"month", or(c.Month, "*")},
		{"day_of_week", or(c.DayOfWeek, "*")}, {"year", or(c.Year, "*")},
	}
}

// Cron is the calendar as a 7-field cron expression (second first).
func (c ScheduleCalendar) Cron() string {
	var parts []string
	for _, f := range c.Fields() {
		parts = append(parts, f[1])
	}
	return strings.Join(parts, " ")
}

// Summary says when a spec fires and what it runs, in one line.
func (spec ScheduleSpec) Summary() string {
	var when string
	switch {
	case spec.Cron != "":
		when = "cron " + spec.Cron
	case spec.Calendar != nil:
		when = "calendar " + spec.Calendar.Cron()
	default:
		when = "every " + spec.Interval
	}
	if spec.TimeZone != "" && spec.TimeZone != "UTC" && spec.Interval == "" {
		when += " (" + spec.TimeZone + ")"
	}
	keys := make([]string, 0, len(spec.Params))
	for k := range spec.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		when += fmt.Sprintf(" %s=%s", k, spec.Params[k])
	}
	if spec.Branch != "" {
		when += " on " + spec.Branch
	}
	return when
}

// ScheduleBackfill is the body of POST /api/v1/schedules/{id}/backfill:
// the past period whose runs to run (RFC 3339 times, both included) and
// the overlap policy among them (default buffer_all: one after another).
type ScheduleBackfill struct {
	Start   string `json:"start"`
	End     string `json:"end"`
	Overlap string `json:"overlap,omitempty"`
}
