package githubtest

import (
	"fmt"
	"strings"
	"time"
)

// BotLogin is the login of the GitHub App the server plays: comments,
// statuses and reactions made through the API are by this user, as they
// are by an app's bot on GitHub.
const BotLogin = "pitwall[bot]"

// AppID and AppSlug identify that app (GET /app).
const (
	AppID   = 424242
	AppSlug = "pitwall"
)

// state is what the server remembers between requests: enough for comments
// created, listed and edited, and check runs created then updated, to
// behave as on GitHub. Ids of everything created come from one counter and
// increase.
type state struct {
	lastID    int64
	comments  []*comment // in creation order
	checkRuns map[int64]map[string]any
	reactions map[int64][]reaction   // by comment id, including comments made elsewhere
	roles     map[string]string      // login -> role on every repository
	users     map[string]int64       // login -> user id
	pulls     map[string]PullRequest // by "owner/repo#number", lower case
	// commitComments are the comments on commits, in creation order.
	commitComments []CommitComment
}

// CommitComment is a comment on a commit as the server holds it.
type CommitComment struct {
	ID               int64
	Owner, Repo, SHA string
	Body, Login      string
}

type comment struct {
	id                int64
	owner, repo       string
	issue             int
	login, body       string
	created, updated  time.Time
	authorAssociation string
}

type reaction struct {
	id      int64
	login   string
	content string
	created time.Time
}

// Comment is an issue or pull request comment as the server holds it.
type Comment struct {
	ID          int64
	Owner, Repo string
	Issue       int
	User        string // the author's login; BotLogin for comments made through the API
	Body        string
	Reactions   []string // contents, in order: "+1", "eyes", "rocket"…
}

func newState() state {
	return state{lastID: 1000, checkRuns: map[int64]map[string]any{}, reactions: map[int64][]reaction{},
		roles: map[string]string{}, users: map[string]int64{}, pulls: map[string]PullRequest{}}
}

func (st *state) newID() int64 {
	st.lastID++
	return st.lastID
}

// PullRequest is what GET /repos/{owner}/{repo}/pulls/{n} answers about a
// pull request the test made with AddPullRequest.
type PullRequest struct {
	HeadSHA, HeadRef, BaseRef string
	// HeadRepo is the full name of the repository the head branch is in:
	// another than the pull request's own makes it a fork's.
	HeadRepo string
}

// AddPullRequest opens pull request number on owner/repo; without one, GET
// answers GitHub's 404. An empty HeadRepo is owner/repo.
func (s *Server) AddPullRequest(owner, repo string, number int, pr PullRequest) {
	if pr.HeadRepo == "" {
		pr.HeadRepo = owner + "/" + repo
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.pulls[pullKey(owner, repo, number)] = pr
}

func pullKey(owner, repo string, number int) string {
	return strings.ToLower(fmt.Sprintf("%s/%s#%d", owner, repo, number))
}

// SetPermission gives login a role on every repository: admin, maintain,
// write, triage, read or none. Without one a user has read, as anyone has
// on a public repository.
func (s *Server) SetPermission(login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.roles[login] = role
}

// AddComment puts a comment by someone else on an issue or pull request,
// as if made on GitHub, and returns its id.
func (s *Server) AddComment(owner, repo string, issue int, login, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.addComment(owner, repo, issue, login, body, "CONTRIBUTOR").id
}

// Comments returns the comments on one issue or pull request, as
// GitHub lists them.
func (s *Server) Comments(owner, repo string, issue int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.state.commentsOn(owner, repo, issue) {
		var contents []string
		for _, r := range s.state.reactions[c.id] {
			contents = append(contents, r.content)
		}
		out = append(out, Comment{ID: c.id, Owner: c.owner, Repo: c.repo, Issue: c.issue,
			User: c.login, Body: c.body, Reactions: contents})
	}
	return out
}

func (st *state) addComment(owner, repo string, issue int, login, body, association string) *comment {
	now := time.Now().UTC()
	c := &comment{id: st.newID(), owner: owner, repo: repo, issue: issue, login: login, body: body,
		created: now, updated: now, authorAssociation: association}
	st.comments = append(st.comments, c)
	return c
}

func (st *state) commentsOn(owner, repo string, issue int) []*comment {
	var out []*comment
	for _, c := range st.comments {
		if strings.EqualFold(c.owner, owner) && strings.EqualFold(c.repo, repo) && c.issue == issue {
			out = append(out, c)
		}
	}
	return out
}

func (st *state) findComment(owner, repo string, id int64) *comment {
	for _, c := range st.comments {
		if c.id == id && strings.EqualFold(c.owner, owner) && strings.EqualFold(c.repo, repo) {
			return c
		}
	}
	return nil
}

// CommitComments returns the comments on commit sha of owner/repo, in
// creation order.
func (s *Server) CommitComments(owner, repo, sha string) []CommitComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CommitComment
	for _, c := range s.state.commitComments {
		if strings.EqualFold(c.Owner, owner) && strings.EqualFold(c.Repo, repo) && c.SHA == sha {
			out = append(out, c)
		}
	}
	return out
}
