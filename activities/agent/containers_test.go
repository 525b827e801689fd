package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRepoName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/srv/git/http-service.git":              "http-service",
		"/srv/git/http-service.git/":             "http-service",
		"/srv/git/app/.git":                      "app",
		"https://github.com/acme/Shop.git":       "Shop",
		"ssh://git@example.com:22/team/api":      "api",
		"file:///var/lib/pitwall/examples/x.git": "x",
	} {
		require.Equal(t, want, repoName(in), in)
	}
}

// checkout clones at a ref and names its commit; a ref that does not exist
// is an error naming it, and a build context may not leave the clone.
func TestCheckout(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git is missing on this CI machine")
		}
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	require.NoError(t, os.WriteFile(filepath.Join(repo, "Dockerfile"), []byte("FROM scratch\n"), 0o644))
	require.NoError(t, os.Symlink("/etc", filepath.Join(repo, "out")))
	run("add", "-A")
	run("-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "one")
	head := run("rev-parse", "HEAD")

	dir := filepath.Join(t.TempDir(), "src")
	got, err := checkout(context.Background(), repo, "main", dir)
	require.NoError(t, err)
	require.Equal(t, head, got)
	require.FileExists(t, filepath.Join(dir, "Dockerfile"))
	require.NoError(t, inside(dir, filepath.Join(dir, ".")))
	require.ErrorContains(t, inside(dir, filepath.Join(dir, "out")), "leaves the repository")

	_, err = checkout(context.Background(), repo, "no-such-branch", filepath.Join(t.TempDir(), "src"))
	require.ErrorContains(t, err, `ref "no-such-branch"`)
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	require.Equal(t, " (it wrote nothing)", lastLines(" \n"))
	require.Equal(t, "; its last log lines:\nnot ready yet", lastLines("not ready yet\n"))
	long := lastLines(strings.Repeat("x", 5000))
	require.Less(t, len(long), 2100)
	require.Contains(t, long, "…")
}
