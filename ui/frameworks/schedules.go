package frameworks

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/service/schedules"
	"github.com/pitwall/pitwall/ui/httperr"
)

// scheduleForm is the framework page's form for a schedule, as typed: the
// new schedule's, or the edit form on a schedule's card.
type scheduleForm struct {
	// ID is the schedule the form edits (0: a new one).
	ID                                                        int64
	When, Cron, Interval, TimeZone, Params, Branch, Commit    string
	Overlap, CatchupWindow, PauseAfter, Description, Priority string
	// Error is the refusal of the last submission, Field the field it names.
	Error, Field string
}

// newScheduleForm is the new schedule's form before anything is typed.
func newScheduleForm() *scheduleForm {
	return &scheduleForm{When: "cron", Cron: "0 3 * * *", TimeZone: "UTC", Overlap: schedules.DefaultOverlap,
		CatchupWindow: schedules.DefaultCatchupWindow.String(), PauseAfter: strconv.Itoa(schedules.DefaultPauseAfterFailures),
		Priority: wire.PriorityLow}
}

// scheduleFormOf is the edit form of sc, holding its spec. The form has no
// calendar: a calendar spec shows as the 7-field cron expression it is.
func scheduleFormOf(sc *wire.Schedule) *scheduleForm {
	f := &scheduleForm{ID: sc.ID, When: "cron", Cron: sc.Cron, Interval: sc.Interval, TimeZone: sc.TimeZone,
		Branch: sc.Branch, Commit: sc.Commit, Overlap: sc.Overlap, CatchupWindow: sc.CatchupWindow,
		Description: sc.Description, Priority: sc.Priority}
	switch {
	case sc.Interval != "":
		f.When = "interval"
	case sc.Calendar != nil:
		f.Cron = sc.Calendar.Cron()
	}
	if sc.PauseAfterFailures != nil {
		f.PauseAfter = strconv.Itoa(*sc.PauseAfterFailures)
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(sc.Params)) {
		lines = append(lines, k+"="+sc.Params[k])
	}
	f.Params = strings.Join(lines, "\n")
	return f
}

// parseScheduleForm reads a posted schedule form.
func parseScheduleForm(r *http.Request) *scheduleForm {
	return &scheduleForm{When: r.PostFormValue("when"), Cron: r.PostFormValue("cron"), Interval: r.PostFormValue("interval"),
		TimeZone: r.PostFormValue("timezone"), Params: r.PostFormValue("params"), Branch: r.PostFormValue("branch"),
		Commit: r.PostFormValue("commit"), Overlap: r.PostFormValue("overlap"), CatchupWindow: r.PostFormValue("catchup_window"),
		PauseAfter: r.PostFormValue("pause_after_failures"), Description: r.PostFormValue("description"),
		Priority: r.PostFormValue("priority")}
}

// fieldID is the HTML id of one of the form's elements: schedule-NAME on
// the new schedule's form, schedule-ID-NAME on schedule ID's edit form.
func (f *scheduleForm) fieldID(name string) string {
	if f.ID == 0 {
		return "schedule-" + name
	}
	return fmt.Sprintf("schedule-%d-%s", f.ID, name)
}

// formID is the HTML id of the form.
func (f *scheduleForm) formID() string {
	if f.ID == 0 {
		return "new-schedule"
	}
	return fmt.Sprintf("schedule-%d-form", f.ID)
}

// spec turns the form into a schedule spec; a malformed line of
// parameters is refused with its field.
func (f *scheduleForm) spec() (wire.ScheduleSpec, error) {
	spec := wire.ScheduleSpec{Description: strings.TrimSpace(f.Description), TimeZone: strings.TrimSpace(f.TimeZone),
		Branch: strings.TrimSpace(f.Branch), Commit: strings.TrimSpace(f.Commit), Overlap: f.Overlap, Priority: f.Priority,
		CatchupWindow: strings.TrimSpace(f.CatchupWindow), Params: map[string]string{}}
	if f.When == "interval" {
		spec.Interval = strings.TrimSpace(f.Interval)
	} else {
		spec.Cron = strings.TrimSpace(f.Cron)
	}
	for _, line := range strings.Split(f.Params, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return spec, service.InvalidField("params", fmt.Sprintf("parameter line %q must be NAME=VALUE", line))
		}
		spec.Params[strings.TrimSpace(k)] = v
	}
	if s := strings.TrimSpace(f.PauseAfter); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return spec, service.InvalidField("pause_after_failures", fmt.Sprintf("pause after failures %q is not a number", s))
		}
		spec.PauseAfterFailures = &n
	}
	return spec, nil
}

// backfillForm is a schedule card's form that runs the runs of a past
// period, as typed: times of the schedule's time zone, as a browser's
// datetime-local input sends them.
type backfillForm struct {
	ID           int64
	Start, End   string
	Error, Field string
}

// newBackfillForm is sc's backfill form before anything is typed: the
// last day, in the schedule's time zone.
func newBackfillForm(sc *wire.Schedule, now time.Time) *backfillForm {
	if loc, err := time.LoadLocation(sc.TimeZone); err == nil {
		now = now.In(loc)
	}
	end := now.Truncate(time.Minute)
	return &backfillForm{ID: sc.ID, Start: end.Add(-24 * time.Hour).Format(localMinute), End: end.Format(localMinute)}
}

// localMinute and localSecond are the formats of a datetime-local input.
const (
	localMinute = "2006-01-02T15:04"
	localSecond = "2006-01-02T15:04:05"
)

// period reads the form's times in time zone zone (or as RFC 3339 times).
func (f *backfillForm) period(zone string) (start, end time.Time, err error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return start, end, service.InvalidField("start", fmt.Sprintf("the schedule's time zone %q is unknown here", zone))
	}
	read := func(field, s string) (time.Time, error) {
		s = strings.TrimSpace(s)
		for _, layout := range []string{localMinute, localSecond} {
			if t, err := time.ParseInLocation(layout, s, loc); err == nil {
				return t, nil
			}
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
		return time.Time{}, service.InvalidField(field, fmt.Sprintf("%s %q is not a date and time such as 2026-01-02T03:00", field, s))
	}
	if start, err = read("start", f.Start); err != nil {
		return start, end, err
	}
	end, err = read("end", f.End)
	return start, end, err
}

func (h *Handler) scheduleCreate(w http.ResponseWriter, r *http.Request) {
	f := parseScheduleForm(r)
	spec, err := f.spec()
	var sc *wire.Schedule
	if err == nil {
		sc, err = h.Schedules.Create(r.Context(), r.URL.Query().Get("team"), r.PathValue("name"), spec)
	}
	if err != nil {
		f.Error, f.Field = httperr.Message(err), httperr.Field(err)
		h.scheduleRefused(w, r, err, ref(r), &pageModel{ScheduleForm: f})
		return
	}
	h.scheduleDone(w, r, sc, "created")
}

// scheduleEdit saves a schedule's edit form: its spec and policies.
func (h *Handler) scheduleEdit(w http.ResponseWriter, r *http.Request) {
	id := pathID(r)
	f := parseScheduleForm(r)
	f.ID = id
	spec, err := f.spec()
	var sc *wire.Schedule
	if err == nil {
		sc, err = h.Schedules.Update(r.Context(), id, spec)
	}
	if err != nil {
		f.Error, f.Field = httperr.Message(err), httperr.Field(err)
		h.scheduleRefusedOn(w, r, err, id, &pageModel{EditForm: f})
		return
	}
	h.scheduleDone(w, r, sc, "changed")
}

// scheduleBackfill runs the runs of the past period its form gives, in
// the schedule's time zone.
func (h *Handler) scheduleBackfill(w http.ResponseWriter, r *http.Request) {
	id := pathID(r)
	f := &backfillForm{ID: id, Start: r.PostFormValue("start"), End: r.PostFormValue("end")}
	sc, err := h.Schedules.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	start, end, err := f.period(sc.TimeZone)
	runs := 0
	if err == nil {
		_, runs, err = h.Schedules.Backfill(r.Context(), id, start, end, "")
	}
	if err != nil {
		f.Error, f.Field = httperr.Message(err), httperr.Field(err)
		h.scheduleRefused(w, r, err, frameworks.Ref{Team: sc.Team, Name: sc.Framework}, &pageModel{BackfillForm: f})
		return
	}
	h.scheduleDone(w, r, sc, "backfilled", "runs="+strconv.Itoa(runs))
}

// pathID is the schedule ID of the path (0 when it is not a number: the
// service refuses it).
func pathID(r *http.Request) int64 {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id
}

// scheduleRefusedOn answers the refusal of schedule id's form, on its
// framework's page.
func (h *Handler) scheduleRefusedOn(w http.ResponseWriter, r *http.Request, err error, id int64, m *pageModel) {
	sc, gerr := h.Schedules.Get(r.Context(), id)
	if gerr != nil {
		h.fail(w, r, gerr)
		return
	}
	h.scheduleRefused(w, r, err, frameworks.Ref{Team: sc.Team, Name: sc.Framework}, m)
}

// scheduleRefused answers the refusal of a schedule's form: bad input is
// said on the framework page, the form as typed (m holds it); anything
// else, and bad input from someone the page shows no form to, on the
// error page.
func (h *Handler) scheduleRefused(w http.ResponseWriter, r *http.Request, err error, fw frameworks.Ref, m *pageModel) {
	status := httperr.Status(err)
	if status != http.StatusBadRequest {
		h.fail(w, r, err)
		return
	}
	info, gerr := h.Frameworks.Get(r.Context(), fw)
	if gerr != nil {
		h.fail(w, r, gerr)
		return
	}
	if !schedules.MayChange(r.Context(), info.Team) {
		h.fail(w, r, err)
		return
	}
	m.Info = info
	h.render(w, r, status, m)
}

// scheduleDone sends the browser back to the schedule's framework page,
// which says what was done (did; extra query parameters say more).
func (h *Handler) scheduleDone(w http.ResponseWriter, r *http.Request, sc *wire.Schedule, did string, extra ...string) {
	q := fmt.Sprintf("&schedule=%d&did=%s", sc.ID, did)
	for _, e := range extra {
		q += "&" + e
	}
	http.Redirect(w, r, frameworkURL(sc.Framework, sc.Team)+q+fmt.Sprintf("#schedule-%d", sc.ID), http.StatusSeeOther)
}

// scheduleAction is a button of a schedule: pause, resume, trigger or delete.
func (h *Handler) scheduleAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h.scheduleDo(w, r, action) }
}

func (h *Handler) scheduleDo(w http.ResponseWriter, r *http.Request, did string) {
	id := pathID(r)
	ctx := r.Context()
	var (
		sc  *wire.Schedule
		err error
	)
	switch did {
	case "pause":
		sc, err = h.Schedules.Pause(ctx, id, r.PostFormValue("note"))
		did = "paused"
	case "resume":
		sc, err = h.Schedules.Resume(ctx, id, r.PostFormValue("note"))
		did = "resumed"
	case "trigger":
		sc, err = h.Schedules.Trigger(ctx, id)
		did = "triggered"
	case "delete":
		if sc, err = h.Schedules.Get(ctx, id); err == nil {
			err = h.Schedules.Delete(ctx, id)
		}
		did = "deleted"
	default:
		h.problem(w, r, http.StatusNotFound, "no such page")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.scheduleDone(w, r, sc, did)
}

// scheduleNotice is what the page says after a schedule's form or button.
func scheduleNotice(q url.Values) string {
	id, _ := strconv.ParseInt(q.Get("schedule"), 10, 64)
	switch did := q.Get("did"); did {
	case "created", "changed", "paused", "resumed", "triggered", "deleted":
		return fmt.Sprintf("schedule %d %s", id, did)
	case "backfilled":
		n, _ := strconv.Atoi(q.Get("runs"))
		runs := fmt.Sprintf("%d runs", n)
		if n == 1 {
			runs = "1 run"
		}
		return fmt.Sprintf("schedule %d backfilled: it runs the %s due in the period, one after another", id, runs)
	}
	return ""
}
