package login

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/ui/authn"
	"github.com/pitwall/pitwall/ui/route"
)

// Only local paths are accepted as next; everything a browser could turn
// into another site goes home.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	for next, want := range map[string]string{
		"/tests/5":                "/tests/5",
		"/trends?framework=a&k=b": "/trends?framework=a&k=b",
		"":                        "/",
		"tests":                   "/",
		"//evil.example":          "/",
		"/\\evil.example":         "/",
		"/\t/evil.example":        "/",
		"/\n/evil.example":        "/",
		"/\r/evil.example":        "/",
		"\t//evil.example":        "/",
		"https://evil.example/":   "/",
		"javascript:alert(1)":     "/",
		"/%09/evil.example":       "/%09/evil.example", // stays a path: the escape is not undone by browsers
		"/\u0000/evil.example":    "/",
	} {
		require.Equal(t, want, safeNext(next), "%q", next)
	}
}

// The sign-in form carries a token bound to a pre-session cookie; a sign-in
// posted without it (from another site, to sign the victim in to the
// attacker's account) is refused before any password is checked, and the
// form is shown again with a fresh token.
func TestSignInNeedsTheFormsToken(t *testing.T) {
	t.Parallel()
	mux := route.NewMux()
	Handler{Authn: &authn.Authn{}}.Routes(mux)
	h := mux.Serve(func(h http.Handler) http.Handler { return h })

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login", nil))
	require.Equal(t, http.StatusOK, w.Code)
	cookie := loginCookie(t, w)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	require.Equal(t, "/login", cookie.Path)
	require.Equal(t, cookie.Value, formToken(t, w.Body.String()), "the form carries the cookie's token")

	// Shown again, the form keeps the browser's token.
	r := httptest.NewRequest(http.MethodGet, "/login", nil)
	r.AddCookie(cookie)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, cookie.Value, formToken(t, w.Body.String()))

	post := func(token string, c *http.Cookie) *httptest.ResponseRecorder {
		form := url.Values{"name": {"attacker"}, "password": {"attacker's password"}, "next": {"/"}}
		if token != "" {
			form.Set("csrf_token", token)
		}
		r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		// The Authn has no store: a sign-in that got as far as checking
		// the password would panic.
		h.ServeHTTP(w, r)
		return w
	}
	for name, w := range map[string]*httptest.ResponseRecorder{
		"no token, no cookie (another site's form)": post("", nil),
		"the attacker's own token, no cookie":       post(cookie.Value, nil),
		"a cookie, no token":                        post("", cookie),
		"a cookie and another token":                post("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", cookie),
	} {
		require.Equal(t, http.StatusForbidden, w.Code, name)
		require.Contains(t, w.Body.String(), "sent from another site", name)
		require.NotEmpty(t, formToken(t, w.Body.String()), "%s: the form is shown again", name)
		require.Empty(t, w.Result().Header.Values("Location"), name)
	}
}

func loginCookie(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == authn.LoginCookie {
			return c
		}
	}
	t.Fatal("no pre-session cookie")
	return nil
}

func formToken(t *testing.T, html string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]*)"`).FindStringSubmatch(html)
	require.NotNil(t, m, "the form has a csrf_token field")
	return m[1]
}
