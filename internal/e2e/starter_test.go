package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/api"
)

type result struct {
	code           int
	stdout, stderr string
}

// starter runs the built starter binary against the package's server.
func starter(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(stack.starter, args...)
	cmd.Env = append(os.Environ(), "PITWALL_SERVER="+stack.server.URL)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code, out.String(), errb.String()}
}

func TestStarterApplyRunWaitJSON(t *testing.T) {
	t.Parallel()
	r := starter(t, "framework", "apply", "-f", "../../examples/sample/framework.yaml")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^framework sample (applied as|unchanged at) version \d+ \(team default\)\n$`, r.stdout)

	r = starter(t, "run", "sample", "-p", "iterations=5000", "-p", "file_mb=1", "--commit", "abc123",
		"--branch", "feature", "--tag", "ci=yes", "--wait", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var got api.Test
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), "stdout is one JSON object: %q", r.stdout)
	require.Equal(t, api.StateFinished, got.State)
	require.Equal(t, "sample", got.Framework)
	require.Equal(t, "abc123", got.Commit)
	require.Equal(t, "feature", got.Branch)
	require.Equal(t, map[string]string{"ci": "yes"}, got.Tags)
	require.Len(t, got.KPIs, 4)
	require.NotEmpty(t, got.URL)
	require.Equal(t, "queued", got.Timeline[0].Stage)
	require.Contains(t, r.stderr, "finished", "progress goes to stderr")

	// The raw JSON carries the contract's keys.
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw))
	for _, k := range []string{"id", "framework", "state", "reason", "verdict", "url", "kpis", "timeline"} {
		require.Contains(t, raw, k)
	}

	st := starter(t, "status", itoa(got.ID))
	require.Equal(t, 0, st.code, st.stderr)
	require.Contains(t, st.stdout, "state finished")
	require.Contains(t, st.stdout, "CPULoop-ms")

	list := starter(t, "framework", "list")
	require.Equal(t, 0, list.code)
	require.Contains(t, list.stdout, "sample")
}

func TestStarterExitCodes(t *testing.T) {
	t.Parallel()
	applyFramework(t, "name: starter-fails\nexecution: {script: \"#!/bin/sh\\necho broken >&2\\nexit 1\\n\"}\n")
	applyFramework(t, "name: starter-ok\nexecution: {script: \"#!/bin/sh\\necho k, 1 > results.csv\\n\"}\n")

	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"finished", []string{"run", "starter-ok", "--wait"}, 0, ""},
		{"script failed", []string{"run", "starter-fails", "--wait"}, 2, "failed: script exited with status 1: broken"},
		{"wait on failed test", nil, 2, "failed"},
		{"unknown framework", []string{"run", "no-such", "--wait"}, 3, `framework "no-such" not found`},
		{"unknown parameter", []string{"run", "starter-ok", "-p", "x=1"}, 3, `has no parameter "x"`},
		{"bad parameter syntax", []string{"run", "starter-ok", "-p", "novalue"}, 3, "must be NAME=VALUE"},
		{"missing file", []string{"framework", "apply", "-f", "/nonexistent.yaml"}, 3, "no such file"},
		{"no command", []string{}, 3, "no command given"},
		{"unknown command", []string{"launch"}, 3, `unknown command "launch"`},
		{"bad test id", []string{"status", "abc"}, 3, "not a positive number"},
		{"missing test", []string{"status", "987654"}, 3, "test 987654 not found"},
		{"unreachable server", []string{"--server", "http://127.0.0.1:1", "framework", "list"}, 3, "unreachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := c.args
			if args == nil {
				r := starter(t, "run", "starter-fails")
				require.Equal(t, 0, r.code, r.stderr)
				args = []string{"wait", strings.Fields(r.stdout)[1]}
			}
			r := starter(t, args...)
			require.Equal(t, c.code, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			if c.code >= 2 {
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				last := lines[len(lines)-1]
				require.True(t, strings.HasPrefix(last, "starter: "), "one-line reason on stderr: %q", r.stderr)
				require.Contains(t, last, c.stderr)
			}
		})
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
