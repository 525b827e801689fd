package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// The pull request in testdata/github/pull_request.synchronize.json: its
// head, and the merge commit GitHub would test in its place.
const (
	prHead  = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	prMerge = "2d1c0e5f4b3a29181716151413121110f0e0d0c0"
	prBase  = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
)

// eventFile writes the testdata pull_request payload, changed by edit, to
// a file of the test's own.
func eventFile(t *testing.T, edit func(ev map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile("testdata/github/pull_request.synchronize.json")
	require.NoError(t, err)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(data, &ev))
	if edit != nil {
		edit(ev)
	}
	data, err = json.Marshal(ev)
	require.NoError(t, err)
	return writeFile(t, data)
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// obj walks down a decoded JSON object.
func obj(ev map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		ev = ev[k].(map[string]any)
	}
	return ev
}

// pullRequestEnv is what a runner sets for a pull_request job on the
// testdata payload.
func pullRequestEnv(path string) map[string]string {
	return map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": path,
		"GITHUB_SHA": prMerge, "GITHUB_REF": "refs/pull/2/merge", "GITHUB_REF_NAME": "2/merge",
		"GITHUB_HEAD_REF": "changes", "GITHUB_BASE_REF": "master",
	}
}

// starter run takes the commit, branch and pull request from GitHub
// Actions when its flags leave them out, says so in one line on stderr,
// and on pull requests tests the head commit, not GitHub's merge commit.
func TestRunTakesCommitBranchPRFromGitHubActions(t *testing.T) {
	t.Parallel()
	prFile := eventFile(t, nil)
	ptr := func(n int) *int { return &n }
	cases := []struct {
		name   string
		args   []string
		env    map[string]string
		commit string
		branch string
		pr     *int
		line   string // the line on stderr before the test's, "" for none
	}{{
		name: "not in GitHub Actions",
		env:  map[string]string{"GITHUB_SHA": prMerge, "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main"},
	}, {
		name: "GITHUB_ACTIONS not true",
		env:  map[string]string{"GITHUB_ACTIONS": "false", "GITHUB_SHA": prMerge, "GITHUB_REF_NAME": "main"},
	}, {
		// The values of @octokit/webhooks-examples' push example.
		name: "push to a branch",
		env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push",
			"GITHUB_SHA": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "GITHUB_REF": "refs/heads/master",
			"GITHUB_REF_NAME": "master", "GITHUB_REF_TYPE": "branch", "GITHUB_EVENT_PATH": "/nonexistent/event.json"},
		commit: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", branch: "master",
		line: "commit 6113728 (push, refs/heads/master), branch master",
	}, {
		name: "push of a tag has no branch",
		env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push",
			"GITHUB_SHA": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "GITHUB_REF": "refs/tags/simple-tag",
			"GITHUB_REF_NAME": "simple-tag", "GITHUB_REF_TYPE": "tag"},
		commit: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
		line:   "commit 6113728 (push, refs/tags/simple-tag)",
	}, {
		name: "workflow_dispatch on a branch",
		env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "workflow_dispatch",
			"GITHUB_SHA": prBase, "GITHUB_REF": "refs/heads/release/1.2", "GITHUB_REF_NAME": "release/1.2"},
		commit: prBase, branch: "release/1.2",
		line: "commit f95f852 (workflow_dispatch, refs/heads/release/1.2), branch release/1.2",
	}, {
		name:   "pull_request: the head, not the merge commit",
		env:    pullRequestEnv(prFile),
		commit: prHead, branch: "changes", pr: ptr(2),
		line: "commit ec26c3e (pull request #2 head), branch changes, pr 2",
	}, {
		// pull_request_target runs on the base branch: GITHUB_SHA and
		// GITHUB_REF are the base's.
		name: "pull_request_target",
		env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request_target",
			"GITHUB_EVENT_PATH": prFile, "GITHUB_SHA": prBase, "GITHUB_REF": "refs/heads/master",
			"GITHUB_REF_NAME": "master", "GITHUB_HEAD_REF": "changes", "GITHUB_BASE_REF": "master"},
		commit: prHead, branch: "changes", pr: ptr(2),
		line: "commit ec26c3e (pull request #2 head), branch changes, pr 2",
	}, {
		// pull_request_review sets no GITHUB_HEAD_REF.
		name: "pull_request_review: branch from the payload",
		env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request_review",
			"GITHUB_EVENT_PATH": prFile, "GITHUB_SHA": prMerge, "GITHUB_REF": "refs/pull/2/merge"},
		commit: prHead, branch: "changes", pr: ptr(2),
		line: "commit ec26c3e (pull request #2 head), branch changes, pr 2",
	}, {
		name: "pull request number from GITHUB_REF",
		env: with(pullRequestEnv(eventFile(t, func(ev map[string]any) {
			delete(ev, "number")
			delete(obj(ev, "pull_request"), "number")
		})), "GITHUB_REF", "refs/pull/17/merge"),
		commit: prHead, branch: "changes", pr: ptr(17),
		line: "commit ec26c3e (pull request #17 head), branch changes, pr 17",
	}, {
		// A fork's main must not count as the baseline branch.
		name: "pull request from a fork: the branch is owner:ref",
		env: with(pullRequestEnv(eventFile(t, func(ev map[string]any) {
			head := obj(ev, "pull_request", "head")
			head["label"], head["ref"] = "octocat:main", "main"
			obj(head, "repo")["full_name"] = "octocat/Hello-World"
		})), "GITHUB_HEAD_REF", "main"),
		commit: prHead, branch: "octocat:main", pr: ptr(2),
		line: "commit ec26c3e (pull request #2 head), branch octocat:main, pr 2",
	}, {
		name: "flags win over a pull request",
		args: []string{"--commit", "abc123", "--branch", "mine", "--pr", "9"},
		env:  pullRequestEnv(prFile),
		// Nothing is taken, so nothing is said.
		commit: "abc123", branch: "mine", pr: ptr(9),
	}, {
		name: "flags win without reading the event file",
		args: []string{"--commit", "abc123", "--branch", "mine", "--pr", "9"},
		env:  pullRequestEnv(writeFile(t, []byte("{not json"))),
		// Nothing is taken, so nothing is said.
		commit: "abc123", branch: "mine", pr: ptr(9),
	}, {
		name:   "flags win one by one",
		args:   []string{"--commit", "abc123"},
		env:    pullRequestEnv(prFile),
		commit: "abc123", branch: "changes", pr: ptr(2),
		line: "branch changes, pr 2 (--commit from the command line)",
	}, {
		name:   "an empty flag still wins",
		args:   []string{"--branch", ""},
		env:    pullRequestEnv(prFile),
		commit: prHead, pr: ptr(2),
		line: "commit ec26c3e (pull request #2 head), pr 2 (--branch from the command line)",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, sent := fakeServer(t, wire.Test{ID: 42, State: wire.StateFinished})
			env := map[string]string{"PITWALL_SERVER": srv.URL, "PITWALL_TOKEN": "tok"}
			maps.Copy(env, c.env)
			o := runIn(append([]string{"run", "fw"}, c.args...), env)
			require.Equal(t, ExitOK, o.code, o.stderr)
			require.Equal(t, "fw", sent.Framework)
			require.Equal(t, c.commit, sent.Commit)
			require.Equal(t, c.branch, sent.Branch)
			require.Equal(t, c.pr, sent.PR)
			if c.line == "" {
				require.Empty(t, o.stderr)
			} else {
				require.Equal(t, "starter: from GitHub Actions: "+c.line+"\n", o.stderr)
			}
		})
	}
}

// with returns env with one more variable.
func with(env map[string]string, k, v string) map[string]string {
	env[k] = v
	return env
}

// A pull request whose head commit cannot be read is not tested at all
// (GITHUB_SHA would be the wrong commit): exit 3, one line naming the file.
func TestRunRefusesABadGitHubEventFile(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "gone.json")
	cases := []struct {
		name, path, want string
	}{
		{"no GITHUB_EVENT_PATH", "", "GitHub Actions pull_request event without GITHUB_EVENT_PATH"},
		{"file missing", missing, missing + " (pull_request event): open " + missing + ": no such file or directory"},
		{"not JSON", writeFile(t, []byte("{\"pull_request\": {")), "not the JSON payload expected: unexpected end of JSON input"},
		{"a push payload", writeFile(t, []byte(`{"ref": "refs/heads/master", "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246"}`)),
			"no pull_request object"},
		{"wrong types", eventFile(t, func(ev map[string]any) { obj(ev, "pull_request")["number"] = "2" }),
			"cannot unmarshal string into Go struct field"},
		{"no head sha", eventFile(t, func(ev map[string]any) { delete(obj(ev, "pull_request", "head"), "sha") }),
			`pull_request.head.sha "" is not a commit SHA`},
		{"head sha not a SHA", eventFile(t, func(ev map[string]any) { obj(ev, "pull_request", "head")["sha"] = "ec26c3e; rm -rf /" }),
			`pull_request.head.sha "ec26c3e; rm -rf /" is not a commit SHA`},
		{"no number anywhere", eventFile(t, func(ev map[string]any) {
			delete(ev, "number")
			delete(obj(ev, "pull_request"), "number")
		}), `no pull_request.number, and GITHUB_REF "refs/heads/master" is not refs/pull/N/merge`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, sent := fakeServer(t, wire.Test{ID: 42, State: wire.StateFinished})
			env := pullRequestEnv(c.path)
			env["GITHUB_REF"] = "refs/heads/master"
			env["PITWALL_SERVER"], env["PITWALL_TOKEN"] = srv.URL, "tok"
			o := runIn([]string{"run", "fw", "--wait"}, env)
			require.Equal(t, ExitUsage, o.code)
			require.Equal(t, 1, strings.Count(o.stderr, "\n"), "one line on stderr: %q", o.stderr)
			require.Contains(t, o.stderr, c.want)
			if c.path != "" {
				require.Contains(t, o.stderr, "starter: GitHub Actions event file "+c.path+" ")
			}
			require.Empty(t, sent.Framework, "no test was started")
		})
	}
	// Outside pull requests GITHUB_SHA is the commit, so it must be one.
	o := runIn([]string{"run", "fw"}, map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push",
		"GITHUB_SHA": "main", "PITWALL_SERVER": "http://127.0.0.1:1"})
	require.Equal(t, ExitUsage, o.code)
	require.Equal(t, "starter: GITHUB_SHA \"main\" is not a commit SHA; give --commit\n", o.stderr)
	// ... unless --commit is given.
	srv, sent := fakeServer(t, wire.Test{ID: 42, State: wire.StateFinished})
	o = runIn([]string{"run", "fw", "--commit", "abc123"}, map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push",
		"GITHUB_SHA": "main", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main", "PITWALL_SERVER": srv.URL, "PITWALL_TOKEN": "tok"})
	require.Equal(t, ExitOK, o.code, o.stderr)
	require.Equal(t, "abc123", sent.Commit)
	require.Equal(t, "main", sent.Branch)
	require.Equal(t, "starter: from GitHub Actions: branch main (--commit from the command line)\n", o.stderr)
}
