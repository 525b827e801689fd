package githubtest

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The operations the server answers, each from the repository state.

// call is one valid request as a handler sees it.
type call struct {
	params map[string]string
	query  url.Values
	body   map[string]any
	header http.Header // set by the handler for its answer
	// invalid is set by a handler that refuses the request for a rule the
	// description states only in words.
	invalid string
}

// handler answers one operation: a status and a value to encode as JSON.
type handler func(s *Server, c *call) (int, any)

// handlers are the operations Pitwall uses, by operationId; other valid
// operations get GitHub's 404.
var handlers = map[string]handler{
	"repos/create-commit-status":              (*Server).createStatus,
	"checks/create":                           (*Server).createCheckRun,
	"checks/update":                           (*Server).updateCheckRun,
	"checks/get":                              (*Server).getCheckRun,
	"issues/list-comments":                    (*Server).listComments,
	"issues/create-comment":                   (*Server).createComment,
	"issues/get-comment":                      (*Server).getComment,
	"issues/update-comment":                   (*Server).updateComment,
	"issues/delete-comment":                   (*Server).deleteComment,
	"reactions/create-for-issue-comment":      (*Server).createReaction,
	"apps/get-authenticated":                  (*Server).getApp,
	"apps/create-installation-access-token":   (*Server).createInstallationToken,
	"repos/get-collaborator-permission-level": (*Server).getPermission,
	"pulls/get":                               (*Server).getPullRequest,
	"repos/create-commit-comment":             (*Server).createCommitComment,
}

func notFound() (int, any) {
	return http.StatusNotFound, map[string]string{
		"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404",
	}
}

func (s *Server) createStatus(c *call) (int, any) {
	owner, repo, sha := c.params["owner"], c.params["repo"], c.params["sha"]
	id := s.state.newID()
	now := stamp(time.Now())
	out := s.spec.mustExample("status")
	out["id"] = id
	out["node_id"] = nodeID("Status", id)
	out["url"] = apiURL("repos", owner, repo, "statuses", sha)
	out["state"] = c.body["state"]
	out["description"] = c.body["description"]
	out["target_url"] = c.body["target_url"]
	out["context"] = stringOr(c.body["context"], "default")
	out["created_at"], out["updated_at"] = now, now
	out["creator"] = s.user(BotLogin)
	c.setLocation(out["url"])
	return http.StatusCreated, out
}

func (s *Server) createCheckRun(c *call) (int, any) {
	owner, repo := c.params["owner"], c.params["repo"]
	id := s.state.newID()
	run := s.spec.mustExample("check-run")
	run["id"] = id
	run["node_id"] = nodeID("CheckRun", id)
	run["url"] = apiURL("repos", owner, repo, "check-runs", id)
	run["html_url"] = htmlURL(owner, repo, "runs", id)
	run["head_sha"] = c.body["head_sha"]
	run["name"] = c.body["name"]
	run["details_url"] = stringOr(c.body["details_url"], "https://github.com/apps/"+AppSlug)
	run["external_id"] = stringOr(c.body["external_id"], "")
	run["status"] = "queued"
	run["conclusion"] = nil
	run["started_at"] = stamp(time.Now())
	run["completed_at"] = nil
	run["output"] = map[string]any{"title": nil, "summary": nil, "text": nil, "annotations_count": 0,
		"annotations_url": apiURL("repos", owner, repo, "check-runs", id, "annotations")}
	run["check_suite"] = map[string]any{"id": s.state.newID()}
	run["app"] = s.app()
	run["pull_requests"] = []any{}
	if !applyCheckRun(run, c.body) {
		return c.refuse("a check run completed (status or completed_at) needs a conclusion")
	}
	s.state.checkRuns[id] = run
	return http.StatusCreated, run
}

func (s *Server) updateCheckRun(c *call) (int, any) {
	run := s.checkRun(c)
	if run == nil {
		return notFound()
	}
	updated := maps.Clone(run)
	updated["output"] = maps.Clone(run["output"].(map[string]any))
	if !applyCheckRun(updated, c.body) {
		return c.refuse("a check run completed (status or completed_at) needs a conclusion")
	}
	s.state.checkRuns[run["id"].(int64)] = updated
	return http.StatusOK, updated
}

// refuse answers GitHub's 422 for a rule of the operation's description.
func (c *call) refuse(why string) (int, any) {
	c.invalid = why
	return http.StatusUnprocessableEntity, nil
}

func (s *Server) getCheckRun(c *call) (int, any) {
	run := s.checkRun(c)
	if run == nil {
		return notFound()
	}
	return http.StatusOK, run
}

func (s *Server) checkRun(c *call) map[string]any {
	id, _ := strconv.ParseInt(c.params["check_run_id"], 10, 64)
	run := s.state.checkRuns[id]
	if run == nil || !strings.HasSuffix(run["url"].(string), fmt.Sprintf("/repos/%s/%s/check-runs/%d", c.params["owner"], c.params["repo"], id)) {
		return nil
	}
	return run
}

// applyCheckRun copies what a create or update sets into run, as GitHub
// does: a conclusion completes the run. It says false when the run would
// be completed without a conclusion, which GitHub's description forbids
// ("Required if you provide completed_at or a status of completed").
func applyCheckRun(run, in map[string]any) bool {
	for _, k := range []string{"name", "details_url", "external_id", "status", "started_at", "conclusion", "completed_at"} {
		if v, ok := in[k]; ok {
			run[k] = v
		}
	}
	if o, ok := in["output"].(map[string]any); ok {
		out := run["output"].(map[string]any)
		for _, k := range []string{"title", "summary", "text"} {
			if v, ok := o[k]; ok {
				out[k] = v
			}
		}
		if a, ok := o["annotations"].([]any); ok {
			out["annotations_count"] = len(a)
		}
	}
	if run["conclusion"] != nil {
		run["status"] = "completed"
	} else if run["status"] == "completed" || run["completed_at"] != nil {
		return false
	}
	if run["status"] == "completed" && run["completed_at"] == nil {
		run["completed_at"] = stamp(time.Now())
	}
	return true
}

func (s *Server) listComments(c *call) (int, any) {
	owner, repo := c.params["owner"], c.params["repo"]
	issue, _ := strconv.Atoi(c.params["issue_number"])
	all := s.state.commentsOn(owner, repo, issue)
	if since, err := time.Parse(time.RFC3339, c.query.Get("since")); err == nil {
		all = slices.DeleteFunc(all, func(cm *comment) bool { return cm.updated.Before(since) })
	}
	page, perPage := pageOf(c.query)
	from, to := min((page-1)*perPage, len(all)), min(page*perPage, len(all))
	out := make([]any, 0, to-from)
	for _, cm := range all[from:to] {
		out = append(out, s.commentJSON(cm))
	}
	c.setLinks(apiURL("repos", owner, repo, "issues", issue, "comments"), c.query, page, perPage, len(all))
	return http.StatusOK, out
}

func (s *Server) createComment(c *call) (int, any) {
	issue, _ := strconv.Atoi(c.params["issue_number"])
	cm := s.state.addComment(c.params["owner"], c.params["repo"], issue, BotLogin, c.body["body"].(string), "NONE")
	out := s.commentJSON(cm)
	c.setLocation(out["url"])
	return http.StatusCreated, out
}

// createCommitComment comments on a commit: GitHub's example commit
// comment carrying the body, kept among the commit's comments.
func (s *Server) createCommitComment(c *call) (int, any) {
	owner, repo, sha := c.params["owner"], c.params["repo"], c.params["commit_sha"]
	body, _ := c.body["body"].(string)
	s.state.lastID++
	id := s.state.lastID
	now := time.Now().UTC()
	s.state.commitComments = append(s.state.commitComments, CommitComment{ID: id, Owner: owner, Repo: repo, SHA: sha,
		Body: body, Login: BotLogin})
	out := s.spec.mustExample("commit-comment")
	out["id"] = id
	out["node_id"] = nodeID("CommitComment", id)
	out["url"] = apiURL("repos", owner, repo, "comments", id)
	out["html_url"] = htmlURL(owner, repo, "commit", sha) + fmt.Sprintf("#commitcomment-%d", id)
	out["commit_id"] = sha
	out["body"] = body
	out["path"], out["position"], out["line"] = nil, nil, nil
	out["user"] = s.user(BotLogin)
	out["created_at"], out["updated_at"] = stamp(now), stamp(now)
	out["author_association"] = "NONE"
	c.setLocation(out["url"])
	return http.StatusCreated, out
}

func (s *Server) getComment(c *call) (int, any) {
	cm := s.comment(c)
	if cm == nil {
		return notFound()
	}
	return http.StatusOK, s.commentJSON(cm)
}

func (s *Server) updateComment(c *call) (int, any) {
	cm := s.comment(c)
	if cm == nil {
		return notFound()
	}
	cm.body = c.body["body"].(string)
	cm.updated = time.Now().UTC()
	return http.StatusOK, s.commentJSON(cm)
}

func (s *Server) deleteComment(c *call) (int, any) {
	cm := s.comment(c)
	if cm == nil {
		return notFound()
	}
	s.state.comments = slices.DeleteFunc(s.state.comments, func(x *comment) bool { return x == cm })
	return http.StatusNoContent, nil
}

func (s *Server) comment(c *call) *comment {
	id, _ := strconv.ParseInt(c.params["comment_id"], 10, 64)
	return s.state.findComment(c.params["owner"], c.params["repo"], id)
}

// commentJSON is GitHub's example issue comment carrying cm.
func (s *Server) commentJSON(cm *comment) map[string]any {
	out := s.spec.mustExample("issue-comment")
	out["id"] = cm.id
	out["node_id"] = nodeID("IssueComment", cm.id)
	out["url"] = apiURL("repos", cm.owner, cm.repo, "issues", "comments", cm.id)
	out["html_url"] = htmlURL(cm.owner, cm.repo, "issues", cm.issue) + fmt.Sprintf("#issuecomment-%d", cm.id)
	out["issue_url"] = apiURL("repos", cm.owner, cm.repo, "issues", cm.issue)
	out["body"] = cm.body
	out["user"] = s.user(cm.login)
	out["created_at"], out["updated_at"] = stamp(cm.created), stamp(cm.updated)
	out["author_association"] = cm.authorAssociation
	counts := map[string]any{"url": apiURL("repos", cm.owner, cm.repo, "issues", "comments", cm.id, "reactions"),
		"total_count": len(s.state.reactions[cm.id])}
	for _, content := range []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"} {
		n := 0
		for _, r := range s.state.reactions[cm.id] {
			if r.content == content {
				n++
			}
		}
		counts[content] = n
	}
	out["reactions"] = counts
	return out
}

// createReaction reacts to any comment id: the comment may be one that a
// webhook delivered and the server never saw. Reacting twice with the same
// content answers the existing reaction with 200, as GitHub does.
func (s *Server) createReaction(c *call) (int, any) {
	id, _ := strconv.ParseInt(c.params["comment_id"], 10, 64)
	content := c.body["content"].(string)
	for _, r := range s.state.reactions[id] {
		if r.login == BotLogin && r.content == content {
			return http.StatusOK, s.reactionJSON(r)
		}
	}
	r := reaction{id: s.state.newID(), login: BotLogin, content: content, created: time.Now().UTC()}
	s.state.reactions[id] = append(s.state.reactions[id], r)
	return http.StatusCreated, s.reactionJSON(r)
}

func (s *Server) reactionJSON(r reaction) map[string]any {
	out := s.spec.mustExample("reaction")
	out["id"] = r.id
	out["node_id"] = nodeID("Reaction", r.id)
	out["user"] = s.user(r.login)
	out["content"] = r.content
	out["created_at"] = stamp(r.created)
	return out
}

func (s *Server) getApp(*call) (int, any) {
	return http.StatusOK, s.app()
}

// app is GitHub's example integration renamed to the app the server plays.
func (s *Server) app() map[string]any {
	out := s.spec.mustExample("integration")
	out["id"] = AppID
	out["slug"] = AppSlug
	out["name"] = "Pitwall"
	out["node_id"] = nodeID("Integration", AppID)
	out["html_url"] = "https://github.com/apps/" + AppSlug
	return out
}

// createInstallationToken hands out a fresh token for one hour, with the
// permissions asked for when some are.
func (s *Server) createInstallationToken(c *call) (int, any) {
	id := s.state.newID()
	out := s.spec.mustExample("installation-token")
	out["token"] = fmt.Sprintf("ghs_%036d", id)
	out["expires_at"] = stamp(time.Now().Add(time.Hour))
	if p, ok := c.body["permissions"]; ok {
		out["permissions"] = p
	}
	out["repository_selection"] = "all"
	delete(out, "repositories")
	return http.StatusCreated, out
}

// getPermission answers a user's role and the permission it gives, as
// GitHub maps them: maintain gives write, triage gives read.
func (s *Server) getPermission(c *call) (int, any) {
	login := c.params["username"]
	role, ok := s.state.roles[login]
	if !ok {
		role = "read"
	}
	permission := map[string]string{"admin": "admin", "maintain": "write", "write": "write",
		"triage": "read", "read": "read", "none": "none"}[role]
	if permission == "" {
		permission = role
	}
	out := s.spec.mustExample("repository-collaborator-permission-response-if-user-has-admin-permissions")
	out["permission"] = permission
	out["role_name"] = role
	// A collaborator is a user with the role, and what it allows.
	u := s.user(login)
	u["role_name"] = role
	rank := slices.Index([]string{"none", "read", "triage", "write", "maintain", "admin"}, role)
	u["permissions"] = map[string]bool{"pull": rank >= 1, "triage": rank >= 2, "push": rank >= 3,
		"maintain": rank >= 4, "admin": rank >= 5}
	out["user"] = u
	return http.StatusOK, out
}

// getPullRequest is GitHub's example pull request carrying what the test
// said of it: number, head and base branches, head commit and repository.
func (s *Server) getPullRequest(c *call) (int, any) {
	owner, repo := c.params["owner"], c.params["repo"]
	number, _ := strconv.Atoi(c.params["pull_number"])
	pr, ok := s.state.pulls[pullKey(owner, repo, number)]
	if !ok {
		return notFound()
	}
	out := s.spec.mustExample("pull-request")
	// The example's own URLs, and its _links, name octocat/Hello-World#1347
	// and its head commit.
	here := strings.NewReplacer("octocat/Hello-World", owner+"/"+repo, "1347", strconv.Itoa(number),
		out["head"].(map[string]any)["sha"].(string), pr.HeadSHA)
	for k, v := range out {
		if str, ok := v.(string); ok && strings.HasSuffix(k, "url") {
			out[k] = here.Replace(str)
		}
	}
	for _, l := range out["_links"].(map[string]any) {
		l.(map[string]any)["href"] = here.Replace(l.(map[string]any)["href"].(string))
	}
	out["number"] = number
	out["state"] = "open"
	// The example's requested team lacks the type its schema requires.
	out["requested_teams"] = []any{}
	headOwner, _, _ := strings.Cut(pr.HeadRepo, "/")
	head, base := out["head"].(map[string]any), out["base"].(map[string]any)
	head["sha"], head["ref"], head["label"] = pr.HeadSHA, pr.HeadRef, headOwner+":"+pr.HeadRef
	head["repo"] = s.repository(head["repo"].(map[string]any), pr.HeadRepo, !strings.EqualFold(pr.HeadRepo, owner+"/"+repo))
	head["user"] = s.user(headOwner)
	base["ref"], base["label"] = pr.BaseRef, owner+":"+pr.BaseRef
	base["repo"] = s.repository(base["repo"].(map[string]any), owner+"/"+repo, false)
	base["user"] = s.user(owner)
	return http.StatusOK, out
}

// repository renames GitHub's example repository r to fullName.
func (s *Server) repository(r map[string]any, fullName string, fork bool) map[string]any {
	owner, name, _ := strings.Cut(fullName, "/")
	old, _ := r["full_name"].(string)
	for k, v := range r {
		if str, ok := v.(string); ok && old != "" {
			r[k] = strings.ReplaceAll(str, old, fullName)
		}
	}
	r["name"], r["full_name"], r["fork"] = name, fullName, fork
	r["owner"] = s.user(owner)
	return r
}

// user is GitHub's example user renamed to login, a Bot when the login is
// an app's.
func (s *Server) user(login string) map[string]any {
	u := s.spec.mustExample("simple-user")
	id, ok := s.state.users[login]
	if !ok {
		id = s.state.newID()
		s.state.users[login] = id
	}
	u["id"] = id
	u["login"] = login
	u["node_id"] = nodeID("User", id)
	for k, v := range u {
		if str, ok := v.(string); ok && strings.Contains(str, "/octocat") {
			u[k] = strings.Replace(str, "/octocat", "/"+url.PathEscape(login), 1)
		}
	}
	if strings.HasSuffix(login, "[bot]") {
		u["type"] = "Bot"
		u["html_url"] = "https://github.com/apps/" + strings.TrimSuffix(login, "[bot]")
	}
	return u
}

// setLocation answers with GitHub's Location header, the new resource's URL.
func (c *call) setLocation(u any) {
	c.header = http.Header{"Location": {u.(string)}}
}

// setLinks answers with GitHub's Link header for page of a list of n items.
func (c *call) setLinks(base string, q url.Values, page, perPage, n int) {
	last := max((n+perPage-1)/perPage, 1)
	link := func(p int, rel string) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("per_page", strconv.Itoa(perPage))
		v.Set("page", strconv.Itoa(p))
		return fmt.Sprintf("<%s?%s>; rel=%q", base, v.Encode(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"), link(1, "first"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if len(links) > 0 {
		c.header = http.Header{"Link": {strings.Join(links, ", ")}}
	}
}

// pageOf reads GitHub's page and per_page: 30 a page by default, 100 at most.
func pageOf(q url.Values) (page, perPage int) {
	page, perPage = 1, 30
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 0 {
		page = p
	}
	if p, err := strconv.Atoi(q.Get("per_page")); err == nil && p > 0 {
		perPage = min(p, 100)
	}
	return page, perPage
}

func apiURL(parts ...any) string {
	var b strings.Builder
	b.WriteString("https://api.github.com")
	for _, p := range parts {
		fmt.Fprintf(&b, "/%v", p)
	}
	return b.String()
}

func htmlURL(owner, repo string, parts ...any) string {
	return strings.Replace(apiURL(append([]any{owner, repo}, parts...)...), "api.github.com", "github.com", 1)
}

// nodeID is shaped like GitHub's legacy global ids: base64 of a length, the
// type and the database id.
func nodeID(typ string, id int64) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "0%d:%s%d", len(typ), typ, id))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func stringOr(v any, def string) string {
	if s, ok := v.(string); ok {
		return s
	}
	return def
}
