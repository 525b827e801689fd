package githubtest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/go-github/v75/github"
	"github.com/stretchr/testify/require"
)

// fixture is what a test of the server needs: the server and a go-github
// client pointed at it.
type fixture struct {
	srv    *Server
	client *github.Client
	ctx    context.Context
}

func setup(t *testing.T) fixture {
	t.Helper()
	srv := NewServer(t)
	client, err := github.NewClient(nil).WithAuthToken("t").WithEnterpriseURLs(srv.URL, srv.URL)
	require.NoError(t, err)
	return fixture{srv: srv, client: client, ctx: context.Background()}
}

// requireValid fails the test unless every request was valid and every
// answer matches GitHub's description of the operation's responses.
func (f fixture) requireValid(t *testing.T) {
	t.Helper()
	require.Empty(t, f.srv.Invalid())
	for _, r := range f.srv.Requests() {
		if r.Injected {
			continue
		}
		req, err := http.NewRequest(r.Method, "http://api.github.invalid"+r.Path, bytes.NewReader(r.Body))
		require.NoError(t, err)
		req.URL.RawQuery = r.Query.Encode()
		req.Header = r.Header
		route, params, err := f.srv.spec.router.FindRoute(req)
		require.NoError(t, err)
		header := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
		err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 r.Status,
			Header:                 header,
			Body:                   io.NopCloser(bytes.NewReader(r.Response)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		})
		require.NoError(t, err, "%s %s answered %d: %s", r.Method, r.Path, r.Status, r.Response)
	}
}

func TestOpenAPIDescriptionLoads(t *testing.T) {
	s := loadSpec(t)
	t.Logf("GitHub's OpenAPI description (%s, %d paths) loaded in %s", openAPIPackage, s.doc.Paths.Len(), s.took)
}

func TestGoGitHubCallsValidateAndDecode(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const owner, repo, sha = "acme", "widget", "6dcb09b5b57875f334f61aebed695e2e4193db5e"

	st, _, err := f.client.Repositories.CreateStatus(f.ctx, owner, repo, sha, &github.RepoStatus{
		State: github.Ptr("pending"), TargetURL: github.Ptr("https://pitwall.example/tests/7"),
		Description: github.Ptr("Performance test 7 queued"), Context: github.Ptr("pitwall/sample"),
	})
	require.NoError(t, err)
	require.NotZero(t, st.GetID())
	require.Equal(t, "pending", st.GetState())
	require.Equal(t, "pitwall/sample", st.GetContext())
	require.Equal(t, BotLogin, st.GetCreator().GetLogin())

	first, resp, err := f.client.Issues.CreateComment(f.ctx, owner, repo, 12, &github.IssueComment{Body: github.Ptr("Queued")})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "Queued", first.GetBody())
	require.Equal(t, BotLogin, first.GetUser().GetLogin())
	require.Equal(t, "Bot", first.GetUser().GetType())
	require.Contains(t, first.GetHTMLURL(), "/acme/widget/issues/12#issuecomment-")
	second, _, err := f.client.Issues.CreateComment(f.ctx, owner, repo, 12, &github.IssueComment{Body: github.Ptr("Second")})
	require.NoError(t, err)
	require.Greater(t, second.GetID(), first.GetID(), "ids increase")

	edited, _, err := f.client.Issues.EditComment(f.ctx, owner, repo, first.GetID(), &github.IssueComment{Body: github.Ptr("Finished: no regression")})
	require.NoError(t, err)
	require.Equal(t, first.GetID(), edited.GetID())
	require.Equal(t, "Finished: no regression", edited.GetBody())

	listed, _, err := f.client.Issues.ListComments(f.ctx, owner, repo, 12, nil)
	require.NoError(t, err)
	require.Len(t, listed, 2)
	require.Equal(t, []string{"Finished: no regression", "Second"}, []string{listed[0].GetBody(), listed[1].GetBody()})
	others, _, err := f.client.Issues.ListComments(f.ctx, owner, repo, 13, nil)
	require.NoError(t, err)
	require.Empty(t, others, "comments belong to their issue")

	reaction, resp, err := f.client.Reactions.CreateIssueCommentReaction(f.ctx, owner, repo, 987654321, "eyes")
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "eyes", reaction.GetContent())
	again, resp, err := f.client.Reactions.CreateIssueCommentReaction(f.ctx, owner, repo, 987654321, "eyes")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GitHub answers 200 to a reaction that exists")
	require.Equal(t, reaction.GetID(), again.GetID())

	f.srv.SetPermission("maintainer", "maintain")
	perm, _, err := f.client.Repositories.GetPermissionLevel(f.ctx, owner, repo, "maintainer")
	require.NoError(t, err)
	require.Equal(t, "write", perm.GetPermission())
	require.Equal(t, "maintain", perm.GetRoleName())
	require.Equal(t, "maintainer", perm.GetUser().GetLogin())
	perm, _, err = f.client.Repositories.GetPermissionLevel(f.ctx, owner, repo, "passer-by")
	require.NoError(t, err)
	require.Equal(t, "read", perm.GetPermission())

	run, _, err := f.client.Checks.CreateCheckRun(f.ctx, owner, repo, github.CreateCheckRunOptions{
		Name: "pitwall/sample", HeadSHA: sha, Status: github.Ptr("in_progress"),
		StartedAt: &github.Timestamp{Time: time.Now()},
	})
	require.NoError(t, err)
	require.Equal(t, "in_progress", run.GetStatus())
	require.Equal(t, sha, run.GetHeadSHA())
	require.Equal(t, int64(AppID), run.GetApp().GetID())
	done, _, err := f.client.Checks.UpdateCheckRun(f.ctx, owner, repo, run.GetID(), github.UpdateCheckRunOptions{
		Name: "pitwall/sample", Conclusion: github.Ptr("success"),
		Output: &github.CheckRunOutput{Title: github.Ptr("No regression"), Summary: github.Ptr("3 KPIs unchanged")},
	})
	require.NoError(t, err)
	require.Equal(t, "completed", done.GetStatus(), "a conclusion completes the run")
	require.Equal(t, "success", done.GetConclusion())
	require.Equal(t, "No regression", done.GetOutput().GetTitle())
	require.NotNil(t, done.CompletedAt)

	app, _, err := f.client.Apps.Get(f.ctx, "")
	require.NoError(t, err)
	require.Equal(t, AppSlug, app.GetSlug())
	token, _, err := f.client.Apps.CreateInstallationToken(f.ctx, 42, &github.InstallationTokenOptions{
		Permissions: &github.InstallationPermissions{Statuses: github.Ptr("write"), Issues: github.Ptr("write")},
	})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token.GetToken(), "ghs_"))
	require.True(t, token.GetExpiresAt().After(time.Now()))
	require.Equal(t, "write", token.GetPermissions().GetStatuses())

	f.requireValid(t)
	var ops []string
	for _, r := range f.srv.Requests() {
		ops = append(ops, r.OperationID)
		require.Equal(t, "Bearer t", r.Header.Get("Authorization"))
	}
	require.Equal(t, []string{
		"repos/create-commit-status", "issues/create-comment", "issues/create-comment", "issues/update-comment",
		"issues/list-comments", "issues/list-comments", "reactions/create-for-issue-comment",
		"reactions/create-for-issue-comment", "repos/get-collaborator-permission-level",
		"repos/get-collaborator-permission-level", "checks/create", "checks/update", "apps/get-authenticated",
		"apps/create-installation-access-token",
	}, ops)
	require.Equal(t, []Comment{
		{ID: first.GetID(), Owner: owner, Repo: repo, Issue: 12, User: BotLogin, Body: "Finished: no regression"},
		{ID: second.GetID(), Owner: owner, Repo: repo, Issue: 12, User: BotLogin, Body: "Second"},
	}, f.srv.Comments(owner, repo, 12))
}

func TestPullRequestFromAForkIsAsGitHubAnswers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.srv.AddPullRequest("acme", "widget", 7, PullRequest{HeadSHA: "0123abc", HeadRef: "speedup", BaseRef: "main", HeadRepo: "stranger/widget"})
	f.srv.AddPullRequest("acme", "widget", 8, PullRequest{HeadSHA: "4567def", HeadRef: "tweak", BaseRef: "main"})

	pr, _, err := f.client.PullRequests.Get(f.ctx, "acme", "widget", 7)
	require.NoError(t, err)
	require.Equal(t, 7, pr.GetNumber())
	require.Equal(t, "0123abc", pr.GetHead().GetSHA())
	require.Equal(t, "speedup", pr.GetHead().GetRef())
	require.Equal(t, "main", pr.GetBase().GetRef())
	require.Equal(t, "stranger/widget", pr.GetHead().GetRepo().GetFullName())
	require.True(t, pr.GetHead().GetRepo().GetFork())
	require.Equal(t, "acme/widget", pr.GetBase().GetRepo().GetFullName())
	own, _, err := f.client.PullRequests.Get(f.ctx, "acme", "widget", 8)
	require.NoError(t, err)
	require.Equal(t, "acme/widget", own.GetHead().GetRepo().GetFullName())
	require.False(t, own.GetHead().GetRepo().GetFork())
	_, resp, err := f.client.PullRequests.Get(f.ctx, "acme", "widget", 9)
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	f.requireValid(t)
}

func TestPlainBaseURL(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	client := github.NewClient(nil)
	var err error
	client.BaseURL, err = client.BaseURL.Parse(srv.URL + "/")
	require.NoError(t, err)

	_, _, err = client.Repositories.CreateStatus(context.Background(), "acme", "widget", "abc", &github.RepoStatus{State: github.Ptr("success")})
	require.NoError(t, err)
	calls := srv.Calls("repos/create-commit-status")
	require.Len(t, calls, 1)
	require.Equal(t, "/repos/acme/widget/statuses/abc", calls[0].Path)
	require.Empty(t, srv.Invalid())
}

func TestListCommentsPages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for i := range 35 {
		f.srv.AddComment("acme", "widget", 3, "someone", strings.Repeat("x", i+1))
	}
	page1, resp, err := f.client.Issues.ListComments(f.ctx, "acme", "widget", 3, nil)
	require.NoError(t, err)
	require.Len(t, page1, 30)
	require.Equal(t, 2, resp.NextPage)
	page2, resp, err := f.client.Issues.ListComments(f.ctx, "acme", "widget", 3,
		&github.IssueListCommentsOptions{ListOptions: github.ListOptions{Page: resp.NextPage}})
	require.NoError(t, err)
	require.Len(t, page2, 5)
	require.Zero(t, resp.NextPage)
	require.Greater(t, page2[0].GetID(), page1[29].GetID())
	require.Equal(t, "someone", page2[0].GetUser().GetLogin())
	f.requireValid(t)
}

func TestInvalidRequestsAreRecordedAndRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)

	_, resp, err := f.client.Repositories.CreateStatus(f.ctx, "acme", "widget", "abc", &github.RepoStatus{State: github.Ptr("green")})
	require.Error(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	req, err := f.client.NewRequest(http.MethodPost, "repos/acme/widget/statuses", map[string]string{"state": "success"})
	require.NoError(t, err)
	resp, err = f.client.Do(f.ctx, req, nil)
	var gerr *github.ErrorResponse
	require.ErrorAs(t, err, &gerr)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "GitHub answers 404 to a path it does not have")
	_, resp, err = f.client.Checks.CreateCheckRun(f.ctx, "acme", "widget", github.CreateCheckRunOptions{
		Name: "pitwall/sample", HeadSHA: "abc", Status: github.Ptr("completed"),
	})
	require.ErrorAs(t, err, &gerr)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "GitHub requires a conclusion with completed")

	// Valid requests: an operation the server does not hold gets GitHub's
	// 404, and a nil options pointer (sent as null) is no body.
	_, resp, err = f.client.Repositories.Get(f.ctx, "acme", "widget")
	require.ErrorAs(t, err, &gerr)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "https://docs.github.com/rest/repos/repos#get-a-repository", gerr.DocumentationURL)
	_, _, err = f.client.Apps.CreateInstallationToken(f.ctx, 1, nil)
	require.NoError(t, err)

	invalid := f.srv.Invalid()
	require.Len(t, invalid, 3)
	require.Equal(t, "repos/create-commit-status", invalid[0].OperationID)
	require.Contains(t, invalid[0].Invalid, `at /state: value is not one of the allowed values`)
	require.Contains(t, invalid[0].Invalid, `(got "green")`)
	require.Empty(t, invalid[1].OperationID)
	require.Contains(t, invalid[1].Invalid, "POST /repos/acme/widget/statuses is no operation")
	require.Equal(t, "checks/create", invalid[2].OperationID)
	require.Contains(t, invalid[2].Invalid, "needs a conclusion")
	require.Len(t, f.srv.Requests(), 5)

	f.srv.Reset()
	require.Empty(t, f.srv.Requests())
	require.Empty(t, f.srv.Invalid())
}

func TestSecondaryRateLimitIsAnAbuseRateLimitError(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.srv.FailNext(http.MethodPost, "/repos/{owner}/{repo}/statuses/{sha}", 1, SecondaryRateLimit(time.Second))
	status := &github.RepoStatus{State: github.Ptr("success")}

	_, _, err := f.client.Repositories.CreateStatus(f.ctx, "acme", "widget", "abc", status)
	var abuse *github.AbuseRateLimitError
	require.ErrorAs(t, err, &abuse)
	require.Equal(t, time.Second, abuse.GetRetryAfter())
	require.Contains(t, abuse.Message, "You have exceeded a secondary rate limit")

	// go-github itself refuses to send before Retry-After has passed…
	_, _, err = f.client.Repositories.CreateStatus(f.ctx, "acme", "widget", "abc", status)
	require.ErrorAs(t, err, &abuse)
	require.Len(t, f.srv.Requests(), 1)
	// …and a caller that waits gets through.
	time.Sleep(abuse.GetRetryAfter())
	_, _, err = f.client.Repositories.CreateStatus(f.ctx, "acme", "widget", "abc", status)
	require.NoError(t, err)
	calls := f.srv.Calls("repos/create-commit-status")
	require.Len(t, calls, 2)
	require.True(t, calls[0].Injected)
	require.Equal(t, http.StatusForbidden, calls[0].Status)
	require.False(t, calls[1].Injected)
	f.requireValid(t)
}

func TestPrimaryRateLimitIsARateLimitError(t *testing.T) {
	t.Parallel()
	f := setup(t)
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	f.srv.FailNext("", "", 1, PrimaryRateLimit(reset))

	_, _, err := f.client.Issues.CreateComment(f.ctx, "acme", "widget", 1, &github.IssueComment{Body: github.Ptr("hi")})
	var limit *github.RateLimitError
	require.ErrorAs(t, err, &limit)
	require.Zero(t, limit.Rate.Remaining)
	require.True(t, reset.Equal(limit.Rate.Reset.Time), "reset %s, want %s", limit.Rate.Reset, reset)
	require.Contains(t, limit.Message, "API rate limit exceeded for")

	// The failure was answered once: a fresh client (go-github's own
	// client refuses to send before the reset) gets through.
	fresh, err := github.NewClient(nil).WithAuthToken("t").WithEnterpriseURLs(f.srv.URL, f.srv.URL)
	require.NoError(t, err)
	_, _, err = fresh.Issues.CreateComment(f.ctx, "acme", "widget", 1, &github.IssueComment{Body: github.Ptr("hi")})
	require.NoError(t, err)
	require.Len(t, f.srv.Requests(), 2)
}

func TestFailNextMatchesMethodAndPattern(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.srv.FailNext(http.MethodPatch, "/repos/{owner}/{repo}/issues/comments/{comment_id}", 2,
		Failure{Status: http.StatusBadGateway, Body: []byte(`{"message":"Server Error"}`)})

	c, _, err := f.client.Issues.CreateComment(f.ctx, "acme", "widget", 1, &github.IssueComment{Body: github.Ptr("a")})
	require.NoError(t, err, "a POST is not the PATCH that fails")
	for range 2 {
		_, resp, err := f.client.Issues.EditComment(f.ctx, "acme", "widget", c.GetID(), &github.IssueComment{Body: github.Ptr("b")})
		require.Error(t, err)
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	}
	_, _, err = f.client.Issues.EditComment(f.ctx, "acme", "widget", c.GetID(), &github.IssueComment{Body: github.Ptr("b")})
	require.NoError(t, err)
	require.Equal(t, "b", f.srv.Comments("acme", "widget", 1)[0].Body)
}

// BenchmarkLoadOpenAPI measures loading GitHub's OpenAPI description and
// reports the heap it keeps (retained-MB).
func BenchmarkLoadOpenAPI(b *testing.B) {
	loadSpec(b) // fetch the package, outside the timing
	dir, err := openAPIPackage.Fetch(context.Background())
	require.NoError(b, err)
	b.ReportAllocs()
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := readSpec(dir + "/" + openAPIFile)
		require.NoError(b, err)
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "retained-MB")
}
