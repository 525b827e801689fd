package framework

import (
	"fmt"
	"path"
	"regexp"
	"slices"
)

// GitHub events a framework can run on.
const (
	GitHubPush        = "push"
	GitHubPullRequest = "pull_request"
)

// GitHub maps a GitHub repository to the framework: a push to one of
// Branches runs it on the pushed commit (on the framework's baseline
// branch, that is a baseline test), and a pull request whose base is one
// of Branches runs it on the head commit, judged against the baseline.
// The team's GitHub connection (credentials, webhook secret) is set apart
// from the framework, by a team admin.
type GitHub struct {
	// Repository is owner/name.
	Repository string `yaml:"repository" json:"repository"`
	// On lists the events that run the framework (default both).
	On []string `yaml:"on,omitempty" json:"on,omitempty"`
	// Branches are the pushed branches and the pull requests' base
	// branches that run it, as names or path.Match patterns such as
	// release/* (default: the framework's baseline branch).
	Branches []string `yaml:"branches,omitempty" json:"branches,omitempty"`
}

var githubRepoRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)

// Runs says whether event on branch (the pushed branch, or a pull
// request's base) runs the framework.
func (g *GitHub) Runs(event, branch string) bool {
	if g == nil || !slices.Contains(g.On, event) {
		return false
	}
	for _, b := range g.Branches {
		if ok, _ := path.Match(b, branch); ok {
			return true
		}
	}
	return false
}

func (f *Framework) normalizeGitHub() {
	g := f.GitHub
	if g == nil {
		return
	}
	if len(g.On) == 0 {
		g.On = []string{GitHubPush, GitHubPullRequest}
	}
	if len(g.Branches) == 0 {
		g.Branches = []string{f.BaselineBranch}
	}
}

func (f *Framework) validateGitHub() error {
	g := f.GitHub
	if g == nil {
		return nil
	}
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: "github." + field, Msg: fmt.Sprintf(format, args...)}
	}
	if !githubRepoRE.MatchString(g.Repository) {
		return bad("repository", "%q must be owner/name, as on GitHub", g.Repository)
	}
	for i, e := range g.On {
		if e != GitHubPush && e != GitHubPullRequest {
			return bad(fmt.Sprintf("on[%d]", i), "%q: the events are push and pull_request", e)
		}
	}
	if len(g.Branches) > 50 {
		return bad("branches", "%d branches; the limit is 50", len(g.Branches))
	}
	for i, b := range g.Branches {
		if _, err := path.Match(b, ""); err != nil || b == "" || len(b) > 255 {
			return bad(fmt.Sprintf("branches[%d]", i), "%q must be a branch name or a pattern such as release/*", b)
		}
	}
	return nil
}
