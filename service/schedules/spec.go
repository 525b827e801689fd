package schedules

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// Plan is a checked spec as Temporal takes it.
type Plan struct {
	Spec          client.ScheduleSpec
	Overlap       enums.ScheduleOverlapPolicy
	CatchupWindow time.Duration
}

var (
	cronFieldRE = regexp.MustCompile(`^[0-9A-Za-z*/,?-]{1,100}$`)
	cronNamedRE = regexp.MustCompile(`^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$`)
)

// Check validates a spec against its framework, fills in its defaults
// (in place, so what is stored says what runs) and returns what Temporal
// is to be given. Each refusal names its field.
func Check(info *wire.FrameworkInfo, spec *wire.ScheduleSpec) (*Plan, error) {
	*spec = Defaults(*spec)
	if len(spec.Description) > 200 || !lineRE.MatchString(spec.Description) {
		return nil, service.InvalidField("description", "description must be one line of at most 200 bytes")
	}
	plan := &Plan{Spec: client.ScheduleSpec{TimeZoneName: spec.TimeZone}}
	given := 0
	for _, set := range []bool{spec.Cron != "", spec.Calendar != nil, spec.Interval != ""} {
		if set {
			given++
		}
	}
	if given != 1 {
		return nil, service.InvalidField("cron", "give exactly one of cron, calendar and interval")
	}
	switch {
	case spec.Cron != "":
		if err := checkCron(spec.Cron); err != nil {
			return nil, err
		}
		plan.Spec.CronExpressions = []string{spec.Cron}
	case spec.Calendar != nil:
		cron, err := calendarCron(spec.Calendar)
		if err != nil {
			return nil, err
		}
		plan.Spec.CronExpressions = []string{cron}
	default:
		every, err := time.ParseDuration(spec.Interval)
		if err != nil || every < MinInterval || every > 366*24*time.Hour || every%time.Second != 0 {
			return nil, service.InvalidField("interval", fmt.Sprintf("interval %q must be a whole number of seconds from 1s to 366 days, such as 30s, 15m or 24h", spec.Interval))
		}
		plan.Spec.Intervals = []client.ScheduleIntervalSpec{{Every: every}}
	}
	if spec.TimeZone == "Local" || len(spec.TimeZone) > 100 {
		return nil, service.InvalidField("timezone", fmt.Sprintf("time zone %q must be an IANA name such as Europe/Paris or UTC", spec.TimeZone))
	}
	if _, err := time.LoadLocation(spec.TimeZone); err != nil {
		return nil, service.InvalidField("timezone", fmt.Sprintf("unknown time zone %q: give an IANA name such as Europe/Paris or UTC", spec.TimeZone))
	}
	if _, err := info.ResolveParams(spec.Params); err != nil {
		return nil, service.FrameworkInvalid(err, "")
	}
	for field, v := range map[string]string{"commit": spec.Commit, "branch": spec.Branch} {
		if len(v) > 255 || !lineRE.MatchString(v) {
			return nil, service.InvalidField(field, field+" must be one line of at most 255 bytes")
		}
	}
	if !wire.ValidPriority(spec.Priority) {
		return nil, service.InvalidField("priority", fmt.Sprintf("priority %q must be one of %s", spec.Priority, strings.Join(wire.Priorities, ", ")))
	}
	var ok bool
	if plan.Overlap, ok = Overlaps[spec.Overlap]; !ok {
		return nil, service.InvalidField("overlap", fmt.Sprintf("overlap %q must be one of %s", spec.Overlap, strings.Join(OverlapNames, ", ")))
	}
	w, err := time.ParseDuration(spec.CatchupWindow)
	if err != nil || w < MinCatchupWindow || w > MaxCatchupWindow {
		return nil, service.InvalidField("catchup_window", fmt.Sprintf("catchup_window %q must be a duration from 10s to 720h (30 days)", spec.CatchupWindow))
	}
	plan.CatchupWindow = w
	if n := *spec.PauseAfterFailures; n < 0 || n > MaxPauseAfterFailures {
		return nil, service.InvalidField("pause_after_failures", fmt.Sprintf("pause_after_failures must be from 0 (never pause) to %d", MaxPauseAfterFailures))
	}
	return plan, nil
}

// checkCron checks a cron expression's shape; Temporal checks the rest
// when it is given the schedule.
func checkCron(cron string) error {
	bad := func(why string) error {
		return service.InvalidField("cron", fmt.Sprintf("cron %q %s; write 5 fields (minute hour day-of-month month day-of-week, such as \"0 3 * * *\"), 6 (and year), 7 (second first) or @daily, @hourly...", cron, why))
	}
	if len(cron) > 200 || !lineRE.MatchString(cron) {
		return bad("is not one short line")
	}
	if strings.Contains(cron, "TZ=") {
		return bad("names a time zone: give it as timezone instead")
	}
	if strings.HasPrefix(cron, "@every") {
		return bad("is an interval: give it as interval instead")
	}
	if strings.HasPrefix(cron, "@") {
		if !cronNamedRE.MatchString(cron) {
			return bad("is not a known shorthand")
		}
		return nil
	}
	fields := strings.Fields(cron)
	if len(fields) < 5 || len(fields) > 7 {
		return bad(fmt.Sprintf("has %d fields", len(fields)))
	}
	for _, f := range fields {
		if !cronFieldRE.MatchString(f) {
			return bad(fmt.Sprintf("has a field %q that is not numbers, names, *, /, - and commas", f))
		}
	}
	return nil
}

// calendarCron is a calendar spec as a 7-field cron expression (second
// first), which Temporal turns back into a calendar spec.
func calendarCron(c *wire.ScheduleCalendar) (string, error) {
	for _, f := range c.Fields() {
		if !cronFieldRE.MatchString(f[1]) {
			return "", service.InvalidField("calendar."+f[0], fmt.Sprintf("calendar.%s %q must be in cron syntax: numbers, names, *, /, - and commas", f[0], f[1]))
		}
	}
	return c.Cron(), nil
}

// Defaults is spec with its defaults filled in.
func Defaults(spec wire.ScheduleSpec) wire.ScheduleSpec {
	if spec.TimeZone == "" {
		spec.TimeZone = "UTC"
	}
	if spec.Overlap == "" {
		spec.Overlap = DefaultOverlap
	}
	if spec.CatchupWindow == "" {
		spec.CatchupWindow = DefaultCatchupWindow.String()
	}
	if spec.Priority == "" {
		spec.Priority = wire.PriorityLow
	}
	if spec.PauseAfterFailures == nil {
		n := DefaultPauseAfterFailures
		spec.PauseAfterFailures = &n
	}
	if spec.Params == nil {
		spec.Params = map[string]string{}
	}
	return spec
}

// Describe says when a spec fires and what it runs, for people and the
// audit log.
func Describe(spec wire.ScheduleSpec) string { return spec.Summary() }
