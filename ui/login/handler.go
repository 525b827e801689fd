package login

import (
	"errors"
	"net/http"
	"strings"

	"github.com/pitwall/pitwall/ui/authn"
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
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = form(safeNext(r.URL.Query().Get("next")), "").Render(r.Context(), w)
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
		} else if !errors.Is(err, authn.ErrBadLogin) {
			status, msg = http.StatusServiceUnavailable, "could not sign in; retry"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = form(next, msg).Render(r.Context(), w)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h Handler) confirm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = signOut(h.Authn.CSRF(r)).Render(r.Context(), w)
}

func (h Handler) logout(w http.ResponseWriter, r *http.Request) {
	h.Authn.Logout(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps redirects after sign-in on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
