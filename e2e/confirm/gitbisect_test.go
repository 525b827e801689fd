package confirm

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/githubtest"
	"github.com/pitwall/pitwall/internal/notify"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// gitRepo makes a git repository of n commits c01..cNN in dir whose file
// "level" holds the benchmark's level: 100, and 103 from commit bad on.
// It returns the commits' hashes, oldest first.
func gitRepo(t *testing.T, dir string, n, bad int) []string {
	t.Helper()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=Pitwall", "GIT_AUTHOR_EMAIL=e2e@example.test", "GIT_COMMITTER_NAME=Pitwall", "GIT_COMMITTER_EMAIL=e2e@example.test")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	git("init", "--quiet", "--initial-branch=main")
	var shas []string
	for i := 1; i <= n; i++ {
		level := "100"
		if i >= bad {
			level = "103"
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "level"), []byte(level+"\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "history"), []byte(fmt.Sprintf("commit %d\n", i)), 0o644))
		git("add", "level", "history")
		git("commit", "--quiet", "-m", commit(i))
		shas = append(shas, git("rev-parse", "HEAD"))
	}
	return shas
}

// gitFramework checks each commit out of repo (git show COMMIT:level, as
// a script that builds the commit would) and reports Latency at that level
// times 1 + noise% of a normal draw seeded by the test's ID.
func gitFramework(name, repo string) string {
	return fmt.Sprintf(`
name: %s
execution:
  timeout: 2m
  script: |
    #!/bin/sh
    level=$(git -c safe.directory='*' -C %s show "$PITWALL_COMMIT:level") || exit 3
    awk -v base="$level" -v noise="$PITWALL_PARAM_NOISE" -v id="$PITWALL_TEST_ID" 'BEGIN {
      srand((id * 7919 + 17) %% 2147483647); rand(); rand()
      u1 = rand(); u2 = rand(); if (u1 < 1e-12) u1 = 1e-12
      z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2)
      printf "Latency, %%.5fms\n", base * (1 + noise / 100 * z) }' > results.csv
parameters:
  - {name: noise, default: "1"}
kpis:
  - {name: Latency, unit: ms, better: lower, threshold: 1%%}
baseline_branch: release
confirm: {checkout: true, repo: %s, budget: 20}
`, name, repo, repo)
}

// hookBodies receives a generic webhook's calls, checking the signature.
type hookBodies struct {
	mu     sync.Mutex
	secret string
	calls  []wire.WebhookBody
	bad    []string
}

func (h *hookBodies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if got, want := r.Header.Get(notify.SignatureHeader), notify.Sign([]byte(h.secret), b); got != want {
		h.bad = append(h.bad, fmt.Sprintf("signature %q, want %q", got, want))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var body wire.WebhookBody
	if err := json.Unmarshal(b, &body); err != nil {
		h.bad = append(h.bad, err.Error())
		return
	}
	h.calls = append(h.calls, body)
}

func (h *hookBodies) event(test int64, kind string) *wire.WebhookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.calls {
		for _, e := range c.Events {
			if c.Test.ID == test && e.Event == kind {
				return &e
			}
		}
	}
	return nil
}

// A bisection of a framework that checks its commits out of a git
// repository lists every commit between its ends from git, not only the
// tested ones: in a repository of 32 commits whose commit 19 makes the
// benchmark 3% slower under 1% noise, with only c01 (the baselines) and
// c32 (the regressed test, from pull request 7 of acme/bisect-git) ever
// tested, it finds c19. Its culprit is then posted to the pull request
// (the fake GitHub checks the request against GitHub's OpenAPI
// description) and sent as a notification of its own ("bisected") by
// e-mail through a real SMTP server and to a signed webhook.
func TestBisectListsCommitsFromGitAndPostsTheCulprit(t *testing.T) {
	const name = "bisect-git"
	// The scripts run as a user of their own: the repository is readable
	// by all, and git is told that another user's repository is safe.
	dir, err := os.MkdirTemp("", "pitwall-bisect-git-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	shas := gitRepo(t, dir, 32, 19)
	st.Apply(t, gitFramework(name, dir))

	// GitHub: team default's connection points at the fake.
	gh := githubtest.NewServer(t)
	const ghSecret = "the webhook secret of team default, 0123456789"
	conn, _ := json.Marshal(wire.GitHubConnectionRequest{APIURL: gh.URL + "/", Token: "ghp_pitwall_e2e_token", WebhookSecret: ghSecret})
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodPut, "/api/v1/teams/default/github", "application/json", conn, nil))
	// Notifications: an e-mail channel and a signed webhook, both for this
	// framework, naming no events (so the default ones, bisected among them).
	hooks := &hookBodies{secret: "bisect-git webhook secret"}
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	for _, c := range []wire.NotifyChannel{
		{Name: "bisect-mail", Kind: "email", Target: "perf-team@example.test", Frameworks: []string{name}},
		{Name: "bisect-hook", Kind: "webhook", Target: recv.URL + "/hook", Secret: hooks.secret, Frameworks: []string{name}},
	} {
		b, _ := json.Marshal(c)
		require.Equal(t, http.StatusOK, st.Call(t, http.MethodPut, "/api/v1/teams/default/channels/"+c.Name, "application/json", b, nil))
		defer st.Call(t, http.MethodDelete, "/api/v1/teams/default/channels/"+c.Name, "", nil, nil)
	}

	var base int64
	for range 6 {
		b := st.Run(t, wire.RunRequest{Framework: name, Commit: shas[0], Branch: "main", Baseline: true})
		require.Equal(t, wire.StateFinished, b.State, b.Reason)
		base = b.ID
	}
	pr := 7
	bad := st.Run(t, wire.RunRequest{Framework: name, Commit: shas[31], Branch: "main", PR: &pr,
		Tags: map[string]string{"github.repository": "acme/bisect-git"}})
	require.Equal(t, wire.StateFinished, bad.State, bad.Reason)

	began := time.Now()
	req, _ := json.Marshal(wire.BisectRequest{KPI: "Latency", BaseTest: base, Budget: 20})
	var bis wire.Confirmation
	require.Equal(t, http.StatusCreated, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/bisect", bad.ID),
		"application/json", req, &bis))
	require.Equal(t, wire.CommitsGit, bis.CommitsSource, "the framework checks its commits out of git")
	require.Equal(t, []string{shas[0], shas[31]}, bis.Commits, "only the ends were ever tested")
	got := ended(t, bis.ID, 6*time.Minute)
	took := time.Since(began)
	r := got.Bisect
	require.NotNil(t, r, got.Reason)
	t.Logf("bisection %d: %s in %s, %d runs: %s", got.ID, got.State, took.Round(time.Second), len(got.Runs), got.Reason)
	for _, s := range r.Steps {
		t.Logf("  step %.10s: %s after %d runs; vs good %s %+.2f%%, vs bad %s %+.2f%%", s.Commit, s.Outcome, s.Runs,
			s.VsGood.Decision, s.VsGood.ChangePct, s.VsBad.Decision, s.VsBad.ChangePct)
	}
	require.Equal(t, wire.CommitsGit, got.CommitsSource)
	require.Equal(t, shas, got.Commits, "every commit between the ends, first-parent, from git")
	require.Equal(t, wire.BisectFound, got.State, got.Reason)
	require.Equal(t, shas[18], r.FirstBad, "c19 is the culprit")
	require.Equal(t, shas[17], r.Good)
	// The culprit was never tested by itself before the bisection.
	for _, run := range got.Runs {
		require.Contains(t, []string{wire.ArmBaseline, wire.ArmMiddle, wire.ArmCandidate}, run.Arm)
	}
	require.True(t, slices.ContainsFunc(got.Runs, func(run wire.ConfirmationRun) bool { return run.Commit == shas[18] }))

	st.RecordHistory(t, contract.BisectWorkflowID(got.ID), "../../workflows/testdata/bisect-take-git.json")

	// The page says where the commits came from.
	code, page := st.Page(t, fmt.Sprintf("/confirmations/%d", got.ID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, "32 commits listed from git")
	require.Contains(t, page, "First bad commit: <strong>"+shas[18]+"</strong>")

	out := st.Starter(t, "bisect", "show", fmt.Sprint(got.ID))
	require.Equal(t, 0, out.Code, out.Stderr)
	require.Contains(t, out.Stdout, "32 commits from git")
	require.Contains(t, out.Stdout, "culprit "+shas[18])

	// The pull request heard of the culprit, with the effect, the runs and
	// a link to the bisection.
	var comment string
	require.Eventually(t, func() bool {
		for _, c := range gh.Comments("acme", "bisect-git", pr) {
			if strings.Contains(c.Body, "Pitwall bisected") {
				comment = c.Body
				return true
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond, "a comment on pull request #%d", pr)
	t.Logf("pull request comment:\n%s", comment)
	require.Contains(t, comment, "the first bad commit is `"+shas[18]+"`")
	require.Regexp(t, `\*\*Latency \+[0-9.]+%\*\* \([0-9.]+% confidence interval`, comment)
	require.Contains(t, comment, fmt.Sprintf("%d runs", r.Runs))
	require.Contains(t, comment, fmt.Sprintf("%s/confirmations/%d", st.URL, got.ID))
	for _, bad := range gh.Invalid() {
		t.Errorf("GitHub's description refuses %s %s: %s", bad.Method, bad.Path, bad.Invalid)
	}

	// The notifications: one e-mail and one webhook call, event bisected.
	var mail *stack.Received
	subject := func(m stack.Received) string {
		s, err := new(mime.WordDecoder).DecodeHeader(m.Msg.Header.Get("Subject"))
		require.NoError(t, err)
		return s
	}
	deadline := time.Now().Add(time.Minute)
	for mail == nil {
		for _, m := range inbox.For(fmt.Sprint(bad.ID)) {
			if strings.Contains(subject(m), "bisected test #") {
				mail = &m
			}
		}
		if mail == nil && time.Now().After(deadline) {
			for _, m := range inbox.For(fmt.Sprint(bad.ID)) {
				t.Logf("mail %q to %v", subject(m), m.Rcpt)
			}
			t.Fatalf("no e-mail about the culprit of test %d", bad.ID)
		}
		time.Sleep(200 * time.Millisecond)
	}
	text := mail.Body
	if strings.EqualFold(mail.Msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(mail.Body)))
		require.NoError(t, err)
		text = string(b)
	}
	t.Logf("e-mail %q to %v:\n%s", subject(*mail), mail.Rcpt, text)
	require.Contains(t, subject(*mail), fmt.Sprintf("bisected test #%d: culprit %s", bad.ID, shas[18][:10]))
	require.Contains(t, text, "bisected: culprit "+shas[18])
	require.Equal(t, []string{"perf-team@example.test"}, mail.Rcpt)
	require.Contains(t, text, fmt.Sprintf("/confirmations/%d", got.ID))
	var ev *wire.WebhookEvent
	require.Eventually(t, func() bool { ev = hooks.event(bad.ID, wire.EventBisected); return ev != nil },
		time.Minute, 200*time.Millisecond, "a webhook call about the culprit (bad: %v)", hooks.bad)
	require.Equal(t, shas[18], ev.Culprit)
	require.Equal(t, got.ID, ev.Bisection)
	require.Contains(t, ev.Summary, "bisected: culprit "+shas[18])
	require.Empty(t, hooks.bad)
}

// When git cannot list the commits (the framework's repository is not
// there), the bisection goes through the history's tested commits and
// says so.
func TestBisectFallsBackToTheHistory(t *testing.T) {
	const name = "bisect-git-gone"
	fw := strings.Replace(repoFramework(name, 3, false, false), "budget: 20}", "budget: 20, repo: /nonexistent/pitwall-repo.git}", 1)
	require.Contains(t, fw, "repo: /nonexistent")
	st.Apply(t, fw)
	var base int64
	for range 4 {
		b := st.Run(t, wire.RunRequest{Framework: name, Commit: commit(1), Branch: "main", Baseline: true})
		require.Equal(t, wire.StateFinished, b.State, b.Reason)
		base = b.ID
	}
	for i := 2; i <= 3; i++ {
		x := st.Run(t, wire.RunRequest{Framework: name, Commit: commit(i), Branch: "main"})
		require.Equal(t, wire.StateFinished, x.State, x.Reason)
	}
	bad := st.Run(t, wire.RunRequest{Framework: name, Commit: commit(4), Branch: "main"})
	require.Equal(t, wire.StateFinished, bad.State, bad.Reason)
	req, _ := json.Marshal(wire.BisectRequest{KPI: "Latency", BaseTest: base, Budget: 20})
	var bis wire.Confirmation
	require.Equal(t, http.StatusCreated, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/bisect", bad.ID),
		"application/json", req, &bis))
	require.Equal(t, wire.CommitsGit, bis.CommitsSource, "git is asked first")
	got := ended(t, bis.ID, 3*time.Minute)
	t.Logf("bisection %d: %s (%s), %d runs: %s", got.ID, got.State, got.CommitsSource, len(got.Runs), got.Reason)
	require.Equal(t, wire.CommitsHistory, got.CommitsSource)
	require.Equal(t, []string{commit(1), commit(2), commit(3), commit(4)}, got.Commits)
	require.Contains(t, got.Reason, "git could not list the commits")
	require.Equal(t, wire.BisectFound, got.State, got.Reason)
	require.Equal(t, commit(3), got.Bisect.FirstBad)
	code, page := st.Page(t, fmt.Sprintf("/confirmations/%d", got.ID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, "4 commits of tests in the history (only those tested)")
}
