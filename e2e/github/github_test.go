package github

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/githubtest"
	"github.com/pitwall/pitwall/internal/wire"
)

const (
	owner  = "acme"
	secret = "the webhook secret of team default, 0123456789"
)

// Commits: a slow one makes LatencyP50 30% worse (the script reads
// PITWALL_COMMIT), every other KPI stays as it was.
const (
	base1 = "1111111111111111111111111111111111111111"
	base2 = "2222222222222222222222222222222222222222"
	base3 = "3333333333333333333333333333333333333333"
	fast  = "c0ffee0000000000000000000000000000000001"
	slow  = "badbad0000000000000000000000000000000002"
	fork  = "f0f0f00000000000000000000000000000000003"
)

// framework tests the repository acme/<name> on pushes to main and on
// pull requests into it (each test has a repository of its own).
func framework(name string) string {
	return fmt.Sprintf(`name: %s
execution:
  hosts: [%s]
  script: |
    #!/bin/sh
    l=10
    case "$PITWALL_COMMIT" in badbad*) l=13 ;; esac
    printf 'LatencyP50, %%s\nThroughput, 100\nErrorRate, 0.5\n' "$l" > results.csv
kpis:
  - {name: LatencyP50, unit: ms, better: lower, threshold: 5%%}
  - {name: Throughput, unit: req/s, better: higher, threshold: 5%%}
  - {name: ErrorRate, unit: "%%", better: lower, threshold: 5%%}
github:
  repository: %s/%s
  branches: [main]
`, name, agentName, owner, name)
}

var deliveries atomic.Int64

// deliver sends a payload signed with the team's secret and returns the
// answer's status, body, and how long the webhook took.
func deliver(t *testing.T, event, id string, body []byte) (int, string, time.Duration) {
	t.Helper()
	start := time.Now()
	resp := githubtest.Deliver(t, st.URL+"/api/v1/github/webhook", event, id, []byte(secret), body)
	took := time.Since(start)
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), took
}

func deliveryID() string {
	return fmt.Sprintf("72d3162e-cc78-11e3-81ab-4c9367dc%04d", deliveries.Add(1))
}

// connect points team default's GitHub connection at srv.
func connect(t *testing.T, srv *githubtest.Server) {
	t.Helper()
	body, _ := json.Marshal(wire.GitHubConnectionRequest{APIURL: srv.URL + "/", Token: "ghp_pitwall_e2e_token", WebhookSecret: secret})
	var c wire.GitHubConnection
	require.Equal(t, http.StatusOK, st.Call(t, "PUT", "/api/v1/teams/default/github", "application/json", body, &c))
	require.Equal(t, "token", c.Auth)
	require.Equal(t, st.URL+"/api/v1/github/webhook", c.WebhookURL)
}

func setRepo(t *testing.T, m map[string]any, repo string) {
	githubtest.Set(t, m, "repository.full_name", owner+"/"+repo)
	githubtest.Set(t, m, "repository.name", repo)
	githubtest.Set(t, m, "repository.owner.login", owner)
}

func push(t *testing.T, repo, branch, sha string) []byte {
	return githubtest.Payload(t, "push", "", func(m map[string]any) {
		setRepo(t, m, repo)
		githubtest.Set(t, m, "ref", "refs/heads/"+branch)
		githubtest.Set(t, m, "after", sha)
		githubtest.Set(t, m, "deleted", false)
	})
}

func pullRequest(t *testing.T, repo, action string, number int, sha, headRepo string) []byte {
	return githubtest.Payload(t, "pull_request", action, func(m map[string]any) {
		setRepo(t, m, repo)
		githubtest.Set(t, m, "number", number)
		githubtest.Set(t, m, "pull_request.number", number)
		githubtest.Set(t, m, "pull_request.head.sha", sha)
		githubtest.Set(t, m, "pull_request.head.ref", "feature")
		githubtest.Set(t, m, "pull_request.head.repo.full_name", headRepo)
		githubtest.Set(t, m, "pull_request.base.ref", "main")
		githubtest.Set(t, m, "pull_request.base.repo.full_name", owner+"/"+repo)
	})
}

func comment(t *testing.T, repo string, number int, id int64, body, login, association string) []byte {
	return githubtest.Payload(t, "issue_comment", "created", func(m map[string]any) {
		setRepo(t, m, repo)
		githubtest.Set(t, m, "comment.id", id)
		githubtest.Set(t, m, "issue.number", number)
		githubtest.Set(t, m, "comment.body", body)
		githubtest.Set(t, m, "comment.user.login", login)
		githubtest.Set(t, m, "comment.author_association", association)
		githubtest.Set(t, m, "sender.login", login)
		issue := m["issue"].(map[string]any)
		if issue["pull_request"] == nil {
			web := fmt.Sprintf("https://github.com/%s/%s/pull/%d", owner, repo, number)
			issue["pull_request"] = map[string]any{"url": fmt.Sprintf("https://api.github.com/repos/%s/%s/pulls/%d", owner, repo, number),
				"html_url": web, "diff_url": web + ".diff", "patch_url": web + ".patch"}
		}
	})
}

// status is a commit status Pitwall set.
type status struct {
	SHA, State, Context, Description, TargetURL string
	At                                          time.Time
}

func statuses(srv *githubtest.Server) []status {
	var out []status
	for _, r := range srv.Calls("repos/create-commit-status") {
		if r.Status >= 300 {
			continue
		}
		var b struct {
			State       string `json:"state"`
			Context     string `json:"context"`
			Description string `json:"description"`
			TargetURL   string `json:"target_url"`
		}
		_ = json.Unmarshal(r.Body, &b)
		out = append(out, status{SHA: r.Path[strings.LastIndex(r.Path, "/")+1:], State: b.State, Context: b.Context,
			Description: b.Description, TargetURL: b.TargetURL, At: r.Time})
	}
	return out
}

// awaitStatus waits until Pitwall has set a status in a final state on sha.
func awaitStatus(t *testing.T, srv *githubtest.Server, sha string) status {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for _, s := range statuses(srv) {
			if s.SHA == sha && s.State != "pending" {
				return s
			}
		}
		require.True(t, time.Now().Before(deadline), "no final status on %s; statuses: %+v", sha, statuses(srv))
		time.Sleep(200 * time.Millisecond)
	}
}

// testsOf lists the tests a delivery started.
func testsOf(t *testing.T, delivery string) []wire.Test {
	var list wire.List[wire.Test]
	st.Call(t, "GET", "/api/v1/tests?tag=github.delivery="+delivery, "", nil, &list)
	return list.Items
}

func requireValid(t *testing.T, srv *githubtest.Server) {
	t.Helper()
	for _, r := range srv.Invalid() {
		t.Errorf("GitHub's description refuses %s %s: %s\n%s", r.Method, r.Path, r.Invalid, r.Body)
	}
}

// accept delivers a payload the webhook must hand to a workflow (202).
func accept(t *testing.T, event, id string, body []byte) {
	t.Helper()
	code, answer, took := deliver(t, event, id, body)
	record(took)
	require.Equal(t, http.StatusAccepted, code, answer)
}

var webhookTimes []time.Duration

func record(d time.Duration) { webhookTimes = append(webhookTimes, d) }

// A delivery without a signature, with a wrong one, or signed with another
// secret is refused before it is parsed, and leaves no trace.
func TestWebhookRefusesWhatItCannotVerify(t *testing.T) {
	srv := githubtest.NewServer(t)
	connect(t, srv)
	body := push(t, "gh-refused", "main", base1)
	for name, sign := range map[string]func(*http.Request){
		"no signature": func(r *http.Request) {},
		"not sha256":   func(r *http.Request) { r.Header.Set("X-Hub-Signature-256", "sha1=abc") },
		"another secret": func(r *http.Request) {
			r.Header.Set("X-Hub-Signature-256", githubtest.Sign([]byte("not the secret"), body))
		},
		"another body": func(r *http.Request) {
			r.Header.Set("X-Hub-Signature-256", githubtest.Sign([]byte(secret), append([]byte(" "), body...)))
		},
	} {
		req, _ := http.NewRequest("POST", st.URL+"/api/v1/github/webhook", strings.NewReader(string(body)))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "refused-"+strings.ReplaceAll(name, " ", "-"))
		req.Header.Set("Content-Type", "application/json")
		sign(req)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s: %s", name, b)
		t.Logf("%s: %d %s", name, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var ds wire.List[wire.GitHubDelivery]
	st.Call(t, "GET", "/api/v1/teams/default/github/deliveries", "", nil, &ds)
	for _, d := range ds.Items {
		require.NotContains(t, d.Delivery, "refused-", "a refused delivery is not recorded")
	}
	require.Empty(t, srv.Requests(), "nothing reached GitHub")
}

// A push to main runs the mapped framework once, however often GitHub
// delivers it, and sets the commit's status pending, then success.
func TestPushRunsOncePerDelivery(t *testing.T) {
	srv := githubtest.NewServer(t)
	connect(t, srv)
	const repo = "gh-push"
	st.Apply(t, framework(repo))
	id := deliveryID()
	body := push(t, repo, "main", base1)
	code, answer, took := deliver(t, "push", id, body)
	record(took)
	require.Equal(t, http.StatusAccepted, code, answer)
	require.Contains(t, answer, `"outcome": "started"`)
	code, answer, took = deliver(t, "push", id, body)
	record(took)
	require.Equal(t, http.StatusOK, code, answer)
	require.Contains(t, answer, `"outcome": "duplicate"`)

	final := awaitStatus(t, srv, base1)
	require.Equal(t, "success", final.State)
	require.Equal(t, "pitwall/gh-push", final.Context)
	tests := testsOf(t, id)
	require.Len(t, tests, 1, "one delivery, one test")
	require.Equal(t, base1, tests[0].Commit)
	require.Equal(t, "main", tests[0].Branch)
	require.Equal(t, fmt.Sprintf("%s/tests/%d", st.URL, tests[0].ID), final.TargetURL)
	var states []string
	for _, s := range statuses(srv) {
		states = append(states, s.State)
	}
	require.Equal(t, []string{"pending", "success"}, states)
	require.Empty(t, srv.Calls("issues/create-comment"), "a push has no pull request to comment on")
	requireValid(t, srv)

	// Pushes of other branches and tag pushes run nothing, and say so.
	accept(t, "push", deliveryID(), push(t, repo, "elsewhere", base2))
	var ds wire.List[wire.GitHubDelivery]
	st.Call(t, "GET", "/api/v1/teams/default/github/deliveries", "", nil, &ds)
	require.NotEmpty(t, ds.Items)
	t.Logf("deliveries: %+v", ds.Items[:min(3, len(ds.Items))])

	// The team page shows the connection and the deliveries, never the token.
	code, page := st.Page(t, "/account/teams/default")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `id="github-connection"`)
	require.Contains(t, page, st.URL+"/api/v1/github/webhook")
	require.Contains(t, page, "<td>acme/gh-push</td><td>gh-push</td>")
	require.Contains(t, page, id, "the delivery is listed")
	require.NotContains(t, page, "ghp_pitwall_e2e_token")
	require.NotContains(t, page, secret)
}

// A pull request runs on its head commit and gets one comment, edited in
// place across pushes; a push that makes LatencyP50 30% slower fails the
// head's status and puts the regression at the top of the comment.
func TestPullRequestCommentAcrossPushes(t *testing.T) {
	srv := githubtest.NewServer(t)
	connect(t, srv)
	const repo = "gh-pr"
	fullName := owner + "/" + repo
	st.Apply(t, framework(repo))
	// The baseline: three pushes to main.
	for _, sha := range []string{base1, base2, base3} {
		accept(t, "push", deliveryID(), push(t, repo, "main", sha))
		require.Equal(t, "success", awaitStatus(t, srv, sha).State)
	}
	srv.Reset()

	accept(t, "pull_request", deliveryID(), pullRequest(t, repo, "opened", 7, fast, fullName))
	first := awaitStatus(t, srv, fast)
	require.Equal(t, "success", first.State, first.Description)
	created := srv.Calls("issues/create-comment")
	require.Len(t, created, 1)

	id := deliveryID()
	accept(t, "pull_request", id, pullRequest(t, repo, "synchronize", 7, slow, fullName))
	final := awaitStatus(t, srv, slow)
	require.Equal(t, "failure", final.State)
	require.Equal(t, "regressed: LatencyP50 +30.0%", final.Description)
	tests := testsOf(t, id)
	require.Len(t, tests, 1)
	require.Equal(t, slow, tests[0].Commit)
	require.Equal(t, "feature", tests[0].Branch)
	full := st.Wait(t, tests[0].ID)
	require.NotNil(t, full.PR)
	require.Equal(t, 7, *full.PR)
	require.Equal(t, fullName, full.Tags["github.repository"])
	require.Equal(t, "github", full.Owner)

	// Wait for the comment's last edit, which follows the final status.
	deadline := time.Now().Add(30 * time.Second)
	var body string
	for {
		cs := srv.Comments(owner, repo, 7)
		require.Len(t, cs, 1, "one comment per pull request")
		body = cs[0].Body
		if strings.Contains(body, "🔴") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the comment never showed the regression:\n%s", body)
		time.Sleep(200 * time.Millisecond)
	}
	require.Len(t, srv.Calls("issues/create-comment"), 1, "created once")
	require.NotEmpty(t, srv.Calls("issues/update-comment"), "then edited in place")
	t.Logf("the comment on pull request #7:\n%s", body)
	lines := strings.Split(body, "\n")
	require.Contains(t, lines[1], "### Pitwall: 🔴", "the regression opens the comment")
	table := body[strings.Index(body, "#### gh-pr"):]
	require.Less(t, strings.Index(table, "LatencyP50"), strings.Index(table, "Throughput"), "the regressed KPI first")
	require.Contains(t, table, "| **LatencyP50 (ms)** | 10 | 13 | **+30.0%")
	require.Contains(t, table, "| ErrorRate (%) | 0.5 | 0.5 | +0.0%")
	require.Contains(t, body, "compare?ids=")

	var sequence []string
	for _, r := range srv.Requests() {
		sequence = append(sequence, fmt.Sprintf("%s %s -> %d (%s)", r.Method, r.Path, r.Status, r.OperationID))
	}
	t.Logf("GitHub requests for pull request #7:\n%s", strings.Join(sequence, "\n"))
	requireValid(t, srv)
}

// Commands: /pitwall rerun from a collaborator runs the pull request
// again; from someone else it gets a polite answer and runs nothing.
func TestCommandsFromMaintainersOnly(t *testing.T) {
	srv := githubtest.NewServer(t)
	connect(t, srv)
	const repo = "gh-cmd"
	fullName := owner + "/" + repo
	st.Apply(t, framework(repo))
	srv.AddPullRequest(owner, repo, 8, githubtest.PullRequest{HeadSHA: fast, HeadRef: "feature", HeadRepo: fullName, BaseRef: "main"})
	accept(t, "pull_request", deliveryID(), pullRequest(t, repo, "opened", 8, fast, fullName))
	awaitStatus(t, srv, fast)

	stranger := deliveryID()
	cid := srv.AddComment(owner, repo, 8, "passer-by", "/pitwall rerun")
	accept(t, "issue_comment", stranger, comment(t, repo, 8, cid, "/pitwall rerun", "passer-by", "NONE"))
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Comments(owner, repo, 8)) < 3 { // Pitwall's, the command, the reply
		require.True(t, time.Now().Before(deadline), "no reply to the stranger: %+v", srv.Comments(owner, repo, 8))
		time.Sleep(200 * time.Millisecond)
	}
	reply := srv.Comments(owner, repo, 8)[2].Body
	require.Contains(t, reply, "@passer-by, thank you")
	require.Contains(t, reply, "owners, members and collaborators")
	require.Empty(t, testsOf(t, stranger), "a stranger's rerun runs nothing")

	maintainer := deliveryID()
	cid = srv.AddComment(owner, repo, 8, "octocat", "/pitwall rerun gh-cmd")
	body := comment(t, repo, 8, cid, "/pitwall rerun gh-cmd", "octocat", "COLLABORATOR")
	accept(t, "issue_comment", maintainer, body)
	deadline = time.Now().Add(time.Minute)
	for len(testsOf(t, maintainer)) == 0 {
		require.True(t, time.Now().Before(deadline), "a collaborator's rerun ran nothing")
		time.Sleep(200 * time.Millisecond)
	}
	rerun := testsOf(t, maintainer)[0]
	require.Equal(t, fast, rerun.Commit)
	final := st.Wait(t, rerun.ID)
	require.Equal(t, wire.StateFinished, final.State)
	deadline = time.Now().Add(30 * time.Second)
	for !slices.Contains(reactions(srv, owner, repo, 8, cid), "rocket") {
		require.True(t, time.Now().Before(deadline), "no reaction to the rerun")
		time.Sleep(200 * time.Millisecond)
	}

	// /pitwall compare <sha> answers with links to compare the head's test
	// with that commit's.
	before := len(srv.Comments(owner, repo, 8))
	cid = srv.AddComment(owner, repo, 8, "octocat", "/pitwall compare c0ffee0")
	accept(t, "issue_comment", deliveryID(), comment(t, repo, 8, cid, "/pitwall compare c0ffee0", "octocat", "OWNER"))
	deadline = time.Now().Add(30 * time.Second)
	for len(srv.Comments(owner, repo, 8)) < before+2 {
		require.True(t, time.Now().Before(deadline), "no answer to /pitwall compare")
		time.Sleep(200 * time.Millisecond)
	}
	cs := srv.Comments(owner, repo, 8)
	answerBody := cs[len(cs)-1].Body
	t.Logf("answer to /pitwall compare:\n%s", answerBody)
	require.Contains(t, answerBody, "Comparing `c0ffee000000` with `c0ffee0`")
	require.Contains(t, answerBody, st.URL+"/compare?ids=")
	requireValid(t, srv)
}

func reactions(srv *githubtest.Server, owner, repo string, pr int, id int64) []string {
	for _, c := range srv.Comments(owner, repo, pr) {
		if c.ID == id {
			return c.Reactions
		}
	}
	return nil
}

// A fork's pull request does not run on its own: the comment and the
// statuses say it waits, and a member's /pitwall rerun runs it.
func TestForkWaitsForAMaintainer(t *testing.T) {
	srv := githubtest.NewServer(t)
	connect(t, srv)
	const repo = "gh-fork"
	st.Apply(t, framework(repo))
	opened := deliveryID()
	accept(t, "pull_request", opened, pullRequest(t, repo, "opened", 9, fork, "mallory/widgets"))
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Comments(owner, repo, 9)) == 0 {
		require.True(t, time.Now().Before(deadline), "no comment on the fork's pull request")
		time.Sleep(200 * time.Millisecond)
	}
	body := srv.Comments(owner, repo, 9)[0].Body
	require.Contains(t, body, "comes from a fork")
	require.Contains(t, body, "waiting for a maintainer")
	require.Empty(t, testsOf(t, opened), "nothing ran")
	var waiting []status
	for _, s := range statuses(srv) {
		if s.SHA == fork {
			waiting = append(waiting, s)
		}
	}
	require.NotEmpty(t, waiting)
	require.Equal(t, "pending", waiting[0].State)
	require.Contains(t, waiting[0].Description, "waiting for a maintainer")

	srv.AddPullRequest(owner, repo, 9, githubtest.PullRequest{HeadSHA: fork, HeadRef: "feature", HeadRepo: "mallory/widgets", BaseRef: "main"})
	rerun := deliveryID()
	cid := srv.AddComment(owner, repo, 9, "octocat", "/pitwall rerun")
	payload := comment(t, repo, 9, cid, "/pitwall rerun", "octocat", "MEMBER")
	accept(t, "issue_comment", rerun, payload)
	require.Equal(t, "success", awaitStatus(t, srv, fork).State)
	require.Len(t, testsOf(t, rerun), 1)
	requireValid(t, srv)
}

// A secondary rate limit with Retry-After is honoured: the status is set
// again no sooner than GitHub asked.
func TestRateLimitIsHonoured(t *testing.T) {
	srv := githubtest.NewServer(t)
	connect(t, srv)
	const repo = "gh-limit"
	st.Apply(t, framework(repo))
	const sha = "4444444444444444444444444444444444444444"
	// This commit's status only: a report of an earlier test of the
	// package, late on a loaded machine, may post to the team's GitHub too.
	path := "/repos/" + owner + "/" + repo + "/statuses/" + sha
	srv.FailNext("POST", path, 1, githubtest.SecondaryRateLimit(3*time.Second))
	accept(t, "push", deliveryID(), push(t, repo, "main", sha))
	require.Equal(t, "success", awaitStatus(t, srv, sha).State)
	calls := slices.DeleteFunc(srv.Calls("repos/create-commit-status"), func(c githubtest.Request) bool { return c.Path != path })
	// Refused, then set again: pending, or already the verdict when the
	// test ended within the 3 s (a report writes the test's state as it is).
	require.GreaterOrEqual(t, len(calls), 2, "refused, then set again")
	require.Equal(t, http.StatusForbidden, calls[0].Status)
	require.True(t, calls[0].Injected)
	gap := calls[1].Time.Sub(calls[0].Time)
	t.Logf("refused with Retry-After: 3 at %s, tried again %s later", calls[0].Time.Format(time.RFC3339Nano), gap)
	require.GreaterOrEqual(t, gap, 3*time.Second, "Retry-After honoured")
	requireValid(t, srv)
}

// A team connected as a GitHub App's installation: Pitwall signs a JWT
// with the App's key, gets an installation token, and sets statuses with it.
func TestAppInstallation(t *testing.T) {
	srv := githubtest.NewServer(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	body, _ := json.Marshal(wire.GitHubConnectionRequest{APIURL: srv.URL + "/", WebhookSecret: secret,
		App: &wire.GitHubAppCredentials{AppID: githubtest.AppID, InstallationID: 77, PrivateKey: string(pemKey)}})
	var c wire.GitHubConnection
	require.Equal(t, http.StatusOK, st.Call(t, "PUT", "/api/v1/teams/default/github", "application/json", body, &c))
	require.Equal(t, "app", c.Auth)
	require.EqualValues(t, 77, c.InstallationID)
	raw := st.Call(t, "GET", "/api/v1/teams/default/github", "", nil, nil)
	require.Equal(t, http.StatusOK, raw)

	const repo = "gh-app"
	st.Apply(t, framework(repo))
	const sha = "5555555555555555555555555555555555555555"
	accept(t, "push", deliveryID(), push(t, repo, "main", sha))
	require.Equal(t, "success", awaitStatus(t, srv, sha).State)
	tokens := srv.Calls("apps/create-installation-access-token")
	require.NotEmpty(t, tokens)
	require.Equal(t, "/app/installations/77/access_tokens", tokens[0].Path)
	require.True(t, strings.HasPrefix(tokens[0].Header.Get("Authorization"), "Bearer ey"), "a JWT signed with the App's key")
	for _, r := range srv.Calls("repos/create-commit-status") {
		require.True(t, strings.HasPrefix(r.Header.Get("Authorization"), "token ghs_"), "statuses with the installation token: %q", r.Header.Get("Authorization"))
	}
	requireValid(t, srv)
	connect(t, githubtest.NewServer(t)) // back to a token for the tests after
}

// A newer push to a pull request aborts its tests still queued for the
// older head; /pitwall cancel from the owner aborts the rest, and the
// head's status says so.
func TestNewerPushSupersedesAndCancel(t *testing.T) {
	srv := githubtest.NewServer(t)
	connect(t, srv)
	const repo = "gh-supersede"
	fullName := owner + "/" + repo
	st.Apply(t, framework(repo))
	// Hold the one agent so the pull request's tests queue.
	st.Apply(t, fmt.Sprintf("name: gh-blocker\nexecution:\n  hosts: [%s]\n  script: \"#!/bin/sh\\nsleep 60\\n\"\n", agentName))
	blocker, err := st.Submit(t.Context(), wire.RunRequest{Framework: "gh-blocker"})
	require.NoError(t, err)
	_, err = st.Await(t.Context(), blocker.ID, time.Minute, func(x *wire.Test) bool { return x.State == wire.StateRunning })
	require.NoError(t, err)

	first := deliveryID()
	accept(t, "pull_request", first, pullRequest(t, repo, "opened", 11, fast, fullName))
	deadline := time.Now().Add(30 * time.Second)
	for len(testsOf(t, first)) == 0 {
		require.True(t, time.Now().Before(deadline), "the pull request's test never started")
		time.Sleep(100 * time.Millisecond)
	}
	second := deliveryID()
	accept(t, "pull_request", second, pullRequest(t, repo, "synchronize", 11, slow, fullName))
	old := st.Wait(t, testsOf(t, first)[0].ID)
	require.Equal(t, wire.StateAborted, old.State)
	require.Contains(t, old.Reason, "superseded by a push of badbad000000 to pull request #11")
	require.Equal(t, "error", awaitStatus(t, srv, fast).State)

	deadline = time.Now().Add(30 * time.Second)
	for len(testsOf(t, second)) == 0 {
		require.True(t, time.Now().Before(deadline), "the newer head's test never started")
		time.Sleep(100 * time.Millisecond)
	}
	cid := srv.AddComment(owner, repo, 11, "octocat", "/pitwall cancel")
	accept(t, "issue_comment", deliveryID(), comment(t, repo, 11, cid, "/pitwall cancel", "octocat", "OWNER"))
	newer := st.Wait(t, testsOf(t, second)[0].ID)
	require.Equal(t, wire.StateAborted, newer.State)
	require.Contains(t, newer.Reason, "cancelled by octocat on GitHub")
	final := awaitStatus(t, srv, slow)
	require.Equal(t, "error", final.State)
	require.Contains(t, final.Description, "aborted")
	deadline = time.Now().Add(30 * time.Second)
	for !slices.Contains(reactions(srv, owner, repo, 11, cid), "+1") {
		require.True(t, time.Now().Before(deadline), "no reaction to the cancel")
		time.Sleep(200 * time.Millisecond)
	}
	_, err = st.Do(t.Context(), "POST", fmt.Sprintf("/api/v1/tests/%d/abort", blocker.ID), "", nil, nil)
	require.NoError(t, err)
	st.Wait(t, blocker.ID)
	requireValid(t, srv)
}

// The webhook's response times over this package's deliveries (each
// verified, recorded, and handed to a workflow).
func TestWebhookResponseTime(t *testing.T) {
	srv := githubtest.NewServer(t)
	connect(t, srv)
	for range 40 {
		accept(t, "push", deliveryID(), push(t, "gh-unmapped", "main", base1))
	}
	ts := slices.Clone(webhookTimes)
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	t.Logf("webhook response time over %d deliveries: p50 %s, p90 %s, max %s", len(ts),
		ts[len(ts)/2].Round(time.Microsecond), ts[len(ts)*9/10].Round(time.Microsecond), ts[len(ts)-1].Round(time.Microsecond))
}
