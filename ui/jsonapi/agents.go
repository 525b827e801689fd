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
