// Package account serves the account pages: who I am, my teams and API
// tokens, a team's members for its admins, and the audit log. Every
// action goes through the API's own code (ui/api), so the pages allow
// exactly what the API allows.
package account

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/ui/api"
	"github.com/pitwall/pitwall/ui/layout"
)

// auditPage is how many audit entries one page shows.
const auditPage = 50

// Handler serves /account and the pages under it.
type Handler struct {
	API *api.API
	Log *slog.Logger
}

// Routes registers the account pages.
func (h Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /account", h.show)
	mux.HandleFunc("POST /account/tokens", h.tokenCreate)
	mux.HandleFunc("POST /account/tokens/{id}/revoke", h.tokenRevoke)
	mux.HandleFunc("GET /account/teams/{team}", h.team)
	mux.HandleFunc("POST /account/teams/{team}/members", h.memberSet)
	mux.HandleFunc("GET /account/audit", h.audit)
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
	layout.Render(w, r, status, page(m))
}

func (h Handler) load(r *http.Request) (model, error) {
	p := auth.From(r.Context())
	m := model{Principal: p}
	for team, role := range p.Teams {
		m.Teams = append(m.Teams, membership{Team: team, Role: string(role)})
	}
	slices.SortFunc(m.Teams, func(a, b membership) int { return cmpString(a.Team, b.Team) })
	if p.SiteAdmin {
		all, err := h.API.Store.TeamList(r.Context())
		if err != nil {
			return m, err
		}
		m.AllTeams = all
	}
	tokens, err := h.API.OwnTokens(r.Context())
	if err != nil {
		return m, err
	}
	m.Tokens = tokens
	return m, nil
}

func (h Handler) tokenCreate(w http.ResponseWriter, r *http.Request) {
	req := api.TokenRequest{Name: r.PostFormValue("name"), Team: r.PostFormValue("team"),
		Role: r.PostFormValue("role"), ExpiresIn: r.PostFormValue("expires_in")}
	created, err := h.API.CreateToken(r, req)
	var rf *api.Refusal
	if errors.As(err, &rf) {
		h.showWith(w, r, rf.Status, rf.Msg)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The secret is on this page only: never cached, never shown again.
	w.Header().Set("Cache-Control", "no-store")
	layout.Render(w, r, http.StatusCreated, tokenShown(created))
}

func (h Handler) tokenRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "token IDs are positive numbers", http.StatusBadRequest)
		return
	}
	if err := h.API.RevokeToken(r, id); err != nil {
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
	members, err := h.API.TeamMembers(r.Context(), team)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	layout.Render(w, r, status, teamPage(team, members, msg))
}

func (h Handler) memberSet(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("team")
	role := r.PostFormValue("role")
	if role == "remove" {
		role = ""
	} else if role == "" {
		role = "none" // no role chosen: the API's role check refuses it
	}
	err := h.API.SetMember(r, team, r.PostFormValue("user"), role)
	var rf *api.Refusal
	if errors.As(err, &rf) && rf.Status != http.StatusForbidden {
		h.teamWith(w, r, rf.Status, rf.Msg)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/teams/"+url.PathEscape(team), http.StatusSeeOther)
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
	list, err := h.API.Audit(r.Context(), team, before, auditPage)
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

// fail answers an action's refusal with its status, anything else with 500.
func (h Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var rf *api.Refusal
	if errors.As(err, &rf) {
		layout.Render(w, r, rf.Status, problem(rf.Status, rf.Msg))
		return
	}
	h.Log.Error("account page", "path", r.URL.Path, "error", err)
	layout.Render(w, r, http.StatusInternalServerError, problem(http.StatusInternalServerError, "could not load the page; the server log has the details"))
}
