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
)

// Handler serves /login and /logout.
type Handler struct {
	Authn *authn.Authn
}

// Routes registers the sign-in and sign-out pages.
func (h Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", h.show)
	mux.HandleFunc("POST /login", h.submit)
	mux.HandleFunc("GET /logout", h.confirm)
	mux.HandleFunc("POST /logout", h.logout)
}

func (h Handler) show(w http.ResponseWriter, r *http.Request) {
	layout.Render(w, r, http.StatusOK, form(safeNext(r.URL.Query().Get("next")), ""))
}

func (h Handler) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	next := safeNext(r.PostFormValue("next"))
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
		layout.Render(w, r, status, form(next, msg))
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
