package frameworks

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/ui/httperr"
)

// scheduleForm is the framework page's form for a new schedule, as typed.
type scheduleForm struct {
	When, Cron, Interval, TimeZone, Params, Branch            string
	Overlap, CatchupWindow, PauseAfter, Description, Priority string
	// Error is the refusal of the last submission, Field the field it names.
	Error, Field string
}

// spec turns the form into a schedule spec; a malformed line of
// parameters is refused with its field.
func (f *scheduleForm) spec() (wire.ScheduleSpec, error) {
	spec := wire.ScheduleSpec{Description: strings.TrimSpace(f.Description), TimeZone: strings.TrimSpace(f.TimeZone),
		Branch: strings.TrimSpace(f.Branch), Overlap: f.Overlap, Priority: f.Priority, CatchupWindow: strings.TrimSpace(f.CatchupWindow),
		Params: map[string]string{}}
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

func (h *Handler) scheduleCreate(w http.ResponseWriter, r *http.Request) {
	f := &scheduleForm{When: r.PostFormValue("when"), Cron: r.PostFormValue("cron"), Interval: r.PostFormValue("interval"),
		TimeZone: r.PostFormValue("timezone"), Params: r.PostFormValue("params"), Branch: r.PostFormValue("branch"),
		Overlap: r.PostFormValue("overlap"), CatchupWindow: r.PostFormValue("catchup_window"),
		PauseAfter: r.PostFormValue("pause_after_failures"), Description: r.PostFormValue("description"),
		Priority: r.PostFormValue("priority")}
	spec, err := f.spec()
	var sc *wire.Schedule
	if err == nil {
		sc, err = h.Schedules.Create(r.Context(), r.URL.Query().Get("team"), r.PathValue("name"), spec)
	}
	if err != nil {
		status := httperr.Status(err)
		if status != http.StatusBadRequest {
			h.fail(w, r, err)
			return
		}
		info, ok := h.load(w, r)
		if !ok {
			return
		}
		f.Error, f.Field = httperr.Message(err), httperr.Field(err)
		h.render(w, r, status, &pageModel{Info: info, ScheduleForm: f})
		return
	}
	h.scheduleDone(w, r, sc, "created")
}

// scheduleDone sends the browser back to the schedule's framework page,
// which says what was done.
func (h *Handler) scheduleDone(w http.ResponseWriter, r *http.Request, sc *wire.Schedule, did string) {
	http.Redirect(w, r, frameworkURL(sc.Framework, sc.Team)+fmt.Sprintf("&schedule=%d&did=%s#schedule-%d", sc.ID, did, sc.ID), http.StatusSeeOther)
}

// scheduleAction is a button of a schedule: pause, resume, trigger or delete.
func (h *Handler) scheduleAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h.scheduleDo(w, r, action) }
}

func (h *Handler) scheduleDo(w http.ResponseWriter, r *http.Request, did string) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
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
	switch did := q.Get("did"); did {
	case "created", "paused", "resumed", "triggered", "deleted":
		id, _ := strconv.ParseInt(q.Get("schedule"), 10, 64)
		return fmt.Sprintf("schedule %d %s", id, did)
	}
	return ""
}
