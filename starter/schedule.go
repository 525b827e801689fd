package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/wire"
)

// scheduleCommands are the subcommands of starter schedule.
var scheduleCommands = []string{"list", "show", "create", "update", "pause", "resume", "trigger", "backfill", "delete"}

// specFlags are the flags that set a schedule's spec.
type specFlags struct {
	cron, interval, timezone, branch, commit, overlap, catchup, description, priority *string
	params, calendar                                                                  pairs
	pauseAfter                                                                        *int
}

func addSpecFlags(fs *flag.FlagSet) *specFlags {
	f := &specFlags{params: pairs{}, calendar: pairs{}}
	f.cron = fs.String("cron", "", `cron expression: "0 3 * * *", 7 fields for seconds, or @daily`)
	f.interval = fs.String("interval", "", "run every DURATION (30s, 15m, 24h) instead of a cron expression")
	fs.Var(f.calendar, "calendar", "calendar field FIELD=VALUE (second, minute, hour, day_of_month, month, day_of_week, year; repeatable)")
	f.timezone = fs.String("timezone", "", "IANA time zone of the cron or calendar spec (default UTC)")
	fs.Var(f.params, "p", "parameter NAME=VALUE (repeatable)")
	f.branch = fs.String("branch", "", "branch of the scheduled tests")
	f.commit = fs.String("commit", "", "commit of the scheduled tests")
	f.overlap = fs.String("overlap", "", "when a run is due while the last one goes: buffer_one (default), skip, buffer_all, cancel_other, terminate_other, allow_all")
	f.catchup = fs.String("catchup-window", "", "how late a missed run may still start (default 1h)")
	f.pauseAfter = fs.Int("pause-after-failures", -1, "pause after N failed runs in a row (default 3; 0 never)")
	f.description = fs.String("description", "", "what the schedule is for")
	f.priority = fs.String("priority", "", "the scheduled tests' priority: low (default), normal or high")
	return f
}

// apply sets the flags that were given on spec.
func (f *specFlags) apply(fs *flag.FlagSet, spec *wire.ScheduleSpec) {
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "cron":
			spec.Cron, spec.Interval, spec.Calendar = *f.cron, "", nil
		case "interval":
			spec.Cron, spec.Interval, spec.Calendar = "", *f.interval, nil
		case "calendar":
			c := wire.ScheduleCalendar{Second: f.calendar["second"], Minute: f.calendar["minute"], Hour: f.calendar["hour"],
				DayOfMonth: f.calendar["day_of_month"], Month: f.calendar["month"], DayOfWeek: f.calendar["day_of_week"], Year: f.calendar["year"]}
			spec.Cron, spec.Interval, spec.Calendar = "", "", &c
		case "timezone":
			spec.TimeZone = *f.timezone
		case "p":
			if spec.Params == nil {
				spec.Params = map[string]string{}
			}
			for k, v := range f.params {
				spec.Params[k] = v
			}
		case "branch":
			spec.Branch = *f.branch
		case "commit":
			spec.Commit = *f.commit
		case "overlap":
			spec.Overlap = *f.overlap
		case "catchup-window":
			spec.CatchupWindow = *f.catchup
		case "pause-after-failures":
			n := *f.pauseAfter
			spec.PauseAfterFailures = &n
		case "description":
			spec.Description = *f.description
		case "priority":
			spec.Priority = *f.priority
		}
	})
}

// scheduleID reads a subcommand's single positional schedule ID.
func scheduleID(cmd string, pos []string) (int64, error) {
	if len(pos) != 1 {
		return 0, usageErr("%s needs exactly one schedule ID", cmd)
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErr("%s: schedule ID %q is not a positive number", cmd, pos[0])
	}
	return id, nil
}

func (c *cli) scheduleList(ctx context.Context, args []string) error {
	fs := c.newFlags("schedule list")
	team := fs.String("team", "", "the framework's team")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("schedule list takes exactly one framework name")
	}
	var list wire.List[wire.Schedule]
	path := "/api/v1/frameworks/" + url.PathEscape(pos[0]) + "/schedules?team=" + url.QueryEscape(*team)
	if err := c.do(ctx, http.MethodGet, path, "", nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(list)
	}
	if len(list.Items) == 0 {
		fmt.Fprintf(c.stdout, "framework %s has no schedules\n", pos[0])
	}
	for _, sc := range list.Items {
		c.printSchedule(sc)
	}
	return nil
}

func (c *cli) scheduleShow(ctx context.Context, args []string) error {
	fs := c.newFlags("schedule show")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := scheduleID("schedule show", pos)
	if err != nil {
		return err
	}
	var sc wire.Schedule
	if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/schedules/%d", id), "", nil, &sc); err != nil {
		return err
	}
	return c.showSchedule(sc, *asJSON, "")
}

func (c *cli) scheduleCreate(ctx context.Context, args []string) error {
	fs := c.newFlags("schedule create")
	team := fs.String("team", "", "the framework's team")
	asJSON := fs.Bool("json", false, "print JSON")
	sf := addSpecFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("schedule create takes exactly one framework name")
	}
	var spec wire.ScheduleSpec
	sf.apply(fs, &spec)
	body, _ := json.Marshal(spec)
	var sc wire.Schedule
	path := "/api/v1/frameworks/" + url.PathEscape(pos[0]) + "/schedules?team=" + url.QueryEscape(*team)
	if err := c.do(ctx, http.MethodPost, path, "application/json", body, &sc); err != nil {
		return err
	}
	return c.showSchedule(sc, *asJSON, "created")
}

// scheduleUpdate changes what its flags say and keeps the rest.
func (c *cli) scheduleUpdate(ctx context.Context, args []string) error {
	fs := c.newFlags("schedule update")
	asJSON := fs.Bool("json", false, "print JSON")
	sf := addSpecFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := scheduleID("schedule update", pos)
	if err != nil {
		return err
	}
	var sc wire.Schedule
	path := fmt.Sprintf("/api/v1/schedules/%d", id)
	if err := c.do(ctx, http.MethodGet, path, "", nil, &sc); err != nil {
		return err
	}
	spec := sc.ScheduleSpec
	sf.apply(fs, &spec)
	body, _ := json.Marshal(spec)
	var updated wire.Schedule
	if err := c.do(ctx, http.MethodPut, path, "application/json", body, &updated); err != nil {
		return err
	}
	return c.showSchedule(updated, *asJSON, "updated")
}

// scheduleAct is pause, resume, trigger and delete.
func (c *cli) scheduleAct(action string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		fs := c.newFlags("schedule " + action)
		asJSON := fs.Bool("json", false, "print JSON")
		var note *string
		if action == "pause" || action == "resume" {
			note = fs.String("note", "", "why")
		}
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		id, err := scheduleID("schedule "+action, pos)
		if err != nil {
			return err
		}
		path := fmt.Sprintf("/api/v1/schedules/%d", id)
		if action == "delete" {
			if err := c.do(ctx, http.MethodDelete, path, "", nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "schedule %d deleted\n", id)
			return nil
		}
		var body []byte
		if note != nil && *note != "" {
			body, _ = json.Marshal(wire.SchedulePause{Note: *note})
		}
		var sc wire.Schedule
		if err := c.do(ctx, http.MethodPost, path+"/"+action, "application/json", body, &sc); err != nil {
			return err
		}
		did := map[string]string{"pause": "paused", "resume": "resumed", "trigger": "triggered"}[action]
		return c.showSchedule(sc, *asJSON, did)
	}
}

// scheduleBackfill runs the runs a schedule had due in a past period.
func (c *cli) scheduleBackfill(ctx context.Context, args []string) error {
	fs := c.newFlags("schedule backfill")
	asJSON := fs.Bool("json", false, "print JSON")
	start := fs.String("start", "", "the period's start, RFC 3339 (2026-01-02T03:00:00Z)")
	end := fs.String("end", "", "the period's end, RFC 3339, not after now")
	overlap := fs.String("overlap", "", "how the period's runs overlap: buffer_all (default: one after another), allow_all, skip...")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := scheduleID("schedule backfill", pos)
	if err != nil {
		return err
	}
	if *start == "" || *end == "" {
		return usageErr("schedule backfill needs --start and --end (RFC 3339 times such as 2026-01-02T03:00:00Z)")
	}
	body, _ := json.Marshal(wire.ScheduleBackfill{Start: *start, End: *end, Overlap: *overlap})
	var sc wire.Schedule
	if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/schedules/%d/backfill", id), "application/json", body, &sc); err != nil {
		return err
	}
	return c.showSchedule(sc, *asJSON, fmt.Sprintf("backfilled from %s to %s", *start, *end))
}

func (c *cli) showSchedule(sc wire.Schedule, asJSON bool, did string) error {
	if asJSON {
		return c.printJSON(sc)
	}
	if did != "" {
		fmt.Fprintf(c.stdout, "schedule %d %s\n", sc.ID, did)
	}
	c.printSchedule(sc)
	return nil
}

// printSchedule prints a schedule as the framework page shows it.
func (c *cli) printSchedule(sc wire.Schedule) {
	state := "active"
	if sc.Paused {
		state = "paused"
	}
	fmt.Fprintf(c.stdout, "schedule %d of %s (team %s): %s\n", sc.ID, sc.Framework, sc.Team, sc.Summary())
	pause := "never pauses itself"
	if sc.PauseAfterFailures != nil && *sc.PauseAfterFailures > 0 {
		pause = fmt.Sprintf("pauses after %d failed runs in a row", *sc.PauseAfterFailures)
	}
	fmt.Fprintf(c.stdout, "  %s · priority %s · overlap %s · catch-up window %s · %s\n", state, sc.Priority, sc.Overlap, sc.CatchupWindow, pause)
	if sc.Note != "" {
		fmt.Fprintf(c.stdout, "  note: %s\n", sc.Note)
	}
	if sc.Error != "" {
		fmt.Fprintf(c.stdout, "  error: %s\n", sc.Error)
	}
	var next []string
	for i, t := range sc.NextRuns {
		if i == 5 {
			break
		}
		next = append(next, t.UTC().Format(time.RFC3339))
	}
	if sc.Paused || len(next) == 0 {
		next = []string{"none"}
	}
	fmt.Fprintf(c.stdout, "  next runs: %s\n", strings.Join(next, ", "))
	fmt.Fprintf(c.stdout, "  runs %d · running %d · buffered %d · missed (catch-up window) %d · skipped (overlap) %d · dropped (buffer full) %d · failed in a row %d\n",
		sc.Runs, sc.Running, sc.Buffered, sc.MissedCatchupWindow, sc.OverlapSkipped, sc.BufferDropped, sc.FailuresInARow)
	if len(sc.Tests) > 0 {
		var ts []string
		for _, t := range sc.Tests {
			ts = append(ts, fmt.Sprintf("#%d %s", t.ID, t.State))
		}
		fmt.Fprintf(c.stdout, "  latest tests: %s\n", strings.Join(ts, ", "))
	}
}
