package githubtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExamplesLoadAndValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ event, action string }{
		{"push", ""}, {"pull_request", "opened"}, {"pull_request", "synchronize"}, {"issue_comment", "created"},
	} {
		body := Example(t, c.event, c.action)
		var head struct {
			Action string `json:"action"`
		}
		require.NoError(t, json.Unmarshal(body, &head))
		require.Equal(t, c.action, head.Action)
		ValidatePayload(t, c.event, body)
	}
}

func TestPayloadTweaksStayWithinTheSchema(t *testing.T) {
	t.Parallel()
	const sha = "0123456789abcdef0123456789abcdef01234567"
	body := Payload(t, "pull_request", "synchronize", func(m map[string]any) {
		Set(t, m, "number", 42)
		Set(t, m, "pull_request.number", 42)
		Set(t, m, "repository.full_name", "acme/widget")
		Set(t, m, "pull_request.head.sha", sha)
		Set(t, m, "pull_request.author_association", "FIRST_TIME_CONTRIBUTOR")
		Set(t, m, "pull_request.head.repo.full_name", "stranger/widget")
		Set(t, m, "pull_request.head.repo.fork", true)
	})
	var got struct {
		Number      int `json:"number"`
		PullRequest struct {
			AuthorAssociation string `json:"author_association"`
			Head              struct {
				SHA  string `json:"sha"`
				Repo struct {
					FullName string `json:"full_name"`
					Fork     bool   `json:"fork"`
				} `json:"repo"`
			} `json:"head"`
		} `json:"pull_request"`
		Repository struct {
			FullName string `json:"full_name"`
			ID       json.Number
		} `json:"repository"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, 42, got.Number)
	require.Equal(t, "acme/widget", got.Repository.FullName)
	require.Equal(t, sha, got.PullRequest.Head.SHA)
	require.Equal(t, "FIRST_TIME_CONTRIBUTOR", got.PullRequest.AuthorAssociation)
	require.Equal(t, "stranger/widget", got.PullRequest.Head.Repo.FullName)
	require.True(t, got.PullRequest.Head.Repo.Fork)

	comment := Payload(t, "issue_comment", "created", func(m map[string]any) {
		Set(t, m, "comment.body", "/pitwall run sample")
		Set(t, m, "comment.author_association", "MEMBER")
	})
	ValidatePayload(t, "issue_comment", comment)
}

func TestPayloadRefusesTweaksGitHubWouldNotSend(t *testing.T) {
	t.Parallel()
	wrong := Payload(t, "pull_request", "opened", nil)
	var m map[string]any
	require.NoError(t, json.Unmarshal(wrong, &m))
	m["number"] = "42"
	wrong, err := json.Marshal(m)
	require.NoError(t, err)
	require.ErrorContains(t, CheckPayload(t, "pull_request", wrong), "number")

	msg := refusal(t, func(tb testing.TB) {
		Payload(tb, "pull_request", "opened", func(m map[string]any) { m["number"] = "42" })
	})
	require.Contains(t, msg, "not what GitHub sends")
	msg = refusal(t, func(tb testing.TB) {
		Payload(tb, "issue_comment", "created", func(m map[string]any) {
			Set(tb, m, "comment.author_association", "FRIEND")
		})
	})
	require.Contains(t, msg, "author_association")
	msg = refusal(t, func(tb testing.TB) {
		Payload(tb, "push", "", func(m map[string]any) { Set(tb, m, "repo.full_name", "acme/widget") })
	})
	require.Contains(t, msg, "repo is not an object")
	msg = refusal(t, func(tb testing.TB) { Example(tb, "pull_request", "teleported") })
	require.Contains(t, msg, `no "pull_request" example with action "teleported"`)
}

func TestSignMatchesGitHubsTestVector(t *testing.T) {
	t.Parallel()
	// From GitHub's docs, "Validating webhook deliveries".
	require.Equal(t, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
		Sign([]byte("It's a Secret to Everybody"), []byte("Hello, World!")))
}

func TestDeliverSendsGitHubsHeaders(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	payload := Example(t, "push", "")

	resp := Deliver(t, srv.URL+"/hooks/github", "push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte("s3cret"), payload)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, http.MethodPost, got.Method)
	require.Equal(t, "/hooks/github", got.URL.Path)
	require.Equal(t, payload, body)
	require.Equal(t, "push", got.Header.Get("X-GitHub-Event"))
	require.Equal(t, "72d3162e-cc78-11e3-81ab-4c9367dc0958", got.Header.Get("X-GitHub-Delivery"))
	require.Equal(t, Sign([]byte("s3cret"), payload), got.Header.Get("X-Hub-Signature-256"))
	require.Regexp(t, `^sha1=[0-9a-f]{40}$`, got.Header.Get("X-Hub-Signature"))
	require.Regexp(t, `^GitHub-Hookshot/`, got.Header.Get("User-Agent"))
	require.Equal(t, "application/json", got.Header.Get("Content-Type"))

	Deliver(t, srv.URL, "ping", "1", nil, []byte(`{}`))
	require.Empty(t, got.Header.Get("X-Hub-Signature-256"), "a webhook without a secret gets no signature")
}

// errTB is a testing.TB whose fatal failures end only the goroutine that
// runs a helper, so a test can see the helper refuse.
type errTB struct {
	testing.TB
	failed string
}

func (e *errTB) Helper() {}

func (e *errTB) Fatalf(format string, args ...any) {
	e.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// refusal runs fn and returns the message it failed with, or "".
func refusal(t *testing.T, fn func(tb testing.TB)) string {
	e := &errTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(e)
	}()
	<-done
	return e.failed
}
