// Package dashboard serves the front page (running tests, the queue,
// recent tests, agents) and the agents page.
package dashboard

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"

	"github.com/pitwall/pitwall/service/agents"
	alertsvc "github.com/pitwall/pitwall/service/alerts"
	"github.com/pitwall/pitwall/service/changepoints"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/layout"
)

// recentTests is how many ended tests the dashboard lists.
const recentTests = 50

// Handler serves the dashboard, its live part and the agents page.
type Handler struct {
	Tests  *tests.Service
	Agents *agents.Service
	// Alerts and ChangePoints give the open regressions (nil: none shown).
	Alerts       *alertsvc.Service
	ChangePoints *changepoints.Service
	Log          *slog.Logger
}

// openRegressions is how many open alerts and change points the dashboard lists.
const openRegressions = 10

// ServeHTTP draws the whole dashboard.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, ok := h.load(w, r)
	if !ok {
		return
	}
	var err error
	if h.Alerts != nil {
		m.Alerts, err = h.Alerts.List(r.Context(), store.AlertFilter{State: store.AlertUnresolved, Limit: openRegressions})
	}
	if err == nil && h.ChangePoints != nil {
		m.ChangePoints, err = h.ChangePoints.Open(r.Context(), openRegressions)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	layout.Render(w, r, http.StatusOK, view(m))
}

// Live draws the dashboard's live part alone, for htmx to swap in every 2 s.
func (h Handler) Live(w http.ResponseWriter, r *http.Request) {
	m, ok := h.load(w, r)
	if ok {
		layout.Render(w, r, http.StatusOK, live(m))
	}
}

// AgentsPage draws the agents page; like GET /api/v1/agents, for people
// and CI only. It shows each host's noise floors, the form that measures
// them and, for site admins, the exclusion buttons.
func (h Handler) AgentsPage(w http.ResponseWriter, r *http.Request) {
	list, err := h.Agents.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m := agentsModel{Agents: list, Admin: service.Principal(r.Context()).SiteAdmin}
	if m.Noise, err = h.Tests.NoiseByHost(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	if id := r.URL.Query().Get("noise"); id != "" {
		m.Notice = "noise measurement " + id + " started: its runs appear on the dashboard, its CVs here when it ends"
	}
	layout.Render(w, r, http.StatusOK, agentsPage(m))
}

// MeasureNoise starts an A/A measurement from the agents page's form.
func (h Handler) MeasureNoise(w http.ResponseWriter, r *http.Request) {
	runs := 0
	if v := strings.TrimSpace(r.PostFormValue("runs")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			h.fail(w, r, service.InvalidField("runs", "runs must be a whole number"))
			return
		}
		runs = n
	}
	m, err := h.Tests.StartNoise(r.Context(), r.PathValue("name"), wire.NoiseRequest{
		Framework: strings.TrimSpace(r.PostFormValue("framework")), Team: strings.TrimSpace(r.PostFormValue("team")),
		Runs: runs, Commit: strings.TrimSpace(r.PostFormValue("commit"))})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/agents?noise="+strconv.FormatInt(m.ID, 10), http.StatusSeeOther)
}

// Exclude keeps a host out of host picking or lets it back (site admins).
func (h Handler) Exclude(w http.ResponseWriter, r *http.Request) {
	err := h.Agents.Exclude(r.Context(), r.PathValue("name"), wire.ExcludeRequest{
		Excluded: r.PostFormValue("excluded") == "true", Reason: strings.TrimSpace(r.PostFormValue("reason"))})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/agents", http.StatusSeeOther)
}

// fail answers a service error with its status and message on the
// problem page.
func (h Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	layout.Fail(w, r, h.Log, err)
}

func (h Handler) load(w http.ResponseWriter, r *http.Request) (model, bool) {
	d, err := h.Tests.Dashboard(r.Context(), recentTests)
	if err != nil {
		h.fail(w, r, err)
		return model{}, false
	}
	m := model{Now: time.Now(), Queue: d.Queue, Running: d.Running, Recent: d.Recent, ShowAgents: agents.MayList(r.Context())}
	if m.ShowAgents {
		if m.Agents, err = h.Agents.List(r.Context()); err != nil {
			h.fail(w, r, err)
			return model{}, false
		}
	}
	return m, true
}
