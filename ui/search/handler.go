// Package search is /tests: find tests by framework, state, branch,
// commit, owner, tag and date, then compare or delete a selection.
package search

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/httperr"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/route"
)

// maxSelection bounds how many tests one delete may name.
const maxSelection = 200

// Handler serves the search page and the batch delete.
type Handler struct {
	Tests *tests.Service
	Log   *slog.Logger
}

// Routes registers GET /tests, GET /tests/delete (confirmation) and POST /tests/delete.
func (h Handler) Routes(mux *route.Mux) {
	mux.HandleFunc("GET /tests", h.search)
	mux.HandleFunc("GET /tests/delete", h.confirmDelete)
	mux.HandleFunc("POST /tests/delete", h.delete)
}

func (h Handler) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := model{Form: formOf(q)}
	status := http.StatusOK
	var err error
	if m.Frameworks, m.Branches, err = h.Tests.Facets(r.Context()); err != nil {
		status, msg := h.refusal(r, err)
		layout.Problem(w, r, status, msg)
		return
	}
	f, err := tests.ParseFilter(apiQuery(q))
	if err == nil {
		m.List, err = h.Tests.List(r.Context(), f)
	}
	if err != nil {
		status, m.Error = h.refusal(r, err)
	}
	if m.List.Next != "" {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("cursor", m.List.Next)
		m.NextURL = "/tests?" + next.Encode()
	}
	layout.Render(w, r, status, view(m))
}

// apiQuery turns the form's dates (YYYY-MM-DD, a whole day in UTC; "to"
// inclusive) into the API's times and drops empty fields.
func apiQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if len(v) > 0 && strings.TrimSpace(v[0]) != "" {
			out.Set(k, strings.TrimSpace(v[0]))
		}
	}
	for _, k := range []string{"from", "to"} {
		d, err := time.Parse(time.DateOnly, out.Get(k))
		if err != nil {
			continue
		}
		if k == "to" {
			d = d.AddDate(0, 0, 1)
		}
		out.Set(k, d.Format(time.RFC3339))
	}
	return out
}

// ids reads test IDs given as repeated values and/or comma-separated lists.
func ids(values []string) ([]int64, error) {
	var out []int64
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			id, err := strconv.ParseInt(p, 10, 64)
			if err != nil || id <= 0 {
				return nil, fmt.Errorf("test ID %q is not a positive number", p)
			}
			out = append(out, id)
		}
	}
	return out, nil
}

// confirmDelete shows the selected tests and which of them the user may
// delete, with the form that deletes them.
func (h Handler) confirmDelete(w http.ResponseWriter, r *http.Request) {
	list, err := ids(r.URL.Query()["ids"])
	if err == nil && (len(list) == 0 || len(list) > maxSelection) {
		err = fmt.Errorf("select between 1 and %d tests to delete", maxSelection)
	}
	if err != nil {
		layout.Render(w, r, http.StatusBadRequest, deleteView(deleteModel{Error: err.Error()}))
		return
	}
	m := deleteModel{}
	for _, id := range list {
		t, err := h.Tests.MayDelete(r.Context(), id)
		if err != nil {
			_, why := h.refusal(r, err)
			m.Refused = append(m.Refused, outcome{ID: id, Test: t, Why: why})
			continue
		}
		m.Deletable = append(m.Deletable, *t)
	}
	layout.Render(w, r, http.StatusOK, deleteView(m))
}

// refusal is the status and message a page shows for a service error.
func (h Handler) refusal(r *http.Request, err error) (int, string) {
	return httperr.Explain(h.Log, r, err)
}

// delete deletes each selected test the user may delete, through the
// tests service, and reports what it refused.
func (h Handler) delete(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		layout.Render(w, r, http.StatusBadRequest, deleteView(deleteModel{Error: "could not read the form"}))
		return
	}
	list, err := ids(r.PostForm["ids"])
	if err == nil && (len(list) == 0 || len(list) > maxSelection) {
		err = fmt.Errorf("select between 1 and %d tests to delete", maxSelection)
	}
	if err != nil {
		layout.Render(w, r, http.StatusBadRequest, deleteView(deleteModel{Error: err.Error()}))
		return
	}
	m := deleteModel{Done: true}
	for _, id := range list {
		if err := h.Tests.Delete(r.Context(), id); err != nil {
			status, why := h.refusal(r, err)
			m.Refused = append(m.Refused, outcome{ID: id, Why: why, Status: status})
			continue
		}
		m.Deleted = append(m.Deleted, id)
	}
	// Nothing deleted: answer as the API would for the first refusal.
	status := http.StatusOK
	if len(m.Deleted) == 0 {
		status = m.Refused[0].Status
	}
	layout.Render(w, r, status, deleteView(m))
}
