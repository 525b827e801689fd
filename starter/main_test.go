package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

type outcome struct {
	code           int
	stdout, stderr string
}

func runIn(args []string, env map[string]string) outcome {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	return outcome{code, out.String(), errb.String()}
}

func TestUsageErrorsExit3WithOneLine(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"no command":       {},
		"unknown command":  {"frobnicate"},
		"framework no sub": {"framework"},
		"apply without -f": {"framework", "apply"},
		"run no framework": {"run"},
		"run two names":    {"run", "a", "b"},
		"bad -p":           {"run", "a", "-p", "noequals"},
		"duplicate -p":     {"run", "a", "-p", "x=1", "-p", "x=2"},
		"negative pr":      {"run", "a", "--pr", "-4"},
		"unknown flag":     {"run", "a", "--colour"},
		"status no id":     {"status"},
		"status bad id":    {"status", "0"},
		"bad server url":   {"--server", "not a url", "framework", "list"},
		"wait two ids":     {"wait", "1", "2"},
		"flag missing arg": {"run", "a", "--commit"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := runIn(args, nil)
			require.Equal(t, ExitUsage, o.code)
			require.Equal(t, 1, strings.Count(o.stderr, "\n"), "one line on stderr: %q", o.stderr)
			require.True(t, strings.HasPrefix(o.stderr, "starter: "))
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	o := runIn([]string{"--help"}, nil)
	require.Equal(t, ExitOK, o.code)
	require.Contains(t, o.stdout, "starter run FRAMEWORK")
}

// fakeServer answers as the API does, to check what starter sends and how it
// maps a test's state to its exit code; the real server is tested in e2e/.
func fakeServer(t *testing.T, final wire.Test) (*httptest.Server, *wire.RunRequest) {
	t.Helper()
	var got wire.RunRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/tests":
			b, _ := io.ReadAll(r.Body)
			require.NoError(t, json.Unmarshal(b, &got))
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(wire.Test{ID: final.ID, State: wire.StateQueued})
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/tests/42":
			_ = json.NewEncoder(w).Encode(final)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestRunWaitExitCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		state, verdict string
		code           int
	}{
		{wire.StateFinished, wire.VerdictNoBaseline, ExitOK},
		{wire.StateFinished, wire.VerdictImproved, ExitOK},
		{wire.StateFinished, wire.VerdictRegressed, ExitRegressed},
		{wire.StateFailed, "", ExitTestFailed},
		{wire.StateAborted, "", ExitTestFailed},
		{wire.StateTimedOut, "", ExitTestFailed},
	}
	for _, c := range cases {
		t.Run(c.state+"/"+c.verdict, func(t *testing.T) {
			t.Parallel()
			srv, sent := fakeServer(t, wire.Test{ID: 42, State: c.state, Verdict: c.verdict, Reason: "why"})
			o := runIn([]string{"run", "fw", "--wait", "-p", "a=x=y", "-p", "b=; rm -rf /", "--tag", "k=v",
				"--pr", "7", "--branch", "main", "--json"}, map[string]string{"PITWALL_SERVER": srv.URL, "PITWALL_TOKEN": "tok"})
			require.Equal(t, c.code, o.code, o.stderr)
			require.Equal(t, map[string]string{"a": "x=y", "b": "; rm -rf /"}, sent.Params)
			require.Equal(t, map[string]string{"k": "v"}, sent.Tags)
			require.Equal(t, 7, *sent.PR)
			var got wire.Test
			require.NoError(t, json.Unmarshal([]byte(o.stdout), &got), "stdout is exactly one JSON object")
			require.Equal(t, c.state, got.State)
			if c.code != ExitOK {
				lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
				require.True(t, strings.HasPrefix(lines[len(lines)-1], "starter: test 42 "))
			}
		})
	}
}

// The token comes from PITWALL_TOKEN, PITWALL_TOKEN_FILE or --token-file,
// before or after the command; --token still works but says that every
// user of the host can read it.
func TestTokenStaysOffTheCommandLine(t *testing.T) {
	t.Parallel()
	srv, _ := fakeServer(t, wire.Test{ID: 42, State: wire.StateFinished})
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte("tok\n"), 0o600))
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
		warn bool
	}{
		"env":                  {nil, map[string]string{"PITWALL_TOKEN": "tok"}, false},
		"env file":             {nil, map[string]string{"PITWALL_TOKEN_FILE": file}, false},
		"flag file":            {[]string{"--token-file", file}, nil, false},
		"flag file after":      {[]string{"status", "42", "--token-file", file}, nil, false},
		"flag over env":        {[]string{"--token-file", file}, map[string]string{"PITWALL_TOKEN": "other"}, false},
		"flag on command line": {[]string{"--token", "tok"}, nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := c.args
			if len(args) == 0 || args[0] != "status" {
				args = append(args, "status", "42")
			}
			env := map[string]string{"PITWALL_SERVER": srv.URL}
			maps.Copy(env, c.env)
			o := runIn(args, env)
			require.Equal(t, ExitOK, o.code, o.stderr)
			if c.warn {
				require.Contains(t, o.stderr, "starter: warning: --token is on the command line, where every user of this host can read it")
			} else {
				require.Empty(t, o.stderr)
			}
		})
	}
	o := runIn([]string{"--token", "tok", "--token-file", file, "status", "42"}, map[string]string{"PITWALL_SERVER": srv.URL})
	require.Equal(t, ExitUsage, o.code)
	require.Contains(t, o.stderr, "give --token or --token-file, not both")
	o = runIn([]string{"status", "42"}, map[string]string{"PITWALL_SERVER": srv.URL, "PITWALL_TOKEN_FILE": file + ".missing"})
	require.Equal(t, ExitUsage, o.code)
	require.Contains(t, o.stderr, "PITWALL_TOKEN_FILE")
}

// KPI names and units come from scripts: in CSV, a cell a spreadsheet
// would run as a formula starts with a quote instead.
func TestResultsCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	srv, _ := fakeServer(t, wire.Test{ID: 42, State: wire.StateFinished, KPIs: []wire.KPI{
		{Name: `=HYPERLINK("http://evil.example","x")`, Value: 1, Unit: "ms"},
		{Name: "+1+1", Value: -2, Unit: "@SUM(A1)"},
		{Name: "-cmd", Value: 3, Unit: "\t=1"},
		{Name: "Latency", Value: 4, Unit: "ms"},
	}})
	o := runIn([]string{"results", "42", "--csv"}, map[string]string{"PITWALL_SERVER": srv.URL, "PITWALL_TOKEN": "tok"})
	require.Equal(t, ExitOK, o.code, o.stderr)
	require.Equal(t, `test,kpi,iteration,value,unit,verdict
42,"'=HYPERLINK(""http://evil.example"",""x"")",0,1,ms,
42,'+1+1,0,-2,'@SUM(A1),
42,'-cmd,0,3,'	=1,
42,Latency,0,4,ms,
`, o.stdout)
}
