// Package account serves the account pages: who I am, my teams and API
// tokens, a team's members for its admins, and the audit log. Every
// action goes through the accounts service, so the pages allow exactly
// what the API allows.
package account

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/accounts"
	alertsvc "github.com/pitwall/pitwall/service/alerts"
	ghsvc "github.com/pitwall/pitwall/service/github"
	"github.com/pitwall/pitwall/ui/httperr"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/route"
)

// auditPage is how many audit entries one page shows.
const auditPage = 50

// Handler serves /account and the pages under it.
type Handler struct {
	Accounts *accounts.Service
	// GitHub shows and changes a team's GitHub connection (nil: not shown).
	GitHub *ghsvc.Service
	// Alerts shows and changes a team's notification channels and one's
	// own e-mail address (nil: not shown).
	Alerts *alertsvc.Service
	Log    *slog.Logger
}

// Routes registers the account pages.
func (h Handler) Routes(mux *route.Mux) {
	mux.HandleFunc("GET /account", h.show)
	mux.HandleFunc("POST /account/password", h.passwordChange)
	mux.HandleFunc("POST /account/tokens", h.tokenCreate)
	mux.HandleFunc("POST /account/tokens/{id}/revoke", h.tokenRevoke)
	mux.HandleFunc("GET /account/teams/{team}", h.team)
	mux.HandleFunc("POST /account/teams/{team}/members", h.memberSet)
	mux.HandleFunc("POST /account/teams/{team}/github", h.githubConnect)
	mux.HandleFunc("POST /account/teams/{team}/github/delete", h.githubDisconnect)
	mux.HandleFunc("POST /account/email", h.emailSet)
	mux.HandleFunc("POST /account/teams/{team}/channels", h.channelPut)
	mux.HandleFunc("POST /account/teams/{team}/channels/{name}/delete", h.channelDelete)
	mux.HandleFunc("GET /account/audit", h.audit)
	mux.HandleFunc("GET /account/users", h.users)
	mux.HandleFunc("POST /account/users", h.userCreate)
	mux.HandleFunc("POST /account/users/{name}", h.userUpdate)
	mux.HandleFunc("POST /account/users/{name}/password", h.passwordReset)
	mux.HandleFunc("POST /account/agent-tokens", h.agentTokenCreate)
}

func (h Handler) show(w http.ResponseWriter, r *http.Request) {
	h.showWith(w, r, http.StatusOK, "")
}

// showWith draws the account page with a status and an error message.
func (h Handler) showWith(w http.ResponseWriter, r *http.Request, status int, msg string) {
	m, err := h.load(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m.Error = msg
	if msg == "" && r.URL.Query().Get("password") == "changed" {
		m.Notice = "Password changed; your other sessions are signed out."
	}
	if msg == "" && r.URL.Query().Get("email") == "set" {
		m.Notice = "E-mail address saved."
	}
	layout.Render(w, r, status, page(m))
}

// passwordChange changes the signed-in user's password from the account
// page's form; every other session of theirs ends.
func (h Handler) passwordChange(w http.ResponseWriter, r *http.Request) {
	next := r.PostFormValue("new_password")
	if next != r.PostFormValue("confirm_password") {
		h.showWith(w, r, http.StatusBadRequest, "the new password and its confirmation differ")
		return
	}
	err := h.Accounts.ChangePassword(r.Context(), accounts.PasswordChange{Current: r.PostFormValue("current_password"), New: next})
	if h.refused(w, r, err, h.showWith) {
		return
	}
	http.Redirect(w, r, "/account?password=changed", http.StatusSeeOther)
}

// refused answers err, if any: a refusal on the page again (redraw)
// with its message, anything else as a failure. It reports whether
// there was an error.
func (h Handler) refused(w http.ResponseWriter, r *http.Request, err error,
	redraw func(http.ResponseWriter, *http.Request, int, string)) bool {
	if err == nil {
		return false
	}
	if status := httperr.Status(err); status != http.StatusInternalServerError {
		redraw(w, r, status, httperr.Message(err))
		return true
	}
	h.fail(w, r, err)
	return true
}

func (h Handler) users(w http.ResponseWriter, r *http.Request) {
	h.usersWith(w, r, http.StatusOK, "")
}

// usersWith draws the users page (site admins) with a status and an
// error message.
func (h Handler) usersWith(w http.ResponseWriter, r *http.Request, status int, msg string) {
	list, err := h.Accounts.Users(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tokens, err := h.Accounts.Tokens(r.Context(), "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m := usersModel{Users: list, Error: msg, Me: service.Principal(r.Context()).UserID}
	for _, t := range tokens {
		switch {
		case t.Bootstrap:
			m.Bootstrap = append(m.Bootstrap, t)
		case t.Kind == string(auth.KindAgent):
			m.Agents = append(m.Agents, t)
		}
	}
	layout.Render(w, r, status, usersPage(m))
}

func (h Handler) userCreate(w http.ResponseWriter, r *http.Request) {
	_, err := h.Accounts.CreateUser(r.Context(), accounts.NewUser{Name: r.PostFormValue("name"),
		Password: r.PostFormValue("password"), SiteAdmin: r.PostFormValue("site_admin") == "true"})
	if h.refusedOnUsers(w, r, err) {
		return
	}
	http.Redirect(w, r, "/account/users", http.StatusSeeOther)
}

// refusedOnUsers is refused for the users page, where anyone but a site
// admin gets the plain 403 page (the users page is not theirs to see).
func (h Handler) refusedOnUsers(w http.ResponseWriter, r *http.Request, err error) bool {
	if httperr.Status(err) == http.StatusForbidden && !service.Principal(r.Context()).SiteAdmin {
		h.fail(w, r, err)
		return true
	}
	return h.refused(w, r, err, h.usersWith)
}

// userUpdate disables or enables a user, or grants or revokes site
// admin: the form's disabled or site_admin field ("true" or "false").
func (h Handler) userUpdate(w http.ResponseWriter, r *http.Request) {
	in := accounts.UserUpdate{Disabled: formBool(r, "disabled"), SiteAdmin: formBool(r, "site_admin")}
	_, err := h.Accounts.UpdateUser(r.Context(), r.PathValue("name"), in)
	if h.refusedOnUsers(w, r, err) {
		return
	}
	http.Redirect(w, r, "/account/users", http.StatusSeeOther)
}

// formBool reads a form field holding "true" or "false"; nil when absent.
func formBool(r *http.Request, field string) *bool {
	v := r.PostFormValue(field)
	if v == "" {
		return nil
	}
	b := v == "true"
	return &b
}

// agentTokenCreate makes an agent's token (site admins), shown once.
// Made in a signed-in session, it has no parent token to end with.
func (h Handler) agentTokenCreate(w http.ResponseWriter, r *http.Request) {
	created, err := h.Accounts.CreateAgentToken(r.Context(), r.PostFormValue("agent"))
	if h.refusedOnUsers(w, r, err) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	layout.Render(w, r, http.StatusCreated, agentTokenShown(created))
}

// passwordReset gives a user a new password: the form's, or a random one
// shown on the answer this once.
func (h Handler) passwordReset(w http.ResponseWriter, r *http.Request) {
	set, err := h.Accounts.ResetPassword(r.Context(), r.PathValue("name"), accounts.PasswordReset{Password: r.PostFormValue("password")})
	if h.refusedOnUsers(w, r, err) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	layout.Render(w, r, http.StatusOK, passwordShown(set))
}

func (h Handler) load(r *http.Request) (model, error) {
	p := service.Principal(r.Context())
	m := model{Principal: p}
	for team, role := range p.Teams {
		m.Teams = append(m.Teams, membership{Team: team, Role: string(role)})
	}
	slices.SortFunc(m.Teams, func(a, b membership) int { return cmpString(a.Team, b.Team) })
	if p.SiteAdmin {
		all, err := h.Accounts.Teams(r.Context())
		if err != nil {
			return m, err
		}
		m.AllTeams = all
	}
	tokens, err := h.Accounts.OwnTokens(r.Context())
	if err != nil {
		return m, err
	}
	m.Tokens = tokens
	if h.Alerts != nil {
		m.EmailShown = true
		if m.Email, err = h.Alerts.Email(r.Context()); err != nil {
			return m, err
		}
	}
	return m, nil
}

func (h Handler) tokenCreate(w http.ResponseWriter, r *http.Request) {
	req := accounts.TokenRequest{Name: r.PostFormValue("name"), Team: r.PostFormValue("team"),
		Role: r.PostFormValue("role"), ExpiresIn: r.PostFormValue("expires_in")}
	created, err := h.Accounts.CreateToken(r.Context(), req)
	if h.refused(w, r, err, h.showWith) {
		return
	}
	// The secret is on this page only: never cached, never shown again.
	w.Header().Set("Cache-Control", "no-store")
	layout.Render(w, r, http.StatusCreated, tokenShown(created))
}

func (h Handler) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err := h.Accounts.RevokeToken(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (h Handler) team(w http.ResponseWriter, r *http.Request) {
	h.teamWith(w, r, http.StatusOK, "")
}

func (h Handler) teamWith(w http.ResponseWriter, r *http.Request, status int, msg string) {
	team := r.PathValue("team")
	members, err := h.Accounts.Members(r.Context(), team)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	gh := githubModel{Team: team}
	if h.GitHub != nil {
		gh.Shown = true
		if c, err := h.GitHub.Connection(r.Context(), team); err == nil {
			gh.Conn = c
			gh.Deliveries, _ = h.GitHub.Deliveries(r.Context(), team, 20)
		} else if service.KindOf(err) != service.NotFound {
			h.fail(w, r, err)
			return
		}
	}
	ch := channelsModel{Team: team}
	if h.Alerts != nil {
		ch.Shown = true
		if ch.List, err = h.Alerts.Channels(r.Context(), team); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	layout.Render(w, r, status, teamPage(team, members, msg, gh, ch))
}

// githubConnect connects the team to GitHub from the team page's form;
// the secrets it takes are never shown again.
func (h Handler) githubConnect(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("team")
	req := wire.GitHubConnectionRequest{APIURL: r.PostFormValue("api_url"), Token: r.PostFormValue("token"),
		WebhookSecret: r.PostFormValue("webhook_secret")}
	if key := r.PostFormValue("private_key"); key != "" {
		app, _ := strconv.ParseInt(r.PostFormValue("app_id"), 10, 64)
		inst, _ := strconv.ParseInt(r.PostFormValue("installation_id"), 10, 64)
		req.App = &wire.GitHubAppCredentials{AppID: app, InstallationID: inst, PrivateKey: key}
	}
	_, err := h.GitHub.Connect(r.Context(), team, req)
	h.afterChange(w, r, team, err)
}

func (h Handler) githubDisconnect(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("team")
	h.afterChange(w, r, team, h.GitHub.Disconnect(r.Context(), team))
}

// afterChange shows the team page again with a refusal's message, or
// goes back to it.
func (h Handler) afterChange(w http.ResponseWriter, r *http.Request, team string, err error) {
	if status := httperr.Status(err); err != nil && status != http.StatusInternalServerError && status != http.StatusForbidden {
		h.teamWith(w, r, status, httperr.Message(err))
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/teams/"+url.PathEscape(team), http.StatusSeeOther)
}

func (h Handler) memberSet(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("team")
	role := r.PostFormValue("role")
	err := h.Accounts.SetMember(r.Context(), accounts.Membership{Team: team, User: r.PostFormValue("user"),
		Role: role, Remove: role == "remove"})
	h.afterChange(w, r, team, err)
}

func (h Handler) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var before int64
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "before must be an entry ID", http.StatusBadRequest)
			return
		}
		before = n
	}
	team := q.Get("team")
	list, err := h.Accounts.Audit(r.Context(), accounts.AuditInput{Team: team, Before: before, Limit: auditPage})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	next := ""
	if len(list) == auditPage {
		v := url.Values{"before": {strconv.FormatInt(list[len(list)-1].ID, 10)}}
		if team != "" {
			v.Set("team", team)
		}
		next = "/account/audit?" + v.Encode()
	}
	layout.Render(w, r, http.StatusOK, auditView(team, list, next))
}

// fail answers a service error with its status and message on a page.
func (h Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := httperr.Explain(h.Log, r, err)
	layout.Render(w, r, status, problem(status, msg))
}
