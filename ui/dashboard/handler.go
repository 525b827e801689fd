package dashboard

import (
	"log/slog"
	"net/http"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
)

// Handler serves the dashboard.
type Handler struct {
	Store *store.Store
	Log   *slog.Logger
}

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	teams, all := auth.From(r.Context()).ViewableTeams()
	tests, err := h.Store.TestList(r.Context(), store.TestFilter{Limit: 50, Teams: teams, AllTeams: all})
	if err != nil {
		h.Log.Error("dashboard tests", "error", err)
		http.Error(w, "could not load tests", http.StatusInternalServerError)
		return
	}
	agents, err := h.Store.AgentList(r.Context())
	if err != nil {
		h.Log.Error("dashboard agents", "error", err)
		http.Error(w, "could not load agents", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = view(model{Tests: tests, Agents: agents}).Render(r.Context(), w)
}
