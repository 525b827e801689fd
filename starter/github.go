package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/wire"
)

// ciRef is the commit, branch and pull request a CI job is about, as its
// environment tells them, and where the commit came from.
type ciRef struct {
	commit, branch string
	pr             int
	// origin says where the commit came from, e.g. "pull request #12 head".
	origin string
}

// fill puts into req what the flags left out (given holds the flags on
// the command line: they always win) and returns what it took,
// for the one line starter prints about it.
func (r *ciRef) fill(req *wire.RunRequest, given map[string]bool) string {
	var took, kept []string
	for _, name := range []string{"commit", "branch", "pr"} {
		if given[name] {
			kept = append(kept, "--"+name)
		}
	}
	if !given["commit"] && r.commit != "" {
		req.Commit = r.commit
		took = append(took, fmt.Sprintf("commit %s (%s)", r.commit[:7], r.origin))
	}
	if !given["branch"] && r.branch != "" {
		req.Branch = r.branch
		took = append(took, "branch "+r.branch)
	}
	if !given["pr"] && r.pr > 0 {
		pr := r.pr
		req.PR = &pr
		took = append(took, "pr "+strconv.Itoa(pr))
	}
	if len(took) == 0 {
		return ""
	}
	line := strings.Join(took, ", ")
	if len(kept) > 0 {
		line += " (" + strings.Join(kept, ", ") + " from the command line)"
	}
	return line
}

// githubRef reads the commit, branch and pull request of a GitHub Actions
// job (needCommit: unless --commit was given); it is nil outside GitHub
// Actions. On pull request events GITHUB_SHA
// is the merge commit GitHub made for the job (or, for
// pull_request_target, the base branch's head), never the commit pushed,
// so the pull request's head comes from the event payload instead; a
// payload that does not tell it is an error rather than a test of the
// wrong commit.
func githubRef(getenv func(string) string, needCommit bool) (*ciRef, error) {
	if getenv("GITHUB_ACTIONS") != "true" {
		return nil, nil
	}
	event := getenv("GITHUB_EVENT_NAME")
	if strings.HasPrefix(event, "pull_request") {
		return githubPullRequest(getenv, event)
	}
	r := &ciRef{commit: getenv("GITHUB_SHA"), origin: event}
	if r.commit != "" && !isCommitSHA(r.commit) {
		if needCommit {
			return nil, usageErr("GITHUB_SHA %q is not a commit SHA; give --commit", r.commit)
		}
		r.commit = ""
	}
	ref := getenv("GITHUB_REF")
	if ref != "" {
		r.origin += ", " + ref
	}
	// A tag's GITHUB_REF_NAME is the tag, not a branch.
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok || getenv("GITHUB_REF_TYPE") == "branch" {
		r.branch = getenv("GITHUB_REF_NAME")
		if r.branch == "" {
			r.branch = b
		}
	}
	return r, nil
}

// pullRequestEvent is the part of a pull_request* event payload starter
// reads (docs.github.com, "Webhook events and payloads").
type pullRequestEvent struct {
	Number      int `json:"number"`
	PullRequest *struct {
		Number int `json:"number"`
		Head   struct {
			Label string     `json:"label"`
			Ref   string     `json:"ref"`
			SHA   string     `json:"sha"`
			Repo  *eventRepo `json:"repo"`
		} `json:"head"`
		Base struct {
			Repo *eventRepo `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
}

type eventRepo struct {
	FullName string `json:"full_name"`
}

// githubPullRequest reads a pull request event's head commit, branch and
// number from the payload at GITHUB_EVENT_PATH.
func githubPullRequest(getenv func(string) string, event string) (*ciRef, error) {
	path := getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return nil, usageErr("GitHub Actions %s event without GITHUB_EVENT_PATH: the pull request's head commit is unknown "+
			"(GITHUB_SHA is a merge commit); give --commit, --branch and --pr", event)
	}
	bad := func(format string, args ...any) error {
		return usageErr("GitHub Actions event file %s (%s event): %s; give --commit, --branch and --pr to run without it",
			path, event, fmt.Sprintf(format, args...))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, bad("%v", err)
	}
	var ev pullRequestEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, bad("not the JSON payload expected: %v", err)
	}
	pr := ev.PullRequest
	if pr == nil {
		return nil, bad("no pull_request object")
	}
	if !isCommitSHA(pr.Head.SHA) {
		return nil, bad("pull_request.head.sha %q is not a commit SHA", pr.Head.SHA)
	}
	r := &ciRef{commit: pr.Head.SHA, pr: pr.Number}
	if r.pr <= 0 {
		r.pr = ev.Number
	}
	if r.pr <= 0 {
		r.pr = pullFromRef(getenv("GITHUB_REF"))
	}
	if r.pr <= 0 {
		return nil, bad("no pull_request.number, and GITHUB_REF %q is not refs/pull/N/merge", getenv("GITHUB_REF"))
	}
	r.origin = fmt.Sprintf("pull request #%d head", r.pr)
	r.branch = getenv("GITHUB_HEAD_REF")
	if r.branch == "" {
		r.branch = pr.Head.Ref
	}
	// A fork's branch is named by its owner: a fork's "main" must not pass
	// for the baseline branch, whose tests every verdict is judged against.
	if fromFork(pr.Head.Repo, pr.Base.Repo) && pr.Head.Label != "" {
		r.branch = pr.Head.Label
	}
	return r, nil
}

// fromFork reports whether a pull request's head lives in another
// repository than its base (or in one since deleted).
func fromFork(head, base *eventRepo) bool {
	return head == nil || base == nil || head.FullName != base.FullName
}

// pullFromRef reads N from refs/pull/N/merge (or refs/pull/N/head); 0 when
// ref is not one.
func pullFromRef(ref string) int {
	rest, ok := strings.CutPrefix(ref, "refs/pull/")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "/")
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// isCommitSHA reports whether s is a full git object name (SHA-1 or
// SHA-256), as GitHub gives them.
func isCommitSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// fromCI fills the commit, branch and pull request that run's flags left
// out from GitHub Actions' environment, and says on stderr what it took.
func (c *cli) fromCI(fs *flag.FlagSet, req *wire.RunRequest) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["commit"] && given["branch"] && given["pr"] {
		return nil
	}
	r, err := githubRef(c.getenv, !given["commit"])
	if err != nil || r == nil {
		return err
	}
	if took := r.fill(req, given); took != "" {
		fmt.Fprintln(c.stderr, "starter: from GitHub Actions: "+took)
	}
	return nil
}
