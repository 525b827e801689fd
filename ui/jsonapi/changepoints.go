package jsonapi

import (
	"net/http"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/route"
)

func (a *API) changePointRoutes(mux *route.Mux) {
	admin := route.Policy{Need: route.TeamAdmin}
	mux.HandleFunc("GET /api/v1/frameworks/{name}/changepoints", a.changePointList)
	mux.Route("POST /api/v1/frameworks/{name}/changepoints", admin, a.changePointReanalyse)
	mux.Route("POST /api/v1/changepoints/{cid}/accept", admin, a.changePointAccept)
}

// changePointList lists the change points found in a framework's KPI histories.
func (a *API) changePointList(w http.ResponseWriter, r *http.Request) {
	list, err := a.ChangePoints.List(r.Context(), r.URL.Query().Get("team"), r.PathValue("name"))
	a.answer(w, r, http.StatusOK, wire.List[store.ChangePoint]{Items: list}, err)
}

// changePointReanalyse finds a framework's change points again from the
// first run of each KPI history (team admins).
func (a *API) changePointReanalyse(w http.ResponseWriter, r *http.Request) {
	list, err := a.ChangePoints.Reanalyse(r.Context(), r.URL.Query().Get("team"), r.PathValue("name"))
	a.answer(w, r, http.StatusOK, wire.List[store.ChangePoint]{Items: list}, err)
}

// changePointAccept marks a change as intended (team admins): later
// verdicts judge against the new level.
func (a *API) changePointAccept(w http.ResponseWriter, r *http.Request) {
	cp, err := a.ChangePoints.Accept(r.Context(), pathInt(r, "cid"))
	a.answer(w, r, http.StatusOK, cp, err)
}
