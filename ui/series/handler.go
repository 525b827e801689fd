// Package series is the pages of confirmations and bisections
// (docs/confirmation.md): /confirmations/{id} shows one, its runs in the
// order they ran, its outcomes and a bisection's steps; /tests/{id}/series
// lists a test's; the forms start and cancel them. Every read and change
// goes through the tests service, so the pages allow exactly what the API
// allows.
package series

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/httperr"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/route"
)

// Handler serves the pages.
type Handler struct {
	Tests *tests.Service
	Log   *slog.Logger
}

// PagePath is the page of a confirmation or bisection.
func PagePath(id int64) string { return fmt.Sprintf("/confirmations/%d", id) }

// Routes registers the pages and their forms.
func (h Handler) Routes(mux *route.Mux) {
	mux.HandleFunc("GET /confirmations/{id}", h.page)
	mux.HandleFunc("GET /tests/{id}/series", h.list)
	act := route.Policy{Need: route.Member}
	mux.Route("POST /tests/{id}/confirm", act, h.confirm)
	mux.Route("POST /tests/{id}/bisect", act, h.bisect)
	mux.Route("POST /confirmations/{id}/cancel", act, h.cancel)
}

func (h Handler) page(w http.ResponseWriter, r *http.Request) {
	id, ok := h.id(w, r)
	if !ok {
		return
	}
	c, err := h.Tests.Confirmation(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	layout.Render(w, r, http.StatusOK, pageView(model{C: c, MayAct: tests.MayRun(r.Context(), c.Team)}))
}

func (h Handler) list(w http.ResponseWriter, r *http.Request) {
	id, ok := h.id(w, r)
	if !ok {
		return
	}
	t, err := h.Tests.View(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cs, err := h.Tests.Confirmations(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	layout.Render(w, r, http.StatusOK, listView(listModel{T: t, Items: cs, MayAct: tests.MayRun(r.Context(), t.Team)}))
}

func (h Handler) confirm(w http.ResponseWriter, r *http.Request) {
	id, ok := h.id(w, r)
	if !ok {
		return
	}
	var req wire.ConfirmRequest
	if k := r.PostFormValue("kpi"); k != "" {
		req.KPIs = []string{k}
	}
	req.Budget, _ = strconv.Atoi(r.PostFormValue("budget"))
	req.Order = r.PostFormValue("order")
	c, err := h.Tests.Confirm(r.Context(), id, req)
	h.started(w, r, c, err)
}

func (h Handler) bisect(w http.ResponseWriter, r *http.Request) {
	id, ok := h.id(w, r)
	if !ok {
		return
	}
	req := wire.BisectRequest{KPI: r.PostFormValue("kpi"), Good: r.PostFormValue("good"), Order: r.PostFormValue("order")}
	req.Budget, _ = strconv.Atoi(r.PostFormValue("budget"))
	c, err := h.Tests.Bisect(r.Context(), id, req)
	h.started(w, r, c, err)
}

// started goes to the new series' page, or says why it was refused.
func (h Handler) started(w http.ResponseWriter, r *http.Request, c *wire.Confirmation, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, PagePath(c.ID), http.StatusSeeOther)
}

func (h Handler) cancel(w http.ResponseWriter, r *http.Request) {
	id, ok := h.id(w, r)
	if !ok {
		return
	}
	if _, err := h.Tests.CancelConfirmation(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, PagePath(id), http.StatusSeeOther)
}

// id reads the path's ID, answering a malformed one as not found.
func (h Handler) id(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		layout.Render(w, r, http.StatusNotFound, problemView(http.StatusNotFound, fmt.Sprintf("no such ID %q", r.PathValue("id"))))
		return 0, false
	}
	return id, true
}

// fail answers a service error with its status and message.
func (h Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := httperr.Explain(h.Log, r, err)
	layout.Render(w, r, status, problemView(status, msg))
}
