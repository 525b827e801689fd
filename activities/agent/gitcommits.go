package agent

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/workflows/contract"
)

// GitCommits lists the commits of a repository after in.Good up to in.Bad
// on the first-parent line, oldest first (git rev-list --first-parent
// --reverse good..bad), for a bisection: the repository is cloned bare
// into the agent's work directory and removed after. git runs with argv
// only (never a shell line), with no prompt, hook or remote helper. Good
// must be an ancestor of Bad; an answer longer than in.Max is refused.
func (a *Activities) GitCommits(ctx context.Context, in contract.GitCommitsInput) (*contract.GitCommitsResult, error) {
	refuse := func(format string, args ...any) error {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), "GitCommits", nil)
	}
	for _, ref := range []string{in.Good, in.Bad} {
		if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\r\n\x00:") || strings.Contains(ref, "..") {
			return nil, refuse("%q is not a commit", ref)
		}
	}
	if in.Repo == "" || strings.HasPrefix(in.Repo, "-") || strings.Contains(in.Repo, "::") {
		return nil, refuse("%q is not a repository git may read", in.Repo)
	}
	dir, err := os.MkdirTemp(a.WorkDir, "git-commits-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	git := gitRunner(ctx)
	if _, err := git("clone", "--quiet", "--bare", "--", in.Repo, dir); err != nil {
		return nil, refuse("%v", err)
	}
	resolve := func(ref string) (string, error) {
		c, err := git("-C", dir, "rev-parse", "--verify", "--end-of-options", ref+"^{commit}")
		if err != nil {
			return "", refuse("commit %s is not in %s: %v", ref, in.Repo, err)
		}
		return c, nil
	}
	good, err := resolve(in.Good)
	if err != nil {
		return nil, err
	}
	bad, err := resolve(in.Bad)
	if err != nil {
		return nil, err
	}
	if _, err := git("-C", dir, "merge-base", "--is-ancestor", good, bad); err != nil {
		return nil, refuse("%s is not an ancestor of %s in %s", in.Good, in.Bad, in.Repo)
	}
	out, err := git("-C", dir, "rev-list", "--first-parent", "--reverse", good+".."+bad)
	if err != nil {
		return nil, refuse("%v", err)
	}
	res := &contract.GitCommitsResult{Commits: strings.Fields(out)}
	if in.Max > 0 && len(res.Commits) > in.Max {
		return nil, refuse("%d commits lie between %s and %s; the limit is %d", len(res.Commits), in.Good, in.Bad, in.Max)
	}
	return res, nil
}
