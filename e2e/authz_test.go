package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// The principals of the authorisation matrix, in column order.
var principals = []string{"anonymous", "viewer", "owner", "member", "team-admin", "other-admin", "site-admin", "revoked", "expired"}

// authzWorld is the teams, users and tokens the matrix runs against.
type authzWorld struct {
	tokens  map[string]string
	test    int64 // a finished test of team alpha, owned by "owner"
	ownerID int64
}

// ownerToken makes a fresh token of the owner's for each cell that revokes one.
func (w *authzWorld) ownerToken(t *testing.T) func() string {
	return func() string {
		_, h := auth.NewToken(auth.UserTokenPrefix)
		id, err := store.New(st.Pool).TokenCreate(context.Background(), store.NewToken{Hash: h, Name: "to-revoke",
			Kind: auth.KindUser, UserID: w.ownerID, Team: "alpha", Role: auth.Viewer})
		require.NoError(t, err)
		return fmt.Sprint(id)
	}
}

func setupAuthz(t *testing.T) *authzWorld {
	t.Helper()
	ctx := context.Background()
	s := store.New(st.Pool)
	w := &authzWorld{tokens: map[string]string{"site-admin": st.Token}}
	for _, team := range []string{"alpha", "beta"} {
		require.NoError(t, ignoreExists(s.TeamCreate(ctx, team)))
	}
	users := map[string]struct {
		team string
		role auth.Role
	}{
		"viewer": {"alpha", auth.Viewer}, "owner": {"alpha", auth.Member}, "member": {"alpha", auth.Member},
		"team-admin": {"alpha", auth.Admin}, "other-admin": {"beta", auth.Admin},
	}
	hash, err := auth.HashPassword("authz test password")
	require.NoError(t, err)
	for name, u := range users {
		id, err := s.UserCreate(ctx, "authz-"+name, hash, false)
		require.NoError(t, err)
		require.NoError(t, s.MembershipSet(ctx, u.team, id, u.role))
		plain, h := auth.NewToken(auth.UserTokenPrefix)
		_, err = s.TokenCreate(ctx, store.NewToken{Hash: h, Name: name, Kind: auth.KindUser, UserID: id, Team: u.team, Role: u.role})
		require.NoError(t, err)
		w.tokens[name] = plain
	}
	ownerID, err := s.UserByName(ctx, "authz-owner")
	require.NoError(t, err)
	w.ownerID = ownerID
	dummy, err := s.UserCreate(ctx, "authz-dummy", hash, false)
	require.NoError(t, err)
	require.NoError(t, s.MembershipSet(ctx, "alpha", dummy, auth.Member))
	revoked, h := auth.NewToken(auth.UserTokenPrefix)
	rid, err := s.TokenCreate(ctx, store.NewToken{Hash: h, Name: "revoked", Kind: auth.KindUser, UserID: ownerID, Team: "alpha", Role: auth.Member})
	require.NoError(t, err)
	require.NoError(t, s.TokenRevoke(ctx, rid))
	w.tokens["revoked"] = revoked
	expired, h := auth.NewToken(auth.UserTokenPrefix)
	past := time.Now().Add(-time.Minute)
	_, err = s.TokenCreate(ctx, store.NewToken{Hash: h, Name: "expired", Kind: auth.KindUser, UserID: ownerID, Team: "alpha", Role: auth.Member, ExpiresAt: &past})
	require.NoError(t, err)
	w.tokens["expired"] = expired

	code, body := as(t, w.tokens["owner"], http.MethodPost, "/api/v1/frameworks", "application/yaml",
		"name: authz-fw\nteam: alpha\nexecution: {script: \"#!/bin/sh\\necho 'K, 1' > results.csv\\n\"}\n")
	require.Equal(t, http.StatusCreated, code, body)
	w.test = w.run(t, "owner")
	return w
}

func ignoreExists(err error) error {
	if err == store.ErrExists {
		return nil
	}
	return err
}

// run starts a test of authz-fw as a principal and waits for it.
func (w *authzWorld) run(t *testing.T, who string) int64 {
	t.Helper()
	code, body := as(t, w.tokens[who], http.MethodPost, "/api/v1/tests", "application/json", `{"framework":"authz-fw","team":"alpha"}`)
	require.Equal(t, http.StatusCreated, code, body)
	var created wire.Test
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	st.Wait(t, created.ID)
	return created.ID
}

// as sends a request with a token ("" for none) and returns status and body.
func as(t *testing.T, token, method, path, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, st.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 && strings.HasPrefix(path, "/api/") {
		checkResponse(t, req, resp.StatusCode, resp.Header, b)
	}
	return resp.StatusCode, string(b)
}

// TestAuthorizationMatrix walks every endpoint and page against every kind
// of principal and checks each cell's outcome against one table.
func TestAuthorizationMatrix(t *testing.T) {
	w := setupAuthz(t)
	id := w.test
	cp := authzChangePoint(t, id)
	const (
		ok       = 200
		created  = 201
		accepted = 202
		none     = 204
		see      = 303 // a page redirects the anonymous to sign in
		unauth   = 401
		denied   = 403
		hidden   = 404 // another team's things do not exist for you
		conflict = 409
	)
	type row struct {
		method, path, ctype, body string
		// fresh runs the row against a new test of the owner's (for
		// destructive rows); {id} in path is replaced by it.
		fresh bool
		want  [9]int
		// prep, when set, makes a new target per cell and returns its ID for {id}.
		prep func() string
	}
	const form = "application/x-www-form-urlencoded"
	fw := "name: authz-fw\nteam: alpha\nexecution: {script: \"#!/bin/sh\\necho 'K, 1' > results.csv\\n\"}\n"
	rows := []row{
		{"GET", "/api/v1/frameworks", "", "", false, [9]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/frameworks/authz-fw?team=alpha", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/frameworks/authz-fw/versions?team=alpha", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/frameworks/authz-fw/versions/1?team=alpha", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"POST", "/api/v1/frameworks", "application/yaml", fw, false, [9]int{unauth, denied, ok, denied, ok, denied, ok, unauth, unauth}, nil},
		{"POST", "/api/v1/frameworks/authz-fw/clone?team=alpha", "application/json", `{"name":"authz-clone-%s"}`, false, [9]int{unauth, denied, created, created, created, hidden, created, unauth, unauth}, nil},
		{"POST", "/api/v1/tests", "application/json", `{"framework":"authz-fw","team":"alpha"}`, false, [9]int{unauth, denied, created, created, created, hidden, created, unauth, unauth}, nil},
		{"GET", "/api/v1/tests/{id}", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/tests?framework=authz-fw", "", "", false, [9]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/tests/{id}/kpis", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/tests/{id}/tables", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/tests/{id}/artifacts", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/tests/{id}/artifacts/results.csv", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/tests/{id}/series", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/tests/{id}/logs", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/tests/{id}/export", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/compare?ids={id},{id}", "", "", false, [9]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"POST", "/api/v1/tests/{id}/clone", "application/json", "{}", false, [9]int{unauth, denied, created, created, created, hidden, created, unauth, unauth}, nil},
		{"POST", "/api/v1/tests/{id}/rerun", "", "", false, [9]int{unauth, denied, created, denied, created, hidden, created, unauth, unauth}, nil},
		{"POST", "/api/v1/tests/{id}/abort", "", "", false, [9]int{unauth, denied, conflict, denied, conflict, hidden, conflict, unauth, unauth}, nil},
		{"DELETE", "/api/v1/tests/{id}", "", "", true, [9]int{unauth, denied, none, denied, none, hidden, none, unauth, unauth}, nil},
		{"GET", "/api/v1/agents", "", "", false, [9]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"PUT", "/api/v1/agents/" + agentName, "application/json", `{}`, false, [9]int{unauth, denied, denied, denied, denied, denied, none, unauth, unauth}, nil},
		{"POST", "/api/v1/ingest/logs", "application/json", `{"test_id":{id},"host":"` + agentName + `","batch":"authz-%s","lines":[]}`, false, [9]int{unauth, denied, denied, denied, denied, denied, denied, unauth, unauth}, nil},
		{"POST", "/api/v1/ingest/samples", "application/json", `{"test_id":{id},"host":"` + agentName + `","batch":"authz-%s","series":[]}`, false, [9]int{unauth, denied, denied, denied, denied, denied, denied, unauth, unauth}, nil},
		{"GET", "/api/v1/me", "", "", false, [9]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"POST", "/api/v1/tokens", "application/json", `{"name":"ci","team":"alpha","role":"viewer"}`, false, [9]int{unauth, created, created, created, created, denied, denied, unauth, unauth}, nil},
		{"GET", "/api/v1/tokens?team=alpha", "", "", false, [9]int{unauth, denied, denied, denied, ok, denied, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/tokens", "", "", false, [9]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/audit?team=alpha", "", "", false, [9]int{unauth, denied, denied, denied, ok, denied, ok, unauth, unauth}, nil},
		{"GET", "/api/v1/audit", "", "", false, [9]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth}, nil},
		{"POST", "/api/v1/teams", "application/json", `{"name":"authz-team-%s"}`, false, [9]int{unauth, denied, denied, denied, denied, denied, created, unauth, unauth}, nil},
		{"PUT", "/api/v1/teams/alpha/members/authz-viewer", "application/json", `{"role":"viewer"}`, false, [9]int{unauth, denied, denied, denied, none, denied, none, unauth, unauth}, nil},
		{"POST", "/api/v1/users", "application/json", `{"name":"authz-new-%s","password":"a long enough password"}`, false, [9]int{unauth, denied, denied, denied, denied, denied, created, unauth, unauth}, nil},
		{"POST", "/api/v1/agent-tokens", "application/json", `{"agent":"authz-agent"}`, false, [9]int{unauth, denied, denied, denied, denied, denied, created, unauth, unauth}, nil},
		{"POST", "/api/v1/me/password", "application/json", `{"current_password":"not the password here","new_password":"a long enough new password"}`, false, [9]int{unauth, 400, 400, 400, 400, 400, denied, unauth, unauth}, nil},
		{"GET", "/api/v1/users", "", "", false, [9]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth}, nil},
		{"PATCH", "/api/v1/users/authz-dummy", "application/json", `{"site_admin":false}`, false, [9]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth}, nil},
		{"POST", "/api/v1/users/authz-dummy/password", "application/json", `{}`, false, [9]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth}, nil},
		{"POST", "/api/v1/import", "application/json", `{}`, false, [9]int{unauth, 400, 400, 400, 400, 400, 400, unauth, unauth}, nil},
		{"GET", "/", "", "", false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"GET", "/tests/{id}", "", "", false, [9]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/tests/{id}/live", "", "", false, [9]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/tests/{id}/logs/stream", "", "", false, [9]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/tests/{id}/log.txt", "", "", false, [9]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"POST", "/tests/{id}/abort", "application/x-www-form-urlencoded", "reason=authz", false, [9]int{see, denied, see, denied, see, hidden, see, unauth, unauth}, nil},
		{"GET", "/frameworks", "", "", false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"GET", "/frameworks/authz-fw?team=alpha", "", "", false, [9]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/frameworks/authz-fw/versions/1?team=alpha", "", "", false, [9]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/frameworks/new", "", "", false, [9]int{see, denied, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"POST", "/frameworks/new", form, "mode=yaml&action=apply&yaml=" + url.QueryEscape(fw), false, [9]int{see, denied, see, denied, see, denied, see, unauth, unauth}, nil},
		{"POST", "/frameworks/preview", form, "mode=yaml&yaml=" + url.QueryEscape(fw), false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"GET", "/frameworks/authz-fw/edit?team=alpha", "", "", false, [9]int{see, denied, ok, denied, ok, hidden, ok, unauth, unauth}, nil},
		{"POST", "/frameworks/authz-fw/edit?team=alpha", form, "mode=yaml&action=apply&yaml=" + url.QueryEscape(fw), false, [9]int{see, denied, see, denied, see, hidden, see, unauth, unauth}, nil},
		{"POST", "/frameworks/authz-fw/clone?team=alpha", form, "new_name=fw-authz-page-clone-%s", false, [9]int{see, denied, see, see, see, hidden, see, unauth, unauth}, nil},
		{"GET", "/tests/new?framework=authz-fw&team=alpha", "", "", false, [9]int{see, denied, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/tests/new?clone={id}", "", "", false, [9]int{see, denied, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"POST", "/tests/new", form, "framework=authz-fw&team=alpha", false, [9]int{see, denied, see, see, see, hidden, see, unauth, unauth}, nil},
		{"POST", "/tests/{id}/rerun", form, "", false, [9]int{see, denied, see, denied, see, hidden, see, unauth, unauth}, nil},
		{"GET", "/healthz", "", "", false, [9]int{ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		{"GET", "/readyz", "", "", false, [9]int{ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		{"GET", "/metrics", "", "", false, [9]int{ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		{"GET", "/login", "", "", false, [9]int{ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		{"POST", "/login", "application/x-www-form-urlencoded", "name=authz-nobody-%s&password=wrong+password+here", false, [9]int{unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth}, nil},
		{"POST", "/logout", "", "", false, [9]int{see, see, see, see, see, see, see, unauth, unauth}, nil},
		{"GET", "/logout", "", "", false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"POST", "/api/v1/ingest/artifacts?test_id={id}&host=" + agentName + "&path=x.txt", "application/octet-stream", "data", false, [9]int{unauth, denied, denied, denied, denied, denied, denied, unauth, unauth}, nil},
		{"DELETE", "/api/v1/teams/alpha/members/authz-dummy", "", "", false, [9]int{unauth, denied, denied, denied, none, denied, none, unauth, unauth}, nil},
		{"DELETE", "/api/v1/tokens/{id}", "", "", false, [9]int{unauth, hidden, none, hidden, none, hidden, none, unauth, unauth}, w.ownerToken(t)},
		{"GET", "/api/v1/openapi.json", "", "", false, [9]int{ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		{"GET", "/dashboard/live", "", "", false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"GET", "/agents", "", "", false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"GET", "/account", "", "", false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"POST", "/account/tokens", form, "name=ci&team=alpha&role=viewer&expires_in=24h", false, [9]int{see, created, created, created, created, denied, denied, unauth, unauth}, nil},
		{"POST", "/account/tokens/{id}/revoke", "", "", false, [9]int{see, hidden, see, hidden, see, hidden, see, unauth, unauth}, w.ownerToken(t)},
		{"GET", "/account/teams/alpha", "", "", false, [9]int{see, denied, denied, denied, ok, denied, ok, unauth, unauth}, nil},
		{"POST", "/account/teams/alpha/members", form, "user=authz-viewer&role=viewer", false, [9]int{see, denied, denied, denied, see, denied, see, unauth, unauth}, nil},
		{"GET", "/account/audit?team=alpha", "", "", false, [9]int{see, denied, denied, denied, ok, denied, ok, unauth, unauth}, nil},
		{"GET", "/account/audit", "", "", false, [9]int{see, denied, denied, denied, denied, denied, ok, unauth, unauth}, nil},
		{"POST", "/account/password", form, "current_password=not+the+password+here&new_password=a+long+enough+new+password&confirm_password=a+long+enough+new+password", false, [9]int{see, 400, 400, 400, 400, 400, denied, unauth, unauth}, nil},
		{"GET", "/account/users", "", "", false, [9]int{see, denied, denied, denied, denied, denied, ok, unauth, unauth}, nil},
		{"POST", "/account/users", form, "name=authz-page-user-%s&password=a+long+enough+password", false, [9]int{see, denied, denied, denied, denied, denied, see, unauth, unauth}, nil},
		{"POST", "/account/users/authz-dummy", form, "site_admin=false", false, [9]int{see, denied, denied, denied, denied, denied, see, unauth, unauth}, nil},
		{"POST", "/account/users/authz-dummy/password", form, "", false, [9]int{see, denied, denied, denied, denied, denied, ok, unauth, unauth}, nil},
		{"POST", "/account/agent-tokens", form, "agent=authz-page-agent", false, [9]int{see, denied, denied, denied, denied, denied, created, unauth, unauth}, nil},
		{"GET", "/tests?framework=authz-fw", "", "", false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"GET", "/tests/delete?ids={id}", "", "", false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"POST", "/tests/delete", "application/x-www-form-urlencoded", "ids={id}", true, [9]int{see, denied, ok, denied, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/compare", "", "", false, [9]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth}, nil},
		{"GET", "/compare?ids={id},{id}", "", "", false, [9]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"GET", "/trends?framework=authz-fw&team=alpha", "", "", false, [9]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth}, nil},
		{"POST", "/api/v1/changepoints/{id}/accept", "", "", false, [9]int{unauth, denied, denied, denied, ok, hidden, ok, unauth, unauth}, cp},
		{"POST", "/api/v1/frameworks/authz-fw/changepoints?team=alpha", "", "", false, [9]int{unauth, denied, denied, denied, ok, hidden, ok, unauth, unauth}, nil},
		{"POST", "/trends/changepoints/{id}/accept", "application/x-www-form-urlencoded", "back=/trends", false, [9]int{see, denied, denied, denied, see, hidden, see, unauth, unauth}, cp},
	}
	cells := 0
	for _, r := range rows {
		for i, who := range principals {
			target := fmt.Sprint(id)
			if r.fresh && r.want[i] < 300 {
				target = fmt.Sprint(w.run(t, "owner"))
			}
			if r.prep != nil {
				target = r.prep()
			}
			path := strings.ReplaceAll(r.path, "{id}", target)
			body := strings.ReplaceAll(r.body, "{id}", target)
			if strings.Contains(body, "%s") {
				body = fmt.Sprintf(body, who)
			}
			code, got := as(t, w.tokens[who], r.method, path, r.ctype, body)
			require.Equal(t, r.want[i], code, "%s %s as %s: %s", r.method, path, who, got)
			cells++
		}
	}
	t.Logf("authorisation matrix: %d endpoints and pages x %d principals = %d cells asserted", len(rows), len(principals), cells)

	// Lists show only one's own teams' things.
	_, body := as(t, w.tokens["other-admin"], "GET", "/api/v1/tests?framework=authz-fw", "", "")
	require.Contains(t, body, `"items": []`)
	_, body = as(t, w.tokens["other-admin"], "GET", "/api/v1/frameworks", "", "")
	require.NotContains(t, body, "authz-fw")
	_, body = as(t, w.tokens["other-admin"], "GET", "/frameworks", "", "")
	require.NotContains(t, body, "authz-fw")
}

// A signed-in browser's state-changing requests need the session's CSRF
// token; without it they are refused.
func TestLoginSessionAndCSRF(t *testing.T) {
	t.Parallel()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"name": {"admin"}, "password": {"wrong password here"}, "next": {"/"}}
	resp, err := browser.PostForm(st.URL+"/login", form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	form.Set("password", "e2e admin password")
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
	try := func() int {
		resp, err := http.PostForm(st.URL+"/login", url.Values{"name": {"nobody-rate"}, "password": {"wrong wrong wrong"}})
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 5 {
		require.Equal(t, http.StatusUnauthorized, try())
	}
	start := time.Now()
	require.Equal(t, http.StatusUnauthorized, try(), "the sixth is checked, after a wait")
	require.Greater(t, time.Since(start), 8*time.Second)
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
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 8 {
		resp, err := noRedirect.PostForm(st.URL+"/login", url.Values{"name": {"admin"}, "password": {"e2e admin password"}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	}
}
