package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newBrowser is an HTTP client that keeps cookies and does not follow redirects.
func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// loginForm opens the stack's sign-in page in browser and fills in its
// form: the fields to post, with the form's CSRF token.
func loginForm(t *testing.T, browser *http.Client, name, password string) url.Values {
	t.Helper()
	return loginFormAt(t, browser, st.URL, name, password)
}

// loginFormAt is loginForm for the server at base.
func loginFormAt(t *testing.T, browser *http.Client, base, name, password string) url.Values {
	t.Helper()
	resp, err := browser.Get(base + "/login")
	require.NoError(t, err)
	defer resp.Body.Close()
	html, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(html)
	require.NotNil(t, m, "the sign-in form carries a CSRF token")
	return url.Values{"name": {name}, "password": {password}, "next": {"/"}, "csrf_token": {string(m[1])}}
}

// browserSession signs a user in through the login page, as a browser
// does, and returns the session cookie with its CSRF token.
func browserSession(t *testing.T, name, password string) credential {
	t.Helper()
	browser := newBrowser()
	form := loginForm(t, browser, name, password)
	resp, err := browser.PostForm(st.URL+"/login", form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "sign in as %s", name)
	c := credential{}
	for _, ck := range resp.Cookies() {
		if ck.Name == "pitwall_session" {
			c.session = ck
		}
	}
	require.NotNil(t, c.session)
	code, body := send(t, c, http.MethodGet, "/api/v1/me", "", "")
	require.Equal(t, http.StatusOK, code, body)
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &me))
	c.csrf = me.CSRF
	return c
}

// A signed-in browser's state-changing requests need the session's CSRF
// token; without it they are refused.
func TestLoginSessionAndCSRF(t *testing.T) {
	t.Parallel()
	browser := newBrowser()
	form := loginForm(t, browser, "admin", "wrong password here")
	resp, err := browser.PostForm(st.URL+"/login", form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	form = loginForm(t, browser, "admin", "e2e admin password")
	form.Set("next", "https://evil.example/")
	resp, err = browser.PostForm(st.URL+"/login", form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/", resp.Header.Get("Location"), "no redirect off the site")
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "pitwall_session" {
			session = c
		}
	}
	require.NotNil(t, session)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, session.SameSite)

	resp, err = browser.Get(st.URL + "/api/v1/me")
	require.NoError(t, err)
	var me struct {
		Name string `json:"name"`
		CSRF string `json:"csrf_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&me))
	resp.Body.Close()
	require.Equal(t, "admin", me.Name)
	require.NotEmpty(t, me.CSRF)

	st.Apply(t, "name: csrf-fw\nexecution: {script: \"#!/bin/sh\\n\"}\n")
	post := func(csrf string) int {
		req, _ := http.NewRequest(http.MethodPost, st.URL+"/api/v1/tests", bytes.NewReader([]byte(`{"framework":"csrf-fw"}`)))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := browser.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusForbidden, post(""), "no CSRF token")
	require.Equal(t, http.StatusForbidden, post("forged"), "wrong CSRF token")
	require.Equal(t, http.StatusCreated, post(me.CSRF))

	resp, err = browser.Get(st.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}

// Failed sign-ins are limited per user name and address: past five
// failures for a name, an attempt waits for the budget's refill (one every
// 12 s) instead of the name being locked out, and a burst that would wait
// longer than 15 s is refused.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	browser := newBrowser()
	try := func() int {
		resp, err := browser.PostForm(st.URL+"/login", loginForm(t, browser, "nobody-rate", "wrong wrong wrong"))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	first := time.Now()
	for range 5 {
		require.Equal(t, http.StatusUnauthorized, try())
	}
	require.Equal(t, http.StatusUnauthorized, try(), "the sixth is checked, after a wait")
	// The five spent the name's budget; the sixth waited for one place to
	// come back, 12 s after the first was spent (however slow the hashes).
	require.Greater(t, time.Since(first), 11*time.Second)
	codes := make(chan int, 3)
	for range 3 {
		go func() { codes <- try() }()
	}
	refused := 0
	for range 3 {
		if <-codes == http.StatusTooManyRequests {
			refused++
		}
	}
	require.Positive(t, refused, "a burst past the wait is refused")

	// Successful sign-ins are not counted: a person (or a browser test)
	// signing in often is never throttled.
	for range 8 {
		resp, err := browser.PostForm(st.URL+"/login", loginForm(t, browser, "admin", "e2e admin password"))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	}
}
