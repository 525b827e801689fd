package jsonapi

import (
	"net/http"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/route"
)

func (a *API) retentionRoutes(mux *route.Mux) {
	if a.Retention == nil {
		return
	}
	mux.HandleFunc("GET /api/v1/teams/{team}/retention", a.retentionGet)
	mux.Route("PUT /api/v1/teams/{team}/retention", route.Policy{Need: route.TeamAdmin}, a.retentionSet)
	mux.HandleFunc("GET /api/v1/tests/{id}/retention", a.testRetention)
	member := route.Policy{Need: route.Member}
	mux.Route("PUT /api/v1/tests/{id}/pin", member, a.testPin)
	mux.Route("DELETE /api/v1/tests/{id}/pin", member, a.testPin)
}

func (a *API) retentionGet(w http.ResponseWriter, r *http.Request) {
	out, err := a.Retention.Settings(r.Context(), r.PathValue("team"))
	a.answer(w, r, http.StatusOK, out, err)
}

func (a *API) retentionSet(w http.ResponseWriter, r *http.Request) {
	var req wire.Retention
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.Retention.SetSettings(r.Context(), r.PathValue("team"), req)
	a.answer(w, r, http.StatusOK, out, err)
}

func (a *API) testRetention(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.Retention.Test(r.Context(), id)
	a.answer(w, r, http.StatusOK, out, err)
}

// testPin pins a test (PUT) or unpins it (DELETE).
func (a *API) testPin(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.Retention.Pin(r.Context(), id, r.Method == http.MethodPut)
	a.answer(w, r, http.StatusOK, out, err)
}
