package jsonapi

import (
	"net/http"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/agents"
	"github.com/pitwall/pitwall/ui/route"
)

func (a *API) agentRoutes(mux *route.Mux) {
	mux.HandleFunc("GET /api/v1/agents", a.agentList)
	mux.HandleFunc("PUT /api/v1/agents/{name}", a.agentHeartbeat)
	mux.HandleFunc("GET /api/v1/agents/{name}/settings", a.agentSettingsGet)
	mux.Route("PUT /api/v1/agents/{name}/settings", route.Policy{Need: route.SiteAdmin}, a.agentSettingsPut)
}

// agentSettingsPut sets a host's labels and teams (site admins).
func (a *API) agentSettingsPut(w http.ResponseWriter, r *http.Request) {
	var set wire.AgentSettings
	err := a.Agents.MayConfigure(r.Context())
	if err == nil {
		err = decodeJSON(r, &set)
	}
	if err == nil {
		err = a.Agents.Configure(r.Context(), r.PathValue("name"), set)
	}
	if err == nil {
		set, err = a.Agents.Settings(r.Context(), r.PathValue("name"))
	}
	a.answer(w, r, http.StatusOK, set, err)
}

// agentSettingsGet shows a host's labels and teams (site admins).
func (a *API) agentSettingsGet(w http.ResponseWriter, r *http.Request) {
	set, err := a.Agents.Settings(r.Context(), r.PathValue("name"))
	a.answer(w, r, http.StatusOK, set, err)
}

func (a *API) agentList(w http.ResponseWriter, r *http.Request) {
	list, err := a.Agents.List(r.Context())
	a.answer(w, r, http.StatusOK, wire.List[wire.Agent]{Items: list}, err)
}

func (a *API) agentHeartbeat(w http.ResponseWriter, r *http.Request) {
	var hb wire.Heartbeat
	name := r.PathValue("name")
	err := agents.CheckName(name)
	if err == nil {
		err = decodeJSON(r, &hb)
	}
	if err == nil {
		err = a.Agents.Heartbeat(r.Context(), name, hb)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
