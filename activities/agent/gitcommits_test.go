package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/workflows/contract"
)

// gitIn runs git in dir and returns its output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// GitCommits lists the commits after good up to bad on the first-parent
// line, oldest first: a merged branch's own commits are left out, its
// merge commit kept.
func TestGitCommitsFirstParent(t *testing.T) {
	b := setup(t)
	repo := t.TempDir()
	gitIn(t, repo, "init", "--quiet", "--initial-branch=main")
	commit := func(msg string) string {
		// Each commit adds a file of its own: the merge has no conflict.
		require.NoError(t, os.WriteFile(filepath.Join(repo, msg), []byte(msg), 0o644))
		gitIn(t, repo, "add", msg)
		gitIn(t, repo, "commit", "--quiet", "-m", msg)
		return gitIn(t, repo, "rev-parse", "HEAD")
	}
	good := commit("m1")
	m2 := commit("m2")
	gitIn(t, repo, "checkout", "--quiet", "-b", "side")
	commit("s1")
	commit("s2")
	gitIn(t, repo, "checkout", "--quiet", "main")
	m3 := commit("m3")
	gitIn(t, repo, "merge", "--quiet", "--no-ff", "-m", "merge side", "side")
	merge := gitIn(t, repo, "rev-parse", "HEAD")
	bad := commit("m4")

	got, err := b.env.ExecuteActivity(contract.GitCommits.Name, contract.GitCommitsInput{Repo: repo, Good: good[:10], Bad: bad})
	require.NoError(t, err)
	var res contract.GitCommitsResult
	require.NoError(t, got.Get(&res))
	require.Equal(t, []string{m2, m3, merge, bad}, res.Commits)

	// Too many, not an ancestor, not a commit, an option: refused.
	_, err = b.env.ExecuteActivity(contract.GitCommits.Name, contract.GitCommitsInput{Repo: repo, Good: good, Bad: bad, Max: 3})
	require.ErrorContains(t, err, "4 commits lie between")
	_, err = b.env.ExecuteActivity(contract.GitCommits.Name, contract.GitCommitsInput{Repo: repo, Good: bad, Bad: good})
	require.ErrorContains(t, err, "is not an ancestor")
	_, err = b.env.ExecuteActivity(contract.GitCommits.Name, contract.GitCommitsInput{Repo: repo, Good: "nope", Bad: bad})
	require.ErrorContains(t, err, "commit nope is not in")
	_, err = b.env.ExecuteActivity(contract.GitCommits.Name, contract.GitCommitsInput{Repo: repo, Good: "--upload-pack=touch /tmp/x", Bad: bad})
	require.ErrorContains(t, err, "is not a commit")
	_, err = b.env.ExecuteActivity(contract.GitCommits.Name, contract.GitCommitsInput{Repo: "ext::sh -c touch% /tmp/x", Good: good, Bad: bad})
	require.ErrorContains(t, err, "is not a repository")
	entries, err := os.ReadDir(b.acts.WorkDir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasPrefix(e.Name(), "git-commits-"), "the clone is removed: %s", e.Name())
	}
}
