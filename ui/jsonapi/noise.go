package jsonapi

import (
	"net/http"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/route"
)

// noiseRoutes are hosts' noise floors and their exclusion (docs/noise.md).
func (a *API) noiseRoutes(mux *route.Mux) {
	mux.Route("POST /api/v1/agents/{name}/noise", route.Policy{Need: route.Member}, a.noiseStart)
	mux.HandleFunc("GET /api/v1/agents/{name}/noise", a.noiseGet)
	mux.Route("PUT /api/v1/agents/{name}/excluded", route.Policy{Need: route.SiteAdmin}, a.agentExclude)
}

func (a *API) noiseStart(w http.ResponseWriter, r *http.Request) {
	var req wire.NoiseRequest
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	m, err := a.Tests.StartNoise(r.Context(), r.PathValue("name"), req)
	if err == nil {
		w.Header().Set("Location", tests.NoisePath(m.Host))
	}
	a.answer(w, r, http.StatusCreated, m, err)
}

func (a *API) noiseGet(w http.ResponseWriter, r *http.Request) {
	n, err := a.Tests.HostNoise(r.Context(), r.PathValue("name"))
	a.answer(w, r, http.StatusOK, n, err)
}

// agentExclude keeps a host out of host picking or lets it back (site
// admins); it answers with the host's noise.
func (a *API) agentExclude(w http.ResponseWriter, r *http.Request) {
	var req wire.ExcludeRequest
	err := decodeJSON(r, &req)
	if err == nil {
		err = a.Agents.Exclude(r.Context(), r.PathValue("name"), req)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	n, err := a.Tests.HostNoise(r.Context(), r.PathValue("name"))
	a.answer(w, r, http.StatusOK, n, err)
}
