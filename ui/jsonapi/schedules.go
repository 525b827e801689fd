package jsonapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/ui/route"
)

func (a *API) scheduleRoutes(mux *route.Mux) {
	member := route.Policy{Need: route.Member}
	mux.HandleFunc("GET /api/v1/frameworks/{name}/schedules", a.scheduleList)
	mux.Route("POST /api/v1/frameworks/{name}/schedules", member, a.scheduleCreate)
	mux.HandleFunc("GET /api/v1/schedules/{id}", a.scheduleGet)
	mux.Route("PUT /api/v1/schedules/{id}", member, a.scheduleUpdate)
	mux.Route("DELETE /api/v1/schedules/{id}", member, a.scheduleDelete)
	mux.Route("POST /api/v1/schedules/{id}/pause", member, a.schedulePause)
	mux.Route("POST /api/v1/schedules/{id}/resume", member, a.scheduleResume)
	mux.Route("POST /api/v1/schedules/{id}/trigger", member, a.scheduleTrigger)
	mux.Route("POST /api/v1/schedules/{id}/backfill", member, a.scheduleBackfill)
}

func (a *API) scheduleList(w http.ResponseWriter, r *http.Request) {
	list, err := a.Schedules.List(r.Context(), r.URL.Query().Get("team"), r.PathValue("name"))
	a.answer(w, r, http.StatusOK, wire.List[wire.Schedule]{Items: list}, err)
}

func (a *API) scheduleCreate(w http.ResponseWriter, r *http.Request) {
	var spec wire.ScheduleSpec
	if err := decodeJSON(r, &spec); err != nil {
		a.fail(w, r, err)
		return
	}
	sc, err := a.Schedules.Create(r.Context(), r.URL.Query().Get("team"), r.PathValue("name"), spec)
	a.answer(w, r, http.StatusCreated, sc, err)
}

func (a *API) scheduleGet(w http.ResponseWriter, r *http.Request) {
	sc, err := a.Schedules.Get(r.Context(), pathInt(r, "id"))
	a.answer(w, r, http.StatusOK, sc, err)
}

func (a *API) scheduleUpdate(w http.ResponseWriter, r *http.Request) {
	var spec wire.ScheduleSpec
	if err := decodeJSON(r, &spec); err != nil {
		a.fail(w, r, err)
		return
	}
	sc, err := a.Schedules.Update(r.Context(), pathInt(r, "id"), spec)
	a.answer(w, r, http.StatusOK, sc, err)
}

func (a *API) scheduleDelete(w http.ResponseWriter, r *http.Request) {
	if err := a.Schedules.Delete(r.Context(), pathInt(r, "id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// pauseNote reads the optional {"note": ...} of pause and resume.
func pauseNote(r *http.Request) (string, error) {
	var p wire.SchedulePause
	if r.ContentLength == 0 {
		return "", nil
	}
	if err := decodeJSON(r, &p); err != nil {
		return "", err
	}
	if len(p.Note) > 500 {
		return "", service.InvalidField("note", "note must be at most 500 bytes")
	}
	return p.Note, nil
}

func (a *API) schedulePause(w http.ResponseWriter, r *http.Request) {
	note, err := pauseNote(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sc, err := a.Schedules.Pause(r.Context(), pathInt(r, "id"), note)
	a.answer(w, r, http.StatusOK, sc, err)
}

func (a *API) scheduleResume(w http.ResponseWriter, r *http.Request) {
	note, err := pauseNote(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sc, err := a.Schedules.Resume(r.Context(), pathInt(r, "id"), note)
	a.answer(w, r, http.StatusOK, sc, err)
}

// scheduleTrigger runs a schedule now (202: the run starts under the
// schedule's overlap policy, perhaps after the one going).
func (a *API) scheduleTrigger(w http.ResponseWriter, r *http.Request) {
	sc, err := a.Schedules.Trigger(r.Context(), pathInt(r, "id"))
	a.answer(w, r, http.StatusAccepted, sc, err)
}

// scheduleBackfill runs the runs of a past period (202: they start under
// the backfill's overlap policy, one after another by default).
func (a *API) scheduleBackfill(w http.ResponseWriter, r *http.Request) {
	var body wire.ScheduleBackfill
	if err := decodeJSON(r, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	start, err := rfc3339("start", body.Start)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	end, err := rfc3339("end", body.End)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	sc, _, err := a.Schedules.Backfill(r.Context(), pathInt(r, "id"), start, end, body.Overlap)
	a.answer(w, r, http.StatusAccepted, sc, err)
}

// rfc3339 reads the time of a body's field; empty is the zero time,
// which the service refuses with its own message.
func rfc3339(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, service.InvalidField(field, fmt.Sprintf("%s %q is not an RFC 3339 time such as 2026-01-02T03:00:00Z", field, s))
	}
	return t, nil
}
