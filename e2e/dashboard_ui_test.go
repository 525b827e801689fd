package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// page fetches a page as the package's admin and returns its body.
func pageOK(t *testing.T, path string) string {
	t.Helper()
	resp := get(t, st.URL+path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
	return string(b)
}

// element returns the first element opened by open (such as
// `<tr data-test="12"`) up to its closing tag, or "" when absent.
func element(html, open, closing string) string {
	i := strings.Index(html, open)
	if i < 0 {
		return ""
	}
	j := strings.Index(html[i:], closing)
	if j < 0 {
		return html[i:]
	}
	return html[i : i+j+len(closing)]
}

// dashSection returns a dashboard section by its ID.
func dashSection(html, id string) string {
	return element(html, `<section id="`+id+`"`, "</section>")
}

func testRow(html string, id int64) string {
	return element(html, fmt.Sprintf(`<tr data-test="%d"`, id), "</tr>")
}

// eventually polls a page until cond holds for it, and returns the page.
func eventually(t *testing.T, path, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		last = pageOK(t, path)
		if cond(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s did not happen within a minute; last page:\n%s", path, what, last)
	return ""
}

// The dashboard shows a running test with its stage, a waiting test with
// the host it waits for and the test holding it, recent tests with their
// verdicts, and the agents with the test each runs.
func TestDashboardPageShowsRunningQueueRecentAgents(t *testing.T) {
	t.Parallel()
	require.Contains(t, []int{http.StatusCreated, http.StatusConflict},
		st.Call(t, http.MethodPost, "/api/v1/teams", "application/json", []byte(`{"name":"dash-hold"}`), nil))
	user(t, "dash-hold-viewer", "dash-hold", "viewer")
	st.Apply(t, fmt.Sprintf(`
name: dash-hold
team: dash-hold
execution:
  script: "#!/bin/sh\nsleep 3\necho 'Slept, 3s' > results.csv\n"
  hosts: [%s]
`, agent2))
	first := startTest(t, wire.RunRequest{Framework: "dash-hold", Team: "dash-hold", Branch: "dash-branch", Commit: "dashc0ffee1234567"})
	waitFor(t, first.ID, "running", func(x *wire.Test) bool { return x.State == wire.StateRunning })
	// The second test has the same branch and commit: it ends last, so it
	// is the one looked for among the recent tests (other tests of the
	// package, running beside this one, can push the first out of the 50).
	second := startTest(t, wire.RunRequest{Framework: "dash-hold", Team: "dash-hold", Branch: "dash-branch", Commit: "dashc0ffee1234567"})
	waitFor(t, second.ID, "waiting", func(x *wire.Test) bool { return x.State == wire.StateWaiting })

	html := eventually(t, "/", "the running test with its stage, the waiting one with host and holder", func(h string) bool {
		run := testRow(dashSection(h, "running"), first.ID)
		wait := testRow(dashSection(h, "queue"), second.ID)
		// Stages are stored as the test reaches them: the monitors start
		// before the script (whose stages arrive when it ends).
		return regexp.MustCompile(`class="stage">(monitors started|script started)`).MatchString(run) &&
			strings.Contains(wait, "waiting for host "+agent2) &&
			strings.Contains(wait, fmt.Sprintf(`, held by test <a href="/tests/%d">#%d</a>`, first.ID, first.ID))
	})
	run := testRow(dashSection(html, "running"), first.ID)
	require.Contains(t, run, `state-running`)
	require.Regexp(t, `class="num elapsed">\d+s<`, run, "elapsed time")
	require.Contains(t, run, agent2)
	require.Contains(t, run, fmt.Sprintf(`href="/tests/%d"`, first.ID))
	require.Empty(t, testRow(dashSection(html, "recent"), first.ID), "a running test is not among the recent ones")
	agents := element(html, `<table id="agents"`, "</table>")
	row := element(agents, `<tr data-agent="`+agent2+`"`, "</tr>")
	require.Contains(t, row, "online")
	// The agent may already be between tests; it runs the first or the second.
	require.Regexp(t, fmt.Sprintf(`#(%d|%d)</a>`, first.ID, second.ID), row, "the agent's running test")

	// The live part alone is what htmx swaps in.
	live := pageOK(t, "/dashboard/live")
	require.True(t, strings.HasPrefix(strings.TrimSpace(live), `<div id="live"`), live[:min(len(live), 200)])
	require.NotContains(t, live, "<html")
	require.Contains(t, live, `hx-trigger="every 2s"`)

	a, b := st.Wait(t, first.ID), st.Wait(t, second.ID)
	require.Equal(t, wire.StateFinished, a.State, a.Reason)
	require.Equal(t, wire.StateFinished, b.State, b.Reason)
	// The recent tests are the newest 50 a viewer may see: read as a
	// viewer of the framework's team, the tests that other tests of the
	// package end meanwhile do not push the second out.
	code, html := signInAs(t, "dash-hold-viewer").get("/")
	require.Equal(t, http.StatusOK, code)
	recent := testRow(dashSection(html, "recent"), second.ID)
	require.NotEmpty(t, recent, "the finished test is among the recent ones")
	require.Contains(t, recent, "state-finished")
	require.Contains(t, recent, `class="badge verdict-`+b.Verdict+`"`, "verdict badge %q", b.Verdict)
	require.Contains(t, recent, "dash-branch")
	require.Contains(t, recent, `title="dashc0ffee1234567">dashc0ffee12</code>`,
		"the commit's 12-character prefix, the whole hash on hover")
	require.Contains(t, recent, ">"+b.Owner+"<", "owner")
	require.Regexp(t, `class="num">\d+s<`, recent, "duration")
	require.Empty(t, testRow(dashSection(html, "running"), first.ID))

	agentsPage := pageOK(t, "/agents")
	row = element(agentsPage, `<tr data-agent="`+agentName+`"`, "</tr>")
	require.Contains(t, row, "online")
	require.Contains(t, row, "<code>pool=e2e</code>", "labels")
}

// user makes a user with a password and a role in a team.
func user(t *testing.T, name, team, role string) {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"password":"dash password 12345"}`, name)
	code := st.Call(t, http.MethodPost, "/api/v1/users", "application/json", []byte(body), nil)
	require.Contains(t, []int{http.StatusCreated, http.StatusConflict}, code)
	if team != "" {
		require.Equal(t, http.StatusNoContent, st.Call(t, http.MethodPut, "/api/v1/teams/"+team+"/members/"+name,
			"application/json", []byte(fmt.Sprintf(`{"role":%q}`, role)), nil))
	}
}

// session is a signed-in browser without JavaScript: a cookie jar and the
// session's CSRF token.
type session struct {
	t      *testing.T
	client *http.Client
	csrf   string
}

func signInAs(t *testing.T, name string) *session {
	t.Helper()
	s := &session{t: t, client: newBrowser()}
	resp, err := s.client.PostForm(st.URL+"/login", loginForm(t, s.client, name, "dash password 12345"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	code, html := s.get("/account")
	require.Equal(t, http.StatusOK, code)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(html)
	require.NotNil(t, m, "the account page's forms carry the CSRF token")
	s.csrf = m[1]
	return s
}

func (s *session) get(path string) (int, string) {
	resp, err := s.client.Get(st.URL + path)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post submits a form as the page would (with the CSRF field unless csrf is false).
func (s *session) post(path string, form url.Values, csrf bool) (int, string, string) {
	if csrf {
		form.Set("csrf_token", s.csrf)
	}
	resp, err := s.client.PostForm(st.URL+path, form)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

// bearer calls GET /api/v1/me with a token.
func bearer(t *testing.T, token string) (int, string) {
	return as(t, token, http.MethodGet, "/api/v1/me", "", "")
}

// A token made on the account page is shown once, works as a Bearer token
// against the API, and stops working when revoked on the page.
func TestAccountPageTokens(t *testing.T) {
	t.Parallel()
	user(t, "dash-tokens", "default", "member")
	s := signInAs(t, "dash-tokens")

	code, _, _ := s.post("/account/tokens", url.Values{"name": {"dash-ci"}, "team": {"default"}, "role": {"viewer"}, "expires_in": {"24h"}}, false)
	require.Equal(t, http.StatusForbidden, code, "no CSRF token, no token")

	code, html, _ := s.post("/account/tokens", url.Values{"name": {"dash-ci"}, "team": {"default"}, "role": {"admin"}, "expires_in": {"24h"}}, true)
	require.Equal(t, http.StatusForbidden, code, "a member cannot make an admin token")
	require.Contains(t, html, `id="error"`)

	code, html, _ = s.post("/account/tokens", url.Values{"name": {"dash-ci"}, "team": {"default"}, "role": {"viewer"}, "expires_in": {"24h"}}, true)
	require.Equal(t, http.StatusCreated, code, html)
	m := regexp.MustCompile(`<code id="token-secret"[^>]*>(pwt_[^<]+)</code>`).FindStringSubmatch(html)
	require.NotNil(t, m, html)
	token := m[1]

	code, me := bearer(t, token)
	require.Equal(t, http.StatusOK, code, me)
	require.Contains(t, me, `"name": "dash-tokens"`)
	require.Contains(t, me, `"default": "viewer"`)

	code, html = s.get("/account")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, html, token, "the secret is shown once only")
	row := element(html, `<tr data-token="`, "</tr>")
	require.Contains(t, row, "dash-ci")
	require.Contains(t, row, ">active<")
	id := regexp.MustCompile(`data-token="(\d+)"`).FindStringSubmatch(row)[1]

	// Another user cannot revoke it: it does not exist for them.
	user(t, "dash-tokens-other", "default", "member")
	other := signInAs(t, "dash-tokens-other")
	code, _, _ = other.post("/account/tokens/"+id+"/revoke", url.Values{}, true)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = bearer(t, token)
	require.Equal(t, http.StatusOK, code)

	code, _, loc := s.post("/account/tokens/"+id+"/revoke", url.Values{}, true)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/account", loc)
	code, _ = bearer(t, token)
	require.Equal(t, http.StatusUnauthorized, code, "a revoked token stops working")
	_, html = s.get("/account")
	require.Contains(t, element(html, `<tr data-token="`+id+`"`, "</tr>"), ">revoked<")
}

// Members are managed on the team page by the team's admins only, through
// the API's own path; the audit log is for site admins (and a team's own
// for its admins), newest first and paged.
func TestTeamPageMembersAndAuditLog(t *testing.T) {
	t.Parallel()
	require.Contains(t, []int{http.StatusCreated, http.StatusConflict},
		st.Call(t, http.MethodPost, "/api/v1/teams", "application/json", []byte(`{"name":"dash-team"}`), nil))
	user(t, "dash-admin", "dash-team", "admin")
	user(t, "dash-member", "dash-team", "member")
	user(t, "dash-newbie", "", "")

	member := signInAs(t, "dash-member")
	for _, path := range []string{"/account/teams/dash-team", "/account/audit", "/account/audit?team=dash-team"} {
		code, _ := member.get(path)
		require.Equal(t, http.StatusForbidden, code, path)
	}
	code, _, _ := member.post("/account/teams/dash-team/members", url.Values{"user": {"dash-newbie"}, "role": {"admin"}}, true)
	require.Equal(t, http.StatusForbidden, code, "a member cannot add members")
	_, html := member.get("/account")
	require.NotContains(t, html, "/account/teams/dash-team", "no members link for a member")

	admin := signInAs(t, "dash-admin")
	_, html = admin.get("/account")
	require.Contains(t, html, `href="/account/teams/dash-team"`)
	code, _, loc := admin.post("/account/teams/dash-team/members", url.Values{"user": {"dash-newbie"}, "role": {"viewer"}}, true)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/account/teams/dash-team", loc)
	roleOf := func(name string) string {
		_, html := admin.get("/account/teams/dash-team")
		row := element(html, `<tr data-user="`+name+`"`, "</tr>")
		if row == "" {
			return ""
		}
		m := regexp.MustCompile(`<option value="(\w+)" selected>`).FindStringSubmatch(row)
		require.NotNil(t, m, row)
		return m[1]
	}
	require.Equal(t, "viewer", roleOf("dash-newbie"))
	code, _, _ = admin.post("/account/teams/dash-team/members", url.Values{"user": {"dash-newbie"}, "role": {"member"}}, true)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "member", roleOf("dash-newbie"))
	// The change is real: the new member may now run tests in the team.
	newbie := signInAs(t, "dash-newbie")
	_, body := newbie.get("/api/v1/me")
	require.Contains(t, body, `"dash-team": "member"`)
	code, html, _ = admin.post("/account/teams/dash-team/members", url.Values{"user": {"dash-nobody"}, "role": {"member"}}, true)
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, html, `user &#34;dash-nobody&#34; not found`)
	code, _, _ = admin.post("/account/teams/dash-team/members", url.Values{"user": {"dash-newbie"}, "role": {"remove"}}, true)
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "", roleOf("dash-newbie"))

	// A team admin reads their team's audit log, not everyone's.
	code, html = admin.get("/account/audit?team=dash-team")
	require.Equal(t, http.StatusOK, code)
	first := element(html, `<tr data-entry="`, "</tr>")
	require.Contains(t, first, "role changed", "newest first: the removal")
	require.Contains(t, first, "dash-newbie")
	require.Contains(t, first, "role=<")
	code, _ = admin.get("/account/audit")
	require.Equal(t, http.StatusForbidden, code)

	// Site admins read everything, 50 entries a page, older pages by cursor.
	html = pageOK(t, "/account/audit")
	ids := regexp.MustCompile(`data-entry="(\d+)"`).FindAllStringSubmatch(html, -1)
	require.NotEmpty(t, ids)
	require.LessOrEqual(t, len(ids), 50)
	for i := 1; i < len(ids); i++ {
		require.Greater(t, atoi(t, ids[i-1][1]), atoi(t, ids[i][1]), "newest first")
	}
	if len(ids) == 50 {
		next := regexp.MustCompile(`<a id="older" href="([^"]+)"`).FindStringSubmatch(html)
		require.NotNil(t, next)
		older := pageOK(t, strings.ReplaceAll(next[1], "&amp;", "&"))
		m := regexp.MustCompile(`data-entry="(\d+)"`).FindStringSubmatch(older)
		require.NotNil(t, m)
		require.Less(t, atoi(t, m[1]), atoi(t, ids[49][1]))
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err)
	return n
}
