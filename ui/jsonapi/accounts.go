package jsonapi

import (
	"net/http"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/accounts"
	"github.com/pitwall/pitwall/ui/route"
)

func (a *API) accountRoutes(mux *route.Mux) {
	site, admin := route.Policy{Need: route.SiteAdmin}, route.Policy{Need: route.TeamAdmin}
	mux.HandleFunc("GET /api/v1/me", a.me)
	mux.Route("POST /api/v1/me/password", route.Policy{Need: route.User}, a.passwordChange)
	mux.HandleFunc("GET /api/v1/users", a.userList)
	mux.Route("POST /api/v1/users", site, a.userCreate)
	mux.Route("PATCH /api/v1/users/{name}", site, a.userUpdate)
	mux.Route("POST /api/v1/users/{name}/password", site, a.passwordReset)
	mux.Route("POST /api/v1/teams", site, a.teamCreate)
	mux.Route("PUT /api/v1/teams/{team}/members/{user}", admin, a.memberSet)
	mux.Route("DELETE /api/v1/teams/{team}/members/{user}", admin, a.memberSet)
	mux.HandleFunc("GET /api/v1/audit", a.auditList)
}

// me says who the request acts for; a signed-in browser also gets its
// session's CSRF token, to send as X-CSRF-Token on changes.
func (a *API) me(w http.ResponseWriter, r *http.Request) {
	p := service.Principal(r.Context())
	out := map[string]any{"name": p.Name, "kind": p.Kind, "site_admin": p.SiteAdmin, "teams": p.Teams}
	if p.TokenID == 0 {
		out["csrf_token"] = p.CSRF
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) userCreate(w http.ResponseWriter, r *http.Request) {
	var req accounts.NewUser
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.Accounts.CreateUser(r.Context(), req)
	a.answer(w, r, http.StatusCreated, out, err)
}

// passwordChange changes the caller's own password, given the current
// one; every other session of theirs ends.
func (a *API) passwordChange(w http.ResponseWriter, r *http.Request) {
	var req accounts.PasswordChange
	err := decodeJSON(r, &req)
	if err == nil {
		err = a.Accounts.ChangePassword(r.Context(), req)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// userList lists every user with their roles (site admins).
func (a *API) userList(w http.ResponseWriter, r *http.Request) {
	list, err := a.Accounts.Users(r.Context())
	a.answer(w, r, http.StatusOK, wire.List[store.User]{Items: list}, err)
}

// userUpdate disables or enables a user and grants or revokes site admin
// (site admins): {"disabled": true} or {"site_admin": false}, or both.
func (a *API) userUpdate(w http.ResponseWriter, r *http.Request) {
	var req accounts.UserUpdate
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.Accounts.UpdateUser(r.Context(), r.PathValue("name"), req)
	a.answer(w, r, http.StatusOK, out, err)
}

// passwordReset gives a user a new password (site admins): the one sent,
// or a random one that the answer shows this once.
func (a *API) passwordReset(w http.ResponseWriter, r *http.Request) {
	var req accounts.PasswordReset
	if r.ContentLength != 0 { // no body: a random password
		if err := decodeJSON(r, &req); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	out, err := a.Accounts.ResetPassword(r.Context(), r.PathValue("name"), req)
	w.Header().Set("Cache-Control", "no-store")
	a.answer(w, r, http.StatusOK, out, err)
}

func (a *API) teamCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	err := decodeJSON(r, &req)
	if err == nil {
		err = a.Accounts.CreateTeam(r.Context(), req.Name)
	}
	a.answer(w, r, http.StatusCreated, map[string]string{"name": req.Name}, err)
}

// memberSet gives a user a role in a team (PUT {"role": ...}) or removes
// them (DELETE); team admins and site admins only.
func (a *API) memberSet(w http.ResponseWriter, r *http.Request) {
	m := accounts.Membership{Team: r.PathValue("team"), User: r.PathValue("user"), Remove: r.Method == http.MethodDelete}
	var err error
	if !m.Remove {
		var req struct {
			Role string `json:"role"`
		}
		err = decodeJSON(r, &req)
		m.Role = req.Role
	}
	if err == nil {
		err = a.Accounts.SetMember(r.Context(), m)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// auditList shows the audit log: a team's (?team=, team admins) or all (site admins).
func (a *API) auditList(w http.ResponseWriter, r *http.Request) {
	list, err := a.Accounts.Audit(r.Context(), accounts.AuditInput{Team: r.URL.Query().Get("team"), Limit: 500})
	a.answer(w, r, http.StatusOK, wire.List[store.AuditEntry]{Items: list}, err)
}
