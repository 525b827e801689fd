// Package alerts is the alert pages: /alerts lists the alerts the user
// may see, filtered by team, framework and state; /alerts/{id} shows one
// with its history and deliveries and, to the team's members, the forms
// that acknowledge and resolve it. Every read and change goes through the
// alerts service, so the pages allow exactly what the API allows.
package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	alertsvc "github.com/pitwall/pitwall/service/alerts"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/ui/httperr"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/route"
)

// Handler serves the alert pages.
type Handler struct {
	Alerts *alertsvc.Service
	// Frameworks gives the filter its choices of team and framework.
	Frameworks *frameworks.Service
	Log        *slog.Logger
}

// Routes registers the alert pages and their forms; as on the API, only
// members of some team may post the forms (the service checks the alert's).
func (h Handler) Routes(mux *route.Mux) {
	mux.HandleFunc("GET /alerts", h.list)
	mux.HandleFunc("GET /alerts/{id}", h.page)
	act := route.Policy{Need: route.Member}
	mux.Route("POST /alerts/{id}/acknowledge", act, h.acknowledge)
	mux.Route("POST /alerts/{id}/resolve", act, h.resolve)
}

// list is GET /alerts?team=&framework=&state=, a plain GET form: the
// unresolved alerts unless the state says otherwise.
func (h Handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := listModel{Team: q.Get("team"), Framework: q.Get("framework"), State: q.Get("state")}
	if m.State == "" {
		m.State = store.AlertUnresolved
	}
	fws, err := h.Frameworks.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var teams, names []string
	for _, f := range fws {
		teams, names = append(teams, f.Team), append(names, f.Name)
	}
	m.Teams, m.Frameworks = choices(teams, m.Team), choices(names, m.Framework)
	status := http.StatusOK
	if m.Alerts, err = h.Alerts.List(r.Context(), m.filter()); err != nil {
		status, m.Error = httperr.Explain(h.Log, r, err)
	}
	layout.Render(w, r, status, listView(m))
}

func (h Handler) page(w http.ResponseWriter, r *http.Request) {
	m := pageModel{}
	switch r.URL.Query().Get("did") {
	case "acknowledged":
		m.Notice = "Acknowledged: later tests of this problem no longer notify."
	case "resolved":
		m.Notice = "Resolved."
	}
	h.show(w, r, http.StatusOK, m)
}

// show draws the alert the path names, with a status and m's notice or
// refusal.
func (h Handler) show(w http.ResponseWriter, r *http.Request, status int, m pageModel) {
	id, ok := h.alertID(w, r)
	if !ok {
		return
	}
	a, err := h.Alerts.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m.Alert, m.MayAct = a, alertsvc.MayAct(r.Context(), a.Team)
	layout.Render(w, r, status, pageView(m))
}

func (h Handler) acknowledge(w http.ResponseWriter, r *http.Request) {
	h.act(w, r, formAcknowledge, "acknowledged", h.Alerts.Acknowledge)
}

func (h Handler) resolve(w http.ResponseWriter, r *http.Request) {
	h.act(w, r, formResolve, "resolved", h.Alerts.Resolve)
}

// act posts one of the alert page's forms through the service, then goes
// back to the page (303), which says what was done. A refusal (an alert
// already resolved, a note too long) is said on the page with its status,
// the note kept in its form; an alert the user may not see is not found.
func (h Handler) act(w http.ResponseWriter, r *http.Request, form, did string,
	do func(ctx context.Context, id int64, note string) (*wire.Alert, error)) {
	id, ok := h.alertID(w, r)
	if !ok {
		return
	}
	note := r.PostFormValue("note")
	if _, err := do(r.Context(), id, note); err != nil {
		status := httperr.Status(err)
		if status == http.StatusNotFound || status == http.StatusInternalServerError {
			h.fail(w, r, err)
			return
		}
		h.show(w, r, status, pageModel{Form: form, Note: note, Error: httperr.Message(err)})
		return
	}
	http.Redirect(w, r, alertsvc.PagePath(id)+"?did="+did, http.StatusSeeOther)
}

// alertID reads the path's alert ID, answering a malformed one as not found.
func (h Handler) alertID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.problem(w, r, http.StatusNotFound, fmt.Sprintf("no alert %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// problem answers with a small error page.
func (h Handler) problem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	layout.Problem(w, r, status, msg)
}

// fail answers a service error with its status and message on the error page.
func (h Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := httperr.Explain(h.Log, r, err)
	h.problem(w, r, status, msg)
}
