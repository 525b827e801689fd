package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
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
	if p.TokenID == 0 {
		out["csrf_token"] = p.CSRF
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

// Refusal is why an account action (shared by the API and the pages) was
// refused, with the HTTP status it answers.
type Refusal struct {
	Status int
	Msg    string
	Field  string
}

func (e *Refusal) Error() string { return e.Msg }

func refusal(status int, msg, field string) error {
	return &Refusal{Status: status, Msg: msg, Field: field}
}

// writeActionError answers an action's error: a Refusal as itself, anything else 500.
func (a *API) writeActionError(w http.ResponseWriter, r *http.Request, err error) {
	var rf *Refusal
	if errors.As(err, &rf) {
		writeError(w, rf.Status, rf.Msg, rf.Field)
		return
	}
	a.internal(w, r, err)
}

// memberSet gives a user a role in a team (PUT {"role": ...}) or removes
// them (DELETE); team admins and site admins only.
func (a *API) memberSet(w http.ResponseWriter, r *http.Request) {
	team, user := r.PathValue("team"), r.PathValue("user")
	if !principal(r).Can(team, auth.Admin) {
		forbidden(w, "only the team's admins manage its members")
		return
	}
	role := ""
	if r.Method == http.MethodPut {
		var req struct {
			Role string `json:"role"`
		}
		if err := decodeJSON(w, r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "")
			return
		}
		if _, err := auth.ParseRole(req.Role); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "role")
			return
		}
		role = req.Role
	}
	if err := a.SetMember(r, team, user, role); err != nil {
		a.writeActionError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// SetMember gives user a role in team, or removes them when role is empty,
// as the request's principal (a team or site admin), and audits it.
func (a *API) SetMember(r *http.Request, team, user, role string) error {
	if !principal(r).Can(team, auth.Admin) {
		return refusal(http.StatusForbidden, "not allowed: only the team's admins manage its members", "")
	}
	var rl auth.Role
	if role != "" {
		var err error
		if rl, err = auth.ParseRole(role); err != nil {
			return refusal(http.StatusBadRequest, err.Error(), "role")
		}
	}
	uid, err := a.Store.UserByName(r.Context(), user)
	if errors.Is(err, store.ErrNotFound) {
		return refusal(http.StatusNotFound, fmt.Sprintf("user %q not found", user), "user")
	}
	if err != nil {
		return err
	}
	if err := a.Store.MembershipSet(r.Context(), team, uid, rl); errors.Is(err, store.ErrNotFound) {
		return refusal(http.StatusNotFound, fmt.Sprintf("team %q not found", team), "team")
	} else if err != nil {
		return err
	}
	a.audit(r, "role changed", team, user, "role="+string(rl))
	return nil
}

// TeamMembers lists a team's members and roles, for its admins (and site admins).
func (a *API) TeamMembers(ctx context.Context, team string) ([]store.Member, error) {
	if !auth.From(ctx).Can(team, auth.Admin) {
		return nil, refusal(http.StatusForbidden, "not allowed: only the team's admins manage its members", "")
	}
	if ok, err := a.Store.TeamExists(ctx, team); err != nil {
		return nil, err
	} else if !ok {
		return nil, refusal(http.StatusNotFound, fmt.Sprintf("team %q not found", team), "team")
	}
	return a.Store.TeamMembers(ctx, team)
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name      string `json:"name"`
	Team      string `json:"team"`
	Role      string `json:"role"`
	ExpiresIn string `json:"expires_in"`
}

// TokenCreated is a new token with its secret, shown this once.
type TokenCreated struct {
	ID        int64      `json:"id"`
	Token     string     `json:"token"`
	Name      string     `json:"name"`
	Team      string     `json:"team"`
	Role      auth.Role  `json:"role"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// tokenCreate makes an API token for the caller, scoped to a team and a
// role no higher than the caller's there; it is shown once.
func (a *API) tokenCreate(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	out, err := a.CreateToken(r, req)
	if err != nil {
		a.writeActionError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// CreateToken makes an API token for the request's user, scoped to a team
// and a role no higher than theirs there, and audits it.
func (a *API) CreateToken(r *http.Request, req TokenRequest) (*TokenCreated, error) {
	p := principal(r)
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		return nil, refusal(http.StatusBadRequest, err.Error(), "role")
	}
	if req.Name == "" || len(req.Name) > 100 {
		return nil, refusal(http.StatusBadRequest, "name must be 1-100 bytes", "name")
	}
	if p.UserID == 0 || !p.Can(req.Team, role) {
		return nil, refusal(http.StatusForbidden, fmt.Sprintf("not allowed: a %s token for team %q needs that role there (and a user account)", role, req.Team), "")
	}
	var expires *time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return nil, refusal(http.StatusBadRequest, "expires_in must be a duration such as 720h", "expires_in")
		}
		t := time.Now().Add(d)
		expires = &t
	}
	plain, hash := auth.NewToken(auth.UserTokenPrefix)
	id, err := a.Store.TokenCreate(r.Context(), store.NewToken{Hash: hash, Name: req.Name, Kind: auth.KindUser,
		UserID: p.UserID, Team: req.Team, Role: role, ExpiresAt: expires})
	if errors.Is(err, store.ErrNotFound) {
		return nil, refusal(http.StatusNotFound, fmt.Sprintf("team %q not found", req.Team), "team")
	}
	if err != nil {
		return nil, err
	}
	a.audit(r, "token created", req.Team, req.Name, "role="+string(role))
	return &TokenCreated{ID: id, Token: plain, Name: req.Name, Team: req.Team, Role: role, ExpiresAt: expires}, nil
}

// OwnTokens lists the tokens of the context's user (none for a principal
// without a user account).
func (a *API) OwnTokens(ctx context.Context) ([]store.Token, error) {
	p := auth.From(ctx)
	if p == nil || p.UserID == 0 {
		return nil, nil
	}
	return a.Store.TokenListByUser(ctx, p.UserID)
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
	if err := a.RevokeToken(r, id); err != nil {
		a.writeActionError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// RevokeToken revokes a token for its owner, its team's admins or a site
// admin (anyone else is told it does not exist), and audits it.
func (a *API) RevokeToken(r *http.Request, id int64) error {
	p := principal(r)
	t, err := a.Store.TokenGet(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return refusal(http.StatusNotFound, "no such token", "id")
	}
	if err != nil {
		return err
	}
	own := t.User != "" && t.User == p.Name && p.UserID != 0
	if !own && !p.SiteAdmin && !(t.Team != "" && p.Can(t.Team, auth.Admin)) {
		return refusal(http.StatusNotFound, "no such token", "id")
	}
	if err := a.Store.TokenRevoke(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	a.audit(r, "token revoked", t.Team, t.Name, "")
	return nil
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
	list, err := a.Audit(r.Context(), r.URL.Query().Get("team"), 0, 500)
	if err != nil {
		a.writeActionError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.List[store.AuditEntry]{Items: list})
}

// Audit reads the audit log newest first, limit entries older than entry
// before (0: the newest): a team's for its admins, everything for site admins.
func (a *API) Audit(ctx context.Context, team string, before int64, limit int) ([]store.AuditEntry, error) {
	p := auth.From(ctx)
	if team == "" && !p.SiteAdmin || team != "" && !p.Can(team, auth.Admin) {
		return nil, refusal(http.StatusForbidden, "not allowed: team admins read their team's audit log (?team=); site admins all", "")
	}
	return a.Store.AuditPage(ctx, team, before, limit)
}
