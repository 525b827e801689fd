package login

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/ui/authn"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/route"
)

// Handler serves /login and /logout.
type Handler struct {
	Authn *authn.Authn
}

// Routes registers the sign-in and sign-out pages.
func (h Handler) Routes(mux *route.Mux) {
	mux.HandleFunc("GET /login", h.show)
	mux.Route("POST /login", route.Policy{Body: 16 << 10}, h.submit)
	mux.HandleFunc("GET /logout", h.confirm)
	mux.HandleFunc("POST /logout", h.logout)
}

func (h Handler) show(w http.ResponseWriter, r *http.Request) {
	layout.Render(w, r, http.StatusOK, form(safeNext(r.URL.Query().Get("next")), "", h.Authn.LoginToken(w, r)))
}

// submit signs in. A form without the token of this browser's sign-in
// form was posted by another site (login CSRF: signing the victim in to
// the attacker's account) or outlived its cookie: it is refused before
// any budget is spent or password checked, and the form shown again.
func (h Handler) submit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		status, msg := http.StatusBadRequest, "could not read the sign-in form"
		if limit, ok := route.IsTooLarge(err); ok {
			status, msg = http.StatusRequestEntityTooLarge, route.TooLarge(limit)
		}
		http.Error(w, msg, status)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if err := h.Authn.CheckLoginToken(r); err != nil {
		layout.Render(w, r, http.StatusForbidden, form(next, err.Error(), h.Authn.LoginToken(w, r)))
		return
	}
	err := h.Authn.Login(w, r, r.PostFormValue("name"), r.PostFormValue("password"))
	if err != nil {
		status := http.StatusUnauthorized
		msg := authn.ErrBadLogin.Error()
		if errors.Is(err, authn.ErrTooMany) {
			status, msg = http.StatusTooManyRequests, err.Error()
		} else if errors.Is(err, authn.ErrDisabled) {
			status, msg = http.StatusForbidden, err.Error()
		} else if !errors.Is(err, authn.ErrBadLogin) {
			status, msg = http.StatusServiceUnavailable, "could not sign in; retry"
		}
		layout.Render(w, r, status, form(next, msg, h.Authn.LoginToken(w, r)))
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h Handler) confirm(w http.ResponseWriter, r *http.Request) {
	layout.Render(w, r, http.StatusOK, signOut(auth.From(r.Context()).CSRF))
}

func (h Handler) logout(w http.ResponseWriter, r *http.Request) {
	h.Authn.Logout(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps redirects after sign-in on this site: a local path and
// query only. Browsers drop tabs and line breaks from a URL and read a
// backslash as a slash, so "/\t/evil.example" would leave the site: any
// of those, or any other control character, sends the user home instead.
func safeNext(next string) string {
	if strings.IndexFunc(next, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) >= 0 {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}
