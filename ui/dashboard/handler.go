// Package dashboard serves the front page (running tests, the queue,
// recent tests, agents) and the agents page.
package dashboard

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/layout"
)

// recentTests is how many ended tests the dashboard lists.
const recentTests = 50

// Handler serves the dashboard, its live part and the agents page.
type Handler struct {
	Store *store.Store
	Log   *slog.Logger
}

// ServeHTTP draws the whole dashboard.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, ok := h.load(w, r)
	if ok {
		layout.Render(w, r, http.StatusOK, view(m))
	}
}

// Live draws the dashboard's live part alone, for htmx to swap in every 2 s.
func (h Handler) Live(w http.ResponseWriter, r *http.Request) {
	m, ok := h.load(w, r)
	if ok {
		layout.Render(w, r, http.StatusOK, live(m))
	}
}

// Agents draws the agents page; like GET /api/v1/agents, for people and CI only.
func (h Handler) Agents(w http.ResponseWriter, r *http.Request) {
	if auth.From(r.Context()).Kind != auth.KindUser {
		http.Error(w, "the agents list is for people and CI", http.StatusForbidden)
		return
	}
	agents, err := h.Store.AgentList(r.Context())
	if err != nil {
		h.Log.Error("agents page", "error", err)
		http.Error(w, "could not load agents", http.StatusInternalServerError)
		return
	}
	layout.Render(w, r, http.StatusOK, agentsPage(agents))
}

func (h Handler) load(w http.ResponseWriter, r *http.Request) (model, bool) {
	p := auth.From(r.Context())
	teams, all := p.ViewableTeams()
	d, err := h.Store.DashboardGet(r.Context(), teams, all, recentTests)
	if err != nil {
		h.Log.Error("dashboard tests", "error", err)
		http.Error(w, "could not load tests", http.StatusInternalServerError)
		return model{}, false
	}
	m := model{Now: time.Now(), Recent: d.Recent, ShowAgents: p.Kind == auth.KindUser}
	for _, t := range d.Active {
		switch t.State {
		case wire.StateQueued, wire.StateWaiting:
			m.Queue = append(m.Queue, t)
		default:
			m.Running = append(m.Running, t)
		}
	}
	if m.ShowAgents {
		if m.Agents, err = h.Store.AgentList(r.Context()); err != nil {
			h.Log.Error("dashboard agents", "error", err)
			http.Error(w, "could not load agents", http.StatusInternalServerError)
			return model{}, false
		}
	}
	return m, true
}
