package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	wire "github.com/pitwall/pitwall/internal/api"
	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/ui/authn"
)

var accountName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$`)

func (a *API) accessRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/me", a.me)
	mux.HandleFunc("POST /api/v1/users", a.userCreate)
	mux.HandleFunc("POST /api/v1/teams", a.teamCreate)
	mux.HandleFunc("PUT /api/v1/teams/{team}/members/{user}", a.memberSet)
	mux.HandleFunc("DELETE /api/v1/teams/{team}/members/{user}", a.memberSet)
	mux.HandleFunc("POST /api/v1/tokens", a.tokenCreate)
	mux.HandleFunc("GET /api/v1/tokens", a.tokenList)
	mux.HandleFunc("DELETE /api/v1/tokens/{tid}", a.tokenRevoke)
	mux.HandleFunc("POST /api/v1/agent-tokens", a.agentTokenCreate)
	mux.HandleFunc("GET /api/v1/audit", a.auditList)
}

func principal(r *http.Request) *auth.Principal { return auth.From(r.Context()) }

// forbidden answers 403 with what was missing.
func forbidden(w http.ResponseWriter, what string) {
	writeError(w, http.StatusForbidden, "not allowed: "+what, "")
}

// audit records a security-relevant action by the request's principal.
func (a *API) audit(r *http.Request, action, team, target, detail string) {
	actor := "anonymous"
	if p := principal(r); p != nil {
		actor = p.Name
	}
	err := a.Store.AuditAdd(context.WithoutCancel(r.Context()), store.AuditEntry{
		Actor: actor, Action: action, Team: team, Target: target, Detail: detail, Remote: authn.RemoteIP(r)})
	if err != nil {
		a.Log.Error("audit", "error", err)
	}
}

// me says who the request acts for; a signed-in browser also gets its
// session's CSRF token, to send as X-CSRF-Token on changes.
func (a *API) me(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	out := map[string]any{"name": p.Name, "kind": p.Kind, "site_admin": p.SiteAdmin, "teams": p.Teams}
	if p.TokenID == 0 && a.CSRF != nil {
		out["csrf_token"] = a.CSRF(r)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) userCreate(w http.ResponseWriter, r *http.Request) {
	if !principal(r).SiteAdmin {
		forbidden(w, "only site admins create users")
		return
	}
	var req struct {
		Name      string `json:"name"`
		Password  string `json:"password"`
		SiteAdmin bool   `json:"site_admin"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	if !accountName.MatchString(req.Name) {
		writeError(w, http.StatusBadRequest, "name must be 1-64 characters of a-z, 0-9, '.', '_' and '-'", "name")
		return
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "password")
		return
	}
	id, err := a.Store.UserCreate(r.Context(), req.Name, hash, req.SiteAdmin)
	if errors.Is(err, store.ErrExists) {
		writeError(w, http.StatusConflict, fmt.Sprintf("user %q exists", req.Name), "name")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.audit(r, "user created", "", req.Name, fmt.Sprintf("site_admin=%v", req.SiteAdmin))
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "name": req.Name, "site_admin": req.SiteAdmin})
}

func (a *API) teamCreate(w http.ResponseWriter, r *http.Request) {
	if !principal(r).SiteAdmin {
		forbidden(w, "only site admins create teams")
		return
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	if !accountName.MatchString(req.Name) {
		writeError(w, http.StatusBadRequest, "team names are 1-64 characters of a-z, 0-9, '.', '_' and '-'", "name")
		return
	}
	if err := a.Store.TeamCreate(r.Context(), req.Name); errors.Is(err, store.ErrExists) {
		writeError(w, http.StatusConflict, fmt.Sprintf("team %q exists", req.Name), "name")
		return
	} else if err != nil {
		a.internal(w, r, err)
		return
	}
	a.audit(r, "team created", req.Name, req.Name, "")
	writeJSON(w, http.StatusCreated, map[string]string{"name": req.Name})
}

// memberSet gives a user a role in a team (PUT {"role": ...}) or removes
// them (DELETE); team admins and site admins only.
func (a *API) memberSet(w http.ResponseWriter, r *http.Request) {
	team, user := r.PathValue("team"), r.PathValue("user")
	if !principal(r).Can(team, auth.Admin) {
		forbidden(w, "only the team's admins manage its members")
		return
	}
	var role auth.Role
	if r.Method == http.MethodPut {
		var req struct {
			Role string `json:"role"`
		}
		if err := decodeJSON(w, r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "")
			return
		}
		var err error
		if role, err = auth.ParseRole(req.Role); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "role")
			return
		}
	}
	uid, err := a.Store.UserByName(r.Context(), user)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("user %q not found", user), "user")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if err := a.Store.MembershipSet(r.Context(), team, uid, role); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("team %q not found", team), "team")
		return
	} else if err != nil {
		a.internal(w, r, err)
		return
	}
	a.audit(r, "role changed", team, user, "role="+string(role))
	w.WriteHeader(http.StatusNoContent)
}

// tokenCreate makes an API token for the caller, scoped to a team and a
// role no higher than the caller's there; it is shown once.
func (a *API) tokenCreate(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	var req struct {
		Name      string `json:"name"`
		Team      string `json:"team"`
		Role      string `json:"role"`
		ExpiresIn string `json:"expires_in"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "role")
		return
	}
	if req.Name == "" || len(req.Name) > 100 {
		writeError(w, http.StatusBadRequest, "name must be 1-100 bytes", "name")
		return
	}
	if p.UserID == 0 || !p.Can(req.Team, role) {
		forbidden(w, fmt.Sprintf("a %s token for team %q needs that role there (and a user account)", role, req.Team))
		return
	}
	var expires *time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, "expires_in must be a duration such as 720h", "expires_in")
			return
		}
		t := time.Now().Add(d)
		expires = &t
	}
	plain, hash := auth.NewToken(auth.UserTokenPrefix)
	id, err := a.Store.TokenCreate(r.Context(), store.NewToken{Hash: hash, Name: req.Name, Kind: auth.KindUser,
		UserID: p.UserID, Team: req.Team, Role: role, ExpiresAt: expires})
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("team %q not found", req.Team), "team")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.audit(r, "token created", req.Team, req.Name, "role="+string(role))
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "token": plain, "name": req.Name, "team": req.Team,
		"role": role, "expires_at": expires})
}

// tokenList lists a team's tokens (?team=, team admins) or all (site admins).
func (a *API) tokenList(w http.ResponseWriter, r *http.Request) {
	team := r.URL.Query().Get("team")
	p := principal(r)
	if team == "" && !p.SiteAdmin || team != "" && !p.Can(team, auth.Admin) {
		forbidden(w, "team admins list their team's tokens (?team=); site admins all")
		return
	}
	list, err := a.Store.TokenList(r.Context(), team)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.List[store.Token]{Items: list})
}

// tokenRevoke revokes a token: its owner's, or any of a team's for its admins.
func (a *API) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("tid"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "token ID must be a positive number", "id")
		return
	}
	p := principal(r)
	t, err := a.Store.TokenGet(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such token", "id")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	own := t.User != "" && t.User == p.Name && p.UserID != 0
	if !own && !p.SiteAdmin && !(t.Team != "" && p.Can(t.Team, auth.Admin)) {
		writeError(w, http.StatusNotFound, "no such token", "id")
		return
	}
	if err := a.Store.TokenRevoke(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		a.internal(w, r, err)
		return
	}
	a.audit(r, "token revoked", t.Team, t.Name, "")
	w.WriteHeader(http.StatusNoContent)
}

// agentTokenCreate makes the token an agent uses, bound to its host name.
func (a *API) agentTokenCreate(w http.ResponseWriter, r *http.Request) {
	if !principal(r).SiteAdmin {
		forbidden(w, "only site admins create agent tokens")
		return
	}
	var req struct {
		Agent string `json:"agent"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	if req.Agent == "" || len(req.Agent) > 128 {
		writeError(w, http.StatusBadRequest, "agent must be the agent's host name", "agent")
		return
	}
	plain, hash := auth.NewToken(auth.AgentTokenPrefix)
	id, err := a.Store.TokenCreate(r.Context(), store.NewToken{Hash: hash, Name: "agent " + req.Agent,
		Kind: auth.KindAgent, Agent: req.Agent})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.audit(r, "token created", "", "agent "+req.Agent, "kind=agent")
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "token": plain, "agent": req.Agent})
}

// auditList shows the audit log: a team's (?team=, team admins) or all (site admins).
func (a *API) auditList(w http.ResponseWriter, r *http.Request) {
	team := r.URL.Query().Get("team")
	p := principal(r)
	if team == "" && !p.SiteAdmin || team != "" && !p.Can(team, auth.Admin) {
		forbidden(w, "team admins read their team's audit log (?team=); site admins all")
		return
	}
	list, err := a.Store.AuditList(r.Context(), team, 500)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.List[store.AuditEntry]{Items: list})
}
