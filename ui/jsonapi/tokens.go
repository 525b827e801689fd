package jsonapi

import (
	"net/http"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/accounts"
	"github.com/pitwall/pitwall/ui/route"
)

func (a *API) tokenRoutes(mux *route.Mux) {
	user := route.Policy{Need: route.User}
	mux.Route("POST /api/v1/tokens", user, a.tokenCreate)
	mux.HandleFunc("GET /api/v1/tokens", a.tokenList)
	mux.Route("DELETE /api/v1/tokens/{tid}", user, a.tokenRevoke)
	mux.Route("POST /api/v1/agent-tokens", route.Policy{Need: route.SiteAdmin}, a.agentTokenCreate)
}

// tokenCreate makes an API token for the caller, scoped to a team and a
// role no higher than the caller's there; it is shown once.
func (a *API) tokenCreate(w http.ResponseWriter, r *http.Request) {
	var req accounts.TokenRequest
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.Accounts.CreateToken(r.Context(), req)
	a.answer(w, r, http.StatusCreated, out, err)
}

// tokenList lists a team's tokens (?team=, team admins) or all (site admins).
func (a *API) tokenList(w http.ResponseWriter, r *http.Request) {
	list, err := a.Accounts.Tokens(r.Context(), r.URL.Query().Get("team"))
	a.answer(w, r, http.StatusOK, wire.List[store.Token]{Items: list}, err)
}

// tokenRevoke revokes a token: its owner's, or any of a team's for its admins.
func (a *API) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	if err := a.Accounts.RevokeToken(r.Context(), pathInt(r, "tid")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// agentTokenCreate makes the token an agent uses, bound to its host name.
func (a *API) agentTokenCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Agent string `json:"agent"`
	}
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.Accounts.CreateAgentToken(r.Context(), req.Agent)
	a.answer(w, r, http.StatusCreated, out, err)
}
