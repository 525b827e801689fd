package jsonapi

import (
	"io"
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/wire"
	ghsvc "github.com/pitwall/pitwall/service/github"
	"github.com/pitwall/pitwall/ui/route"
)

// WebhookPath is where GitHub delivers a connected repository's events.
const WebhookPath = "/api/v1/github/webhook"

// maxWebhook is GitHub's own cap on a delivery's payload.
const maxWebhook = 25 << 20

func (a *API) githubRoutes(mux *route.Mux) {
	if a.GitHub == nil {
		return
	}
	// No principal: the signature, checked before anything is parsed, says
	// which team's connection sent it.
	mux.Route("POST "+WebhookPath, route.Policy{Need: route.Anyone, Body: maxWebhook}, a.githubWebhook)
	mux.HandleFunc("GET /api/v1/teams/{team}/github", a.githubConnection)
	mux.Route("PUT /api/v1/teams/{team}/github", route.Policy{Need: route.TeamAdmin}, a.githubConnect)
	mux.Route("DELETE /api/v1/teams/{team}/github", route.Policy{Need: route.TeamAdmin}, a.githubDisconnect)
	mux.HandleFunc("GET /api/v1/teams/{team}/github/deliveries", a.githubDeliveries)
}

func (a *API) githubWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		a.fail(w, r, bodyError("webhook payload", err))
		return
	}
	got, err := a.GitHub.Receive(r.Context(), ghsvc.Delivery{Event: r.Header.Get("X-GitHub-Event"),
		ID: r.Header.Get("X-GitHub-Delivery"), Signature: r.Header.Get("X-Hub-Signature-256"), Body: body})
	status := http.StatusAccepted
	if got != nil && got.Outcome != "started" {
		status = http.StatusOK
	}
	a.answer(w, r, status, got, err)
}

func (a *API) githubConnection(w http.ResponseWriter, r *http.Request) {
	c, err := a.GitHub.Connection(r.Context(), r.PathValue("team"))
	a.answer(w, r, http.StatusOK, c, err)
}

func (a *API) githubConnect(w http.ResponseWriter, r *http.Request) {
	var req wire.GitHubConnectionRequest
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.GitHub.Connect(r.Context(), r.PathValue("team"), req)
	a.answer(w, r, http.StatusOK, c, err)
}

func (a *API) githubDisconnect(w http.ResponseWriter, r *http.Request) {
	if err := a.GitHub.Disconnect(r.Context(), r.PathValue("team")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) githubDeliveries(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ds, err := a.GitHub.Deliveries(r.Context(), r.PathValue("team"), limit)
	a.answer(w, r, http.StatusOK, wire.List[wire.GitHubDelivery]{Items: ds}, err)
}
