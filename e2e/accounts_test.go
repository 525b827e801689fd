package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/ui/server"
)

// These tests try what an attacker (or a careless script) would against
// accounts and tokens. Each step says what it tries and the status it
// must get; a step that gets another is reported and the test goes on, so
// one run against older code lists every step that once let it through.

// expect checks one step's status, logging it either way, and reports
// whether it was the one wanted (so the answer's body is worth checking).
func expect(t *testing.T, what string, got, want int, body string) bool {
	t.Helper()
	t.Logf("step: %s: %d (want %d)", what, got, want)
	if got != want {
		t.Errorf("%s: got %d, want %d: %.300s", what, got, want, body)
	}
	return got == want
}

// client is a browser (a cookie jar and the session's CSRF token) or a
// script (a token) against one server.
type client struct {
	t     *testing.T
	base  string
	token string
	csrf  string
	http  *http.Client
}

func newClient(t *testing.T, base, token string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, token: token, http: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login signs in at base and returns the browser and the sign-in's status.
func login(t *testing.T, base, name, password string) (*client, int) {
	t.Helper()
	c := newClient(t, base, "")
	resp, err := c.http.PostForm(base+"/login", loginFormAt(t, c.http, base, name, password))
	require.NoError(t, err)
	resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther {
		var me struct {
			CSRF string `json:"csrf_token"`
		}
		code, body := c.do(http.MethodGet, "/api/v1/me", "")
		require.Equal(t, http.StatusOK, code, body)
		require.NoError(t, json.Unmarshal([]byte(body), &me))
		c.csrf = me.CSRF
	}
	return c, resp.StatusCode
}

// do sends a JSON request (the CSRF header for a browser, the token for a
// script) and checks a successful API answer against the OpenAPI document.
func (c *client) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 && strings.HasPrefix(path, "/api/") {
		checkResponse(c.t, req, resp.StatusCode, resp.Header, b)
	}
	return resp.StatusCode, string(b)
}

// form posts a page's form, with the session's CSRF field.
func (c *client) form(path string, v url.Values) (int, string, string) {
	c.t.Helper()
	v.Set("csrf_token", c.csrf)
	resp, err := c.http.PostForm(c.base+path, v)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

// me is GET /api/v1/me's status.
func (c *client) me() int {
	code, _ := c.do(http.MethodGet, "/api/v1/me", "")
	return code
}

// newToken makes an API token as c and returns its secret and ID ("" when refused).
func (c *client) newToken(what, body string, want int) (string, int64) {
	c.t.Helper()
	code, out := c.do(http.MethodPost, "/api/v1/tokens", body)
	expect(c.t, what, code, want, out)
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	if code == http.StatusCreated {
		require.NoError(c.t, json.Unmarshal([]byte(out), &tok))
	}
	return tok.Token, tok.ID
}

const dashPassword = "dash password 12345"

// Changing one's password needs the current one, refuses a weak new one
// with a clear error, and ends the user's other sessions (not this one).
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	user(t, "acct-pw", "default", "viewer")
	s1, _ := login(t, st.URL, "acct-pw", dashPassword)
	s2, _ := login(t, st.URL, "acct-pw", dashPassword)
	change := func(current, next string) (int, string) {
		return s1.do(http.MethodPost, "/api/v1/me/password",
			fmt.Sprintf(`{"current_password":%q,"new_password":%q}`, current, next))
	}
	code, body := change("not my password at all", "a brand new password")
	if expect(t, "change with a wrong current password", code, http.StatusBadRequest, body) {
		require.Contains(t, body, `"field": "current_password"`)
	}
	code, body = change(dashPassword, "short")
	if expect(t, "change to a 5-character password", code, http.StatusBadRequest, body) {
		require.Contains(t, body, "at least 12 characters")
	}
	code, body = change(dashPassword, "aaaaaaaaaaaaaaaa")
	expect(t, "change to one letter repeated", code, http.StatusBadRequest, body)
	code, body = change(dashPassword, "acct new password 2024")
	expect(t, "change with the current password", code, http.StatusNoContent, body)

	expect(t, "the other session after the change", s2.me(), http.StatusUnauthorized, "")
	expect(t, "the session that changed it", s1.me(), http.StatusOK, "")
	_, code = login(t, st.URL, "acct-pw", dashPassword)
	expect(t, "sign-in with the old password", code, http.StatusUnauthorized, "")
	s3, code := login(t, st.URL, "acct-pw", "acct new password 2024")
	expect(t, "sign-in with the new password", code, http.StatusSeeOther, "")

	// The form on /account does the same, without JavaScript.
	code, html, _ := s1.form("/account/password", url.Values{"current_password": {"acct new password 2024"},
		"new_password": {"third password here"}, "confirm_password": {"third password typo"}})
	expect(t, "account page form, confirmation differs", code, http.StatusBadRequest, html)
	code, html, loc := s1.form("/account/password", url.Values{"current_password": {"acct new password 2024"},
		"new_password": {"third password here"}, "confirm_password": {"third password here"}})
	if expect(t, "account page form", code, http.StatusSeeOther, html) {
		require.Equal(t, "/account?password=changed", loc)
		_, html = s1.getPage("/account?password=changed")
		require.Contains(t, html, "Password changed")
	}
	expect(t, "the third session after the page's change", s3.me(), http.StatusUnauthorized, "")
}

func (c *client) getPage(path string) (int, string) {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Site admins disable and enable users (a disabled user's sessions end
// and tokens stop at once, and they cannot sign in), reset passwords and
// grant or revoke site admin; nobody else may, and an admin cannot lock
// themself out.
func TestSiteAdminsManageUsers(t *testing.T) {
	t.Parallel()
	admin := newClient(t, st.URL, st.Token)
	user(t, "acct-managed", "default", "member")
	sess, _ := login(t, st.URL, "acct-managed", dashPassword)
	tok, _ := sess.newToken("a token made signed in", `{"name":"ci","team":"default","role":"member","expires_in":"24h"}`, http.StatusCreated)
	script := newClient(t, st.URL, tok)

	code, body := admin.do(http.MethodGet, "/api/v1/users", "")
	if expect(t, "site admin lists users", code, http.StatusOK, body) {
		require.Contains(t, body, `"name": "acct-managed"`)
	}
	code, body = sess.do(http.MethodGet, "/api/v1/users", "")
	expect(t, "a member lists users", code, http.StatusForbidden, body)
	code, body = sess.do(http.MethodPatch, "/api/v1/users/acct-managed", `{"site_admin":true}`)
	expect(t, "a member makes themself site admin", code, http.StatusForbidden, body)

	code, body = admin.do(http.MethodPatch, "/api/v1/users/acct-managed", `{"disabled":true}`)
	expect(t, "site admin disables the user", code, http.StatusOK, body)
	expect(t, "the disabled user's session", sess.me(), http.StatusUnauthorized, "")
	expect(t, "the disabled user's token", script.me(), http.StatusUnauthorized, "")
	_, code = login(t, st.URL, "acct-managed", dashPassword)
	expect(t, "the disabled user signs in", code, http.StatusForbidden, "")

	code, body = admin.do(http.MethodPatch, "/api/v1/users/acct-managed", `{"disabled":false}`)
	expect(t, "site admin enables the user", code, http.StatusOK, body)
	expect(t, "the token once enabled again", script.me(), http.StatusOK, "")
	expect(t, "the ended session once enabled again", sess.me(), http.StatusUnauthorized, "")

	code, body = admin.do(http.MethodPost, "/api/v1/users/acct-managed/password", `{"password":"weak"}`)
	expect(t, "site admin sets a weak password", code, http.StatusBadRequest, body)
	fresh, _ := login(t, st.URL, "acct-managed", dashPassword)
	code, body = admin.do(http.MethodPost, "/api/v1/users/acct-managed/password", `{}`)
	expect(t, "site admin resets the password", code, http.StatusOK, body)
	var reset struct {
		Password string `json:"password"`
	}
	_ = json.Unmarshal([]byte(body), &reset)
	expect(t, "the user's session after the reset", fresh.me(), http.StatusUnauthorized, "")
	_, code = login(t, st.URL, "acct-managed", dashPassword)
	expect(t, "sign-in with the password before the reset", code, http.StatusUnauthorized, "")
	_, code = login(t, st.URL, "acct-managed", reset.Password)
	expect(t, "sign-in with the reset password", code, http.StatusSeeOther, "")
	code, body = admin.do(http.MethodPost, "/api/v1/users/acct-managed/password", `{"password":"set by the admin 42"}`)
	if expect(t, "site admin sets the password", code, http.StatusOK, body) {
		require.NotContains(t, body, "set by the admin 42", "a password the admin chose is not echoed")
	}
	sess, code = login(t, st.URL, "acct-managed", "set by the admin 42")
	expect(t, "sign-in with the password the admin set", code, http.StatusSeeOther, "")

	code, body = admin.do(http.MethodPatch, "/api/v1/users/acct-managed", `{"site_admin":true}`)
	if expect(t, "site admin grants site admin", code, http.StatusOK, body) {
		_, body = sess.do(http.MethodGet, "/api/v1/me", "")
		require.Contains(t, body, `"site_admin": true`)
	}
	code, body = admin.do(http.MethodPatch, "/api/v1/users/acct-managed", `{"site_admin":false}`)
	if expect(t, "site admin revokes site admin", code, http.StatusOK, body) {
		_, body = sess.do(http.MethodGet, "/api/v1/me", "")
		require.Contains(t, body, `"site_admin": false`)
	}
	code, body = sess.do(http.MethodGet, "/api/v1/users", "")
	expect(t, "the demoted user lists users", code, http.StatusForbidden, body)

	// A site admin cannot lock themself out, nor take over their own
	// account without the current password.
	code, body = admin.do(http.MethodPost, "/api/v1/users", `{"name":"acct-self","password":"dash password 12345","site_admin":true}`)
	require.Contains(t, []int{http.StatusCreated, http.StatusConflict}, code, body)
	self, _ := login(t, st.URL, "acct-self", dashPassword)
	code, body = self.do(http.MethodPatch, "/api/v1/users/acct-self", `{"disabled":true}`)
	expect(t, "a site admin disables themself", code, http.StatusConflict, body)
	code, body = self.do(http.MethodPost, "/api/v1/users/acct-self/password", `{}`)
	expect(t, "a site admin resets their own password", code, http.StatusForbidden, body)
	code, body = admin.do(http.MethodPatch, "/api/v1/users/nobody-such", `{"disabled":true}`)
	expect(t, "disable a user who does not exist", code, http.StatusNotFound, body)
}

// A token made with a token is bounded by it: no later expiry (and an
// expiry whenever it has one), no wider scope, and it stops working when
// its parent is revoked or expires.
func TestTokenLineage(t *testing.T) {
	t.Parallel()
	user(t, "acct-lineage", "default", "member")
	sess, _ := login(t, st.URL, "acct-lineage", dashPassword)
	parent, parentID := sess.newToken("parent A made signed in (1h)", `{"name":"a","team":"default","role":"member","expires_in":"1h"}`, http.StatusCreated)
	a := newClient(t, st.URL, parent)

	forever, _ := a.newToken("A mints B with no expiry", `{"name":"forever","team":"default","role":"member"}`, http.StatusBadRequest)
	later, _ := a.newToken("A mints B expiring after A (2h)", `{"name":"later","team":"default","role":"member","expires_in":"2h"}`, http.StatusBadRequest)
	a.newToken("A (member) mints an admin token", `{"name":"up","team":"default","role":"admin","expires_in":"10m"}`, http.StatusForbidden)
	viewer, _ := sess.newToken("viewer token V made signed in", `{"name":"v","team":"default","role":"viewer","expires_in":"1h"}`, http.StatusCreated)
	newClient(t, st.URL, viewer).newToken("V (viewer) mints a member token", `{"name":"up","team":"default","role":"member","expires_in":"10m"}`, http.StatusForbidden)
	child, _ := a.newToken("A mints B (30m)", `{"name":"b","team":"default","role":"member","expires_in":"30m"}`, http.StatusCreated)
	grandchild, _ := newClient(t, st.URL, child).newToken("B mints C (10m)", `{"name":"c","team":"default","role":"viewer","expires_in":"10m"}`, http.StatusCreated)

	code, body := sess.do(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", parentID), "")
	expect(t, "revoke A", code, http.StatusNoContent, body)
	expect(t, "A after its revocation", a.me(), http.StatusUnauthorized, "")
	expect(t, "B (child of A) after A's revocation", newClient(t, st.URL, child).me(), http.StatusUnauthorized, "")
	expect(t, "C (grandchild of A) after A's revocation", newClient(t, st.URL, grandchild).me(), http.StatusUnauthorized, "")
	for what, tok := range map[string]string{"B with no expiry": forever, "B expiring after A": later} {
		if tok != "" {
			expect(t, what+" after A's revocation", newClient(t, st.URL, tok).me(), http.StatusUnauthorized, "")
		}
	}

	// Expiry: a child cannot outlive a parent that expires.
	short, _ := sess.newToken("parent S made signed in (2s)", `{"name":"s","team":"default","role":"member","expires_in":"2s"}`, http.StatusCreated)
	escaped, _ := newClient(t, st.URL, short).newToken("S mints a token for 1h", `{"name":"escape","team":"default","role":"member","expires_in":"1h"}`, http.StatusBadRequest)
	time.Sleep(2500 * time.Millisecond)
	if escaped != "" {
		expect(t, "S's 1h child after S expired", newClient(t, st.URL, escaped).me(), http.StatusUnauthorized, "")
	}
}

// freshServer serves a second Pitwall on a database of its own (the
// package's site admin and bootstrap token are shared by every test and
// must stay): Bootstrap with token runs again at each restart.
type freshServer struct {
	URL   string
	Store *store.Store
}

func newFreshServer(t *testing.T) *freshServer {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(st.DBURL)
	require.NoError(t, err)
	name := fmt.Sprintf("fresh_%d", time.Now().UnixNano())
	_, err = st.Pool.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	dbURL := strings.Replace(st.DBURL, "/"+cfg.Database, "/"+name, 1)
	pool, err := store.Connect(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(func() {
		pool.Close()
		_, _ = st.Pool.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
	})
	log := slog.New(slog.DiscardHandler)
	require.NoError(t, migrations.Apply(ctx, pool, log))
	s := store.New(pool)
	srv := httptest.NewServer(server.New(server.Deps{Store: s, Temporal: st.Temporal, Log: log}))
	t.Cleanup(srv.Close)
	return &freshServer{URL: srv.URL, Store: s}
}

// restart runs the server's start-up bootstrap again, as a restart with
// PITWALL_BOOTSTRAP_TOKEN set to token would.
func (f *freshServer) restart(t *testing.T, token string) {
	t.Helper()
	_, err := server.Bootstrap(context.Background(), f.Store, token, "fresh admin password", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
}

// The bootstrap token can be retired like any token: it stops working,
// so does every token made with it, and no restart brings one back. The
// last enabled site admin can be neither demoted nor disabled.
func TestBootstrapTokenRetiresAndLastAdminStays(t *testing.T) {
	t.Parallel()
	f := newFreshServer(t)
	first := "pwt_fresh-bootstrap-token-0123456789abcdef"
	f.restart(t, first)
	boot := newClient(t, f.URL, first)

	code, body := boot.do(http.MethodPatch, "/api/v1/users/admin", `{"site_admin":false}`)
	expect(t, "demote the only site admin", code, http.StatusConflict, body)
	code, body = boot.do(http.MethodPatch, "/api/v1/users/admin", `{"disabled":true}`)
	expect(t, "disable the only site admin", code, http.StatusConflict, body)
	code, body = boot.do(http.MethodPost, "/api/v1/users", `{"name":"admin2","password":"second admin password","site_admin":true}`)
	expect(t, "create a second site admin", code, http.StatusCreated, body)
	code, body = boot.do(http.MethodPatch, "/api/v1/users/admin", `{"site_admin":false}`)
	expect(t, "demote one of two site admins", code, http.StatusOK, body)
	code, body = boot.do(http.MethodPatch, "/api/v1/users/admin2", `{"disabled":true}`)
	expect(t, "disable the last site admin left", code, http.StatusConflict, body)
	code, body = boot.do(http.MethodPatch, "/api/v1/users/admin", `{"site_admin":true}`)
	expect(t, "make admin site admin again", code, http.StatusOK, body)

	code, body = boot.do(http.MethodPost, "/api/v1/agent-tokens", `{"agent":"fresh-agent"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var agentTok struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &agentTok))
	agent := newClient(t, f.URL, agentTok.Token)
	// An agent's token that authenticates is refused people's API (403);
	// one that does not is 401.
	expect(t, "the agent token made with the bootstrap token", agent.me(), http.StatusForbidden, "")

	// An agent token made signed in has no parent: it outlives the bootstrap token.
	site, code := login(t, f.URL, "admin", "fresh admin password")
	require.Equal(t, http.StatusSeeOther, code)
	code, html, _ := site.form("/account/agent-tokens", url.Values{"agent": {"fresh-agent"}})
	require.Equal(t, http.StatusCreated, code, html)
	m := regexp.MustCompile(`<code id="token-secret"[^>]*>(pwa_[^<]+)</code>`).FindStringSubmatch(html)
	require.NotNil(t, m, html)
	kept := newClient(t, f.URL, m[1])
	_, html = site.getPage("/account/users")
	require.Contains(t, element(html, `<table id="agent-tokens"`, "</table>"), "the bootstrap token")
	require.Contains(t, element(html, `<table id="agent-tokens"`, "</table>"), "signed in")

	code, body = boot.do(http.MethodGet, "/api/v1/tokens", "")
	require.Equal(t, http.StatusOK, code, body)
	var list struct {
		Items []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
			User string `json:"user"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	var bootID int64
	for _, tk := range list.Items {
		if tk.Name == "bootstrap" && tk.User == "" {
			bootID = tk.ID
		}
	}
	require.NotZero(t, bootID, body)
	code, body = boot.do(http.MethodDelete, fmt.Sprintf("/api/v1/tokens/%d", bootID), "")
	expect(t, "revoke the bootstrap token", code, http.StatusNoContent, body)
	expect(t, "the bootstrap token once revoked", boot.me(), http.StatusUnauthorized, "")
	expect(t, "the agent token made with the revoked bootstrap token", agent.me(), http.StatusUnauthorized, "")
	require.Equal(t, http.StatusForbidden, kept.me(), "the agent token made signed in still authenticates")
	_, html = site.getPage("/account/users")
	require.Contains(t, element(html, `<table id="bootstrap"`, "</table>"), ">revoked<")

	f.restart(t, first)
	expect(t, "the retired bootstrap token after a restart", boot.me(), http.StatusUnauthorized, "")
	second := "pwt_fresh-another-bootstrap-token-0123456789"
	f.restart(t, second)
	expect(t, "a new PITWALL_BOOTSTRAP_TOKEN after retirement", newClient(t, f.URL, second).me(), http.StatusUnauthorized, "")

	// The installation is still run by its site admins, signed in.
	expect(t, "the site admin's session", site.me(), http.StatusOK, "")
}

// The users page lets site admins do on forms, without JavaScript, what
// the API does: disable and enable, reset a password (shown once), make
// users; it shows the bootstrap token; it is nobody else's.
func TestUsersPage(t *testing.T) {
	t.Parallel()
	admin := newClient(t, st.URL, st.Token)
	code, body := admin.do(http.MethodPost, "/api/v1/users", `{"name":"acct-page-admin","password":"dash password 12345","site_admin":true}`)
	require.Contains(t, []int{http.StatusCreated, http.StatusConflict}, code, body)
	user(t, "acct-page-target", "default", "viewer")
	page, _ := login(t, st.URL, "acct-page-admin", dashPassword)
	target, _ := login(t, st.URL, "acct-page-target", dashPassword)

	code, html := target.getPage("/account/users")
	require.Equal(t, http.StatusForbidden, code)
	_, html = target.getPage("/account")
	require.NotContains(t, html, `href="/account/users"`)

	code, html = page.getPage("/account/users")
	require.Equal(t, http.StatusOK, code)
	row := element(html, `<tr data-user="acct-page-target"`, "</tr>")
	require.Contains(t, row, ">enabled<")
	require.Contains(t, row, "default: viewer")
	boot := element(html, `<table id="bootstrap"`, "</table>")
	require.Contains(t, boot, ">active<", "the bootstrap token is shown, with its state")
	require.Contains(t, boot, "Retire")

	code, _, loc := page.form("/account/users/acct-page-target", url.Values{"disabled": {"true"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/account/users", loc)
	require.Equal(t, http.StatusUnauthorized, target.me(), "disabled on the page: the session ends")
	_, html = page.getPage("/account/users")
	require.Contains(t, element(html, `<tr data-user="acct-page-target"`, "</tr>"), ">disabled<")
	code, _, _ = page.form("/account/users/acct-page-target", url.Values{"disabled": {"false"}})
	require.Equal(t, http.StatusSeeOther, code)

	resp, err := page.http.PostForm(st.URL+"/account/users/acct-page-target/password", url.Values{"csrf_token": {page.csrf}})
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	m := regexp.MustCompile(`<code id="password-secret"[^>]*>([^<]+)</code>`).FindStringSubmatch(string(b))
	require.NotNil(t, m, string(b))
	_, code = login(t, st.URL, "acct-page-target", m[1])
	require.Equal(t, http.StatusSeeOther, code, "the password shown signs in")

	code, html, _ = page.form("/account/users/acct-page-admin", url.Values{"disabled": {"true"}})
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, html, "you cannot disable your own account")
	code, html, _ = page.form("/account/users/acct-page-admin/password", url.Values{})
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, html, "/api/v1/me/password")

	code, html, _ = page.form("/account/users", url.Values{"name": {"acct-page-new"}, "password": {"short"}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, html, "at least 12 characters")
	code, _, _ = page.form("/account/users", url.Values{"name": {"acct-page-new"}, "password": {"a long enough password"}})
	require.Equal(t, http.StatusSeeOther, code)
	_, code = login(t, st.URL, "acct-page-new", "a long enough password")
	require.Equal(t, http.StatusSeeOther, code)

	// Every change is in the audit log, by whom it was made.
	code, body = admin.do(http.MethodGet, "/api/v1/audit", "")
	require.Equal(t, http.StatusOK, code)
	var log struct {
		Items []struct{ Actor, Action, Target string } `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &log))
	var done []string
	for _, e := range log.Items {
		if e.Actor == "acct-page-admin" && strings.HasPrefix(e.Target, "acct-page-") {
			done = append(done, e.Action+" "+e.Target)
		}
	}
	for _, want := range []string{"user disabled acct-page-target", "user enabled acct-page-target",
		"password reset acct-page-target", "user created acct-page-new"} {
		require.Contains(t, done, want)
	}
}

// The server's --retire-bootstrap-token retires the bootstrap token at
// start: it stops, and later starts with PITWALL_BOOTSTRAP_TOKEN make none.
func TestRetireBootstrapTokenAtStart(t *testing.T) {
	t.Parallel()
	f := newFreshServer(t)
	token := "pwt_fresh-retired-at-start-0123456789abcdef"
	f.restart(t, token)
	boot := newClient(t, f.URL, token)
	require.Equal(t, http.StatusOK, boot.me())
	log := slog.New(slog.DiscardHandler)
	require.NoError(t, server.RetireBootstrap(context.Background(), f.Store, log))
	require.Equal(t, http.StatusUnauthorized, boot.me())
	require.NoError(t, server.RetireBootstrap(context.Background(), f.Store, log), "again: nothing to do")
	f.restart(t, token)
	require.Equal(t, http.StatusUnauthorized, boot.me())
	entries, err := f.Store.AuditList(context.Background(), "", 10)
	require.NoError(t, err)
	require.Len(t, entries, 1, "audited once")
	require.Equal(t, "bootstrap token retired", entries[0].Action)
	require.Equal(t, "server --retire-bootstrap-token", entries[0].Actor)
}
