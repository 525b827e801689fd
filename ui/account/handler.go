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

	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/accounts"
	"github.com/pitwall/pitwall/ui/httperr"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/route"
)

// auditPage is how many audit entries one page shows.
const auditPage = 50

// Handler serves /account and the pages under it.
type Handler struct {
	Accounts *accounts.Service
	Log      *slog.Logger
}

// Routes registers the account pages.
func (h Handler) Routes(mux *route.Mux) {
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
	return m, nil
}

func (h Handler) tokenCreate(w http.ResponseWriter, r *http.Request) {
	req := accounts.TokenRequest{Name: r.PostFormValue("name"), Team: r.PostFormValue("team"),
		Role: r.PostFormValue("role"), ExpiresIn: r.PostFormValue("expires_in")}
	created, err := h.Accounts.CreateToken(r.Context(), req)
	if status := httperr.Status(err); err != nil && status != http.StatusInternalServerError {
		h.showWith(w, r, status, httperr.Message(err))
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
	layout.Render(w, r, status, teamPage(team, members, msg))
}

func (h Handler) memberSet(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("team")
	role := r.PostFormValue("role")
	err := h.Accounts.SetMember(r.Context(), accounts.Membership{Team: team, User: r.PostFormValue("user"),
		Role: role, Remove: role == "remove"})
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
