// Package gh is what Pitwall does on GitHub, through go-github: commit
// statuses, the one pull-request comment it edits in place, replies and
// reactions to commands, and reading a pull request. It authenticates with
// a token or as a GitHub App's installation (ghinstallation), against
// github.com or a GitHub Enterprise Server's API, and says of each error
// whether and when to try again (GitHub's rate limits).
package gh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v75/github"
)

// DefaultAPIURL is github.com's REST API.
const DefaultAPIURL = "https://api.github.com/"

// Auth kinds of a connection.
const (
	AuthToken = "token"
	AuthApp   = "app"
)

// Conn is how to reach a team's GitHub, credentials opened.
type Conn struct {
	Team   string
	APIURL string
	Auth   string
	// Token is the token (AuthToken).
	Token string
	// AppID, InstallationID and PrivateKey are the App's (AuthApp).
	AppID, InstallationID int64
	PrivateKey            []byte
}

// Client acts on one team's GitHub.
type Client struct {
	gh   *github.Client
	team string
}

// New returns a client of c's GitHub.
func New(c Conn) (*Client, error) {
	api := c.APIURL
	if api == "" {
		api = DefaultAPIURL
	}
	if !strings.HasSuffix(api, "/") {
		api += "/"
	}
	base := &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second}
	var hc *http.Client
	switch c.Auth {
	case AuthToken:
		hc = &http.Client{Transport: base, Timeout: time.Minute}
	case AuthApp:
		tr, err := ghinstallation.New(base, c.AppID, c.InstallationID, c.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("GitHub App credentials: %w", err)
		}
		tr.BaseURL = strings.TrimSuffix(api, "/")
		hc = &http.Client{Transport: tr, Timeout: time.Minute}
	default:
		return nil, fmt.Errorf("unknown GitHub authentication %q", c.Auth)
	}
	cl := github.NewClient(hc)
	if c.Auth == AuthToken {
		cl = cl.WithAuthToken(c.Token)
	}
	// The API's root as given (GitHub Enterprise Server: https://HOST/api/v3/).
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q is not an http(s) URL", api)
	}
	cl.BaseURL = u
	return &Client{gh: cl, team: c.Team}, nil
}

func split(repo string) (string, string) {
	owner, name, _ := strings.Cut(repo, "/")
	return owner, name
}

// Status states.
const (
	StatePending = "pending"
	StateSuccess = "success"
	StateFailure = "failure"
	StateError   = "error"
)

// SetStatus sets a commit status on sha: context names the check (e.g.
// pitwall/http-service), description says the verdict in at most 140
// characters, and url links to the test.
func (c *Client) SetStatus(ctx context.Context, repo, sha, state, context_, description, url string) error {
	owner, name := split(repo)
	if len(description) > 140 {
		description = description[:137] + "..."
	}
	st := &github.RepoStatus{State: &state, Context: &context_, Description: &description}
	if url != "" {
		st.TargetURL = &url
	}
	_, _, err := c.gh.Repositories.CreateStatus(ctx, owner, name, sha, st)
	return wrap("set the commit status", err)
}

// Marker opens Pitwall's comment on a pull request, so that it is found
// again when its ID is lost.
func (c *Client) Marker() string { return "<!-- pitwall:" + c.team + " -->" }

// UpsertComment writes body as Pitwall's one comment on pull request pr:
// it edits comment id when given, else the comment that carries the
// marker, else creates one. It returns the comment's ID.
func (c *Client) UpsertComment(ctx context.Context, repo string, pr int, id int64, body string) (int64, error) {
	owner, name := split(repo)
	body = c.Marker() + "\n" + body
	if id == 0 {
		found, err := c.findComment(ctx, owner, name, pr)
		if err != nil {
			return 0, err
		}
		id = found
	}
	if id != 0 {
		_, resp, err := c.gh.Issues.EditComment(ctx, owner, name, id, &github.IssueComment{Body: &body})
		if err == nil {
			return id, nil
		}
		if resp == nil || resp.StatusCode != http.StatusNotFound {
			return 0, wrap("edit the pull request's comment", err)
		}
		// Someone deleted it: write a new one.
	}
	cm, _, err := c.gh.Issues.CreateComment(ctx, owner, name, pr, &github.IssueComment{Body: &body})
	if err != nil {
		return 0, wrap("comment on the pull request", err)
	}
	return cm.GetID(), nil
}

// findComment looks for Pitwall's comment among the pull request's.
func (c *Client) findComment(ctx context.Context, owner, name string, pr int) (int64, error) {
	opt := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < 20; page++ {
		cms, resp, err := c.gh.Issues.ListComments(ctx, owner, name, pr, opt)
		if err != nil {
			return 0, wrap("list the pull request's comments", err)
		}
		for _, cm := range cms {
			if strings.HasPrefix(cm.GetBody(), c.Marker()) {
				return cm.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return 0, nil
}

// Reply adds a comment of its own to pull request pr (an answer to a command).
func (c *Client) Reply(ctx context.Context, repo string, pr int, body string) error {
	owner, name := split(repo)
	_, _, err := c.gh.Issues.CreateComment(ctx, owner, name, pr, &github.IssueComment{Body: &body})
	return wrap("reply on the pull request", err)
}

// CommentCommit adds a comment to commit sha (a commit that came from a
// push, not a pull request).
func (c *Client) CommentCommit(ctx context.Context, repo, sha, body string) error {
	owner, name := split(repo)
	_, _, err := c.gh.Repositories.CreateComment(ctx, owner, name, sha, &github.RepositoryComment{Body: &body})
	return wrap("comment on the commit", err)
}

// React adds a reaction (+1, -1, eyes, rocket, confused...) to a comment.
func (c *Client) React(ctx context.Context, repo string, commentID int64, content string) error {
	owner, name := split(repo)
	_, _, err := c.gh.Reactions.CreateIssueCommentReaction(ctx, owner, name, commentID, content)
	return wrap("react to the comment", err)
}

// PR is what Pitwall needs of a pull request.
type PR struct {
	Number           int
	HeadSHA, HeadRef string
	BaseRef          string
	Fork             bool
}

// PullRequest reads pull request number of repo.
func (c *Client) PullRequest(ctx context.Context, repo string, number int) (*PR, error) {
	owner, name := split(repo)
	p, _, err := c.gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return nil, wrap("read the pull request", err)
	}
	return &PR{Number: number, HeadSHA: p.GetHead().GetSHA(), HeadRef: p.GetHead().GetRef(), BaseRef: p.GetBase().GetRef(),
		Fork: !strings.EqualFold(p.GetHead().GetRepo().GetFullName(), p.GetBase().GetRepo().GetFullName())}, nil
}

// Error is a failed call to GitHub: what was being done, GitHub's answer,
// and whether and when to try again.
type Error struct {
	Doing string
	Err   error
	// Retry says the call may succeed later; After, when GitHub said (a
	// rate limit's reset or Retry-After), else 0.
	Retry bool
	After time.Duration
}

func (e *Error) Error() string { return "GitHub: " + e.Doing + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// DefaultSecondaryWait is how long to wait after a secondary rate limit
// that gave no Retry-After, as GitHub's documentation asks (at least a minute).
const DefaultSecondaryWait = time.Minute

// wrap classifies err: rate limits retry after what GitHub said, server
// errors and network failures retry, other answers (a bad token, a
// missing repository) do not.
func wrap(doing string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Doing: doing, Err: err}
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var resp *github.ErrorResponse
	var nerr net.Error
	switch {
	case errors.As(err, &rl):
		e.Retry, e.After = true, time.Until(rl.Rate.Reset.Time)+time.Second
		if e.After < time.Second {
			e.After = time.Second
		}
	case errors.As(err, &abuse):
		e.Retry, e.After = true, DefaultSecondaryWait
		if abuse.RetryAfter != nil {
			e.After = *abuse.RetryAfter
		}
	case errors.As(err, &resp):
		code := resp.Response.StatusCode
		e.Retry = code >= 500 || code == http.StatusTooManyRequests
		if ra := resp.Response.Header.Get("Retry-After"); ra != "" {
			if d, perr := time.ParseDuration(ra + "s"); perr == nil {
				e.Retry, e.After = true, d
			}
		}
	case errors.As(err, &nerr), errors.Is(err, context.DeadlineExceeded):
		e.Retry = true
	default:
		e.Retry = true
	}
	return e
}
