package jsonapi

import (
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/route"
)

func (a *API) alertRoutes(mux *route.Mux) {
	if a.Alerts == nil {
		return
	}
	mux.HandleFunc("GET /api/v1/alerts", a.alertList)
	mux.HandleFunc("GET /api/v1/alerts/{aid}", a.alertGet)
	mux.Route("POST /api/v1/alerts/{aid}/acknowledge", route.Policy{Need: route.Member}, a.alertAcknowledge)
	mux.Route("POST /api/v1/alerts/{aid}/resolve", route.Policy{Need: route.Member}, a.alertResolve)
	mux.HandleFunc("GET /api/v1/teams/{team}/channels", a.channelList)
	mux.Route("PUT /api/v1/teams/{team}/channels/{channel}", route.Policy{Need: route.TeamAdmin}, a.channelPut)
	mux.Route("DELETE /api/v1/teams/{team}/channels/{channel}", route.Policy{Need: route.TeamAdmin}, a.channelDelete)
	mux.Route("PUT /api/v1/account/email", route.Policy{Need: route.User}, a.accountEmail)
}

func (a *API) alertList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	list, err := a.Alerts.List(r.Context(), store.AlertFilter{Team: q.Get("team"), Framework: q.Get("framework"),
		State: q.Get("state"), Limit: limit})
	a.answer(w, r, http.StatusOK, wire.AlertList{Alerts: list}, err)
}

func (a *API) alertGet(w http.ResponseWriter, r *http.Request) {
	al, err := a.Alerts.Get(r.Context(), pathInt(r, "aid"))
	a.answer(w, r, http.StatusOK, al, err)
}

func (a *API) alertAcknowledge(w http.ResponseWriter, r *http.Request) {
	var req wire.AlertAction
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	al, err := a.Alerts.Acknowledge(r.Context(), pathInt(r, "aid"), req.Note)
	a.answer(w, r, http.StatusOK, al, err)
}

func (a *API) alertResolve(w http.ResponseWriter, r *http.Request) {
	var req wire.AlertAction
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	al, err := a.Alerts.Resolve(r.Context(), pathInt(r, "aid"), req.Note)
	a.answer(w, r, http.StatusOK, al, err)
}

func (a *API) channelList(w http.ResponseWriter, r *http.Request) {
	cs, err := a.Alerts.Channels(r.Context(), r.PathValue("team"))
	a.answer(w, r, http.StatusOK, wire.NotifyChannels{Channels: cs}, err)
}

func (a *API) channelPut(w http.ResponseWriter, r *http.Request) {
	var req wire.NotifyChannel
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	req.Name = r.PathValue("channel")
	c, err := a.Alerts.ChannelPut(r.Context(), r.PathValue("team"), req)
	a.answer(w, r, http.StatusOK, c, err)
}

func (a *API) channelDelete(w http.ResponseWriter, r *http.Request) {
	if err := a.Alerts.ChannelDelete(r.Context(), r.PathValue("team"), r.PathValue("channel")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// accountEmail sets the caller's own e-mail address, where mail about
// their tests goes.
func (a *API) accountEmail(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
	}
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.Alerts.SetEmail(r.Context(), req.Email); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
