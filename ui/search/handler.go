// Package search is /tests: find tests by framework, state, branch,
// commit, owner, tag and date, then compare or delete a selection.
package search

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/api"
	"github.com/pitwall/pitwall/ui/layout"
)

// maxSelection bounds how many tests one delete may name.
const maxSelection = 200

// Handler serves the search page and the batch delete.
type Handler struct {
	API *api.API
	Log *slog.Logger
}

// Routes registers GET /tests, GET /tests/delete (confirmation) and POST /tests/delete.
func (h Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /tests", h.search)
	mux.HandleFunc("GET /tests/delete", h.confirmDelete)
	mux.HandleFunc("POST /tests/delete", h.delete)
}

func (h Handler) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := model{Form: formOf(q)}
	status := http.StatusOK
	f, err := api.ParseTestFilter(apiQuery(q))
	if err == nil {
		m.List, err = h.API.ListTests(r, f)
	}
	var rf *api.Refusal
	switch {
	case errors.As(err, &rf):
		status, m.Error = rf.Status, rf.Msg
	case err != nil:
		h.Log.Error("search tests", "error", err)
		status, m.Error = http.StatusInternalServerError, "could not load tests"
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
	p := principalOf(r)
	for _, id := range list {
		t, err := h.API.ViewTest(r.Context(), id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			m.Refused = append(m.Refused, outcome{ID: id, Why: fmt.Sprintf("test %d not found", id)})
		case err != nil:
			h.Log.Error("confirm delete", "test", id, "error", err)
			m.Refused = append(m.Refused, outcome{ID: id, Why: "could not load it"})
		case !p.CanModify(t.Team, t.Owner):
			m.Refused = append(m.Refused, outcome{ID: id, Test: t, Why: "only the test's owner and the team's admins delete it"})
		case !wire.Ended(t.State):
			m.Refused = append(m.Refused, outcome{ID: id, Test: t, Why: fmt.Sprintf("it is %s; abort it first", t.State)})
		default:
			m.Deletable = append(m.Deletable, *t)
		}
	}
	layout.Render(w, r, http.StatusOK, deleteView(m))
}

// delete deletes each selected test the user may delete, through the
// API's own check, and reports what it refused.
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
		err := h.API.DeleteTest(r, id)
		var rf *api.Refusal
		switch {
		case err == nil:
			m.Deleted = append(m.Deleted, id)
		case errors.As(err, &rf):
			m.Refused = append(m.Refused, outcome{ID: id, Why: rf.Msg, Status: rf.Status})
		default:
			h.Log.Error("delete test", "test", id, "error", err)
			m.Refused = append(m.Refused, outcome{ID: id, Why: "internal error; the server log has the details", Status: http.StatusInternalServerError})
		}
	}
	// Nothing deleted: answer as the API would for the first refusal.
	status := http.StatusOK
	if len(m.Deleted) == 0 {
		status = m.Refused[0].Status
	}
	layout.Render(w, r, status, deleteView(m))
}
