package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// starter runs the built starter binary against the package's server.
func starter(t *testing.T, args ...string) stack.Result { return st.Starter(t, args...) }

func TestStarterApplyRunWaitJSON(t *testing.T) {
	t.Parallel()
	r := starter(t, "framework", "apply", "-f", "../examples/sample/framework.yaml")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Regexp(t, `^framework sample (applied as|unchanged at) version \d+ \(team default\)\n$`, r.Stdout)

	r = starter(t, "run", "sample", "-p", "iterations=5000", "-p", "file_mb=1", "--commit", "abc123",
		"--branch", "feature", "--tag", "ci=yes", "--wait", "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	var got wire.Test
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &got), "stdout is one JSON object: %q", r.Stdout)
	require.Equal(t, wire.StateFinished, got.State)
	require.Equal(t, "sample", got.Framework)
	require.Equal(t, "abc123", got.Commit)
	require.Equal(t, "feature", got.Branch)
	require.Equal(t, map[string]string{"ci": "yes"}, got.Tags)
	require.Len(t, got.KPIs, 4)
	require.NotEmpty(t, got.URL)
	require.Equal(t, "queued", got.Timeline[0].Stage)
	require.Contains(t, r.Stderr, "finished", "progress goes to stderr")

	// The raw JSON carries the contract's keys.
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &raw))
	for _, k := range []string{"id", "framework", "state", "reason", "verdict", "url", "kpis", "timeline"} {
		require.Contains(t, raw, k)
	}

	status := starter(t, "status", itoa(got.ID))
	require.Equal(t, 0, status.Code, status.Stderr)
	require.Contains(t, status.Stdout, "state finished")
	require.Contains(t, status.Stdout, "CPULoop-ms")

	list := starter(t, "framework", "list")
	require.Equal(t, 0, list.Code)
	require.Contains(t, list.Stdout, "sample")
}

func TestStarterExitCodes(t *testing.T) {
	t.Parallel()
	st.Apply(t, "name: starter-fails\nexecution: {script: \"#!/bin/sh\\necho broken >&2\\nexit 1\\n\"}\n")
	st.Apply(t, "name: starter-ok\nexecution: {script: \"#!/bin/sh\\necho k, 1 > results.csv\\n\"}\n")

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
				require.Equal(t, 0, r.Code, r.Stderr)
				args = []string{"wait", strings.Fields(r.Stdout)[1]}
			}
			r := starter(t, args...)
			require.Equal(t, c.code, r.Code, "stdout %q stderr %q", r.Stdout, r.Stderr)
			if c.code >= 2 {
				lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
				last := lines[len(lines)-1]
				require.True(t, strings.HasPrefix(last, "starter: "), "one-line reason on stderr: %q", r.Stderr)
				require.Contains(t, last, c.stderr)
			}
		})
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestStarterResultsCompareJUnitCSV(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: reported
execution: {script: "#!/bin/sh\necho \"Latency-ms, ${1}ms\" > results.csv\necho \"Rate, 3.2k\" >> results.csv\n"}
parameters: [{name: latency, default: "10"}]
repeat: 2
`)
	a := st.Run(t, wire.RunRequest{Framework: "reported"})
	b := st.Run(t, wire.RunRequest{Framework: "reported", Params: map[string]string{"latency": "15"}})
	require.Equal(t, wire.StateFinished, b.State, b.Reason)

	r := starter(t, "results", itoa(a.ID))
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Regexp(t, `KPI\s+MEAN\s+MEDIAN\s+MIN\s+MAX\s+STDDEV\s+N\s+UNIT\s+VERDICT`, r.Stdout)
	// The framework declares no KPIs, so none has a direction to be judged by.
	require.Regexp(t, `Latency-ms\s+10\s+10\s+10\s+10\s+0\s+2\s+ms\s*\n`, r.Stdout)

	r = starter(t, "results", itoa(a.ID), "--csv")
	require.Equal(t, 0, r.Code, r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Equal(t, "test,kpi,iteration,value,unit,verdict", lines[0])
	require.Len(t, lines, 5, "2 KPIs x 2 iterations")
	require.Contains(t, lines, fmt.Sprintf("%d,Rate,2,3200,,", a.ID))

	junit := filepath.Join(t.TempDir(), "junit.xml")
	r = starter(t, "results", itoa(a.ID), "--junit", junit)
	require.Equal(t, 0, r.Code, r.Stderr)
	x, err := os.ReadFile(junit)
	require.NoError(t, err)
	require.Contains(t, string(x), `<testsuite name="pitwall.reported test `)
	require.Contains(t, string(x), `tests="3" failures="0" errors="0"`)
	require.Contains(t, string(x), `<testcase name="Latency-ms" classname="pitwall.reported" time="0">`)

	r = starter(t, "compare", itoa(a.ID), itoa(b.ID))
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "parameter latency: 10 | 15")
	require.Regexp(t, `Latency-ms\s+ms\s+10\s+15 \(\+50\.0%\)`, r.Stdout)

	r = starter(t, "compare", itoa(a.ID))
	require.Equal(t, 3, r.Code)
}

func TestStarterJUnitForAFailedTest(t *testing.T) {
	t.Parallel()
	st.Apply(t, "name: junit-fails\nexecution: {script: \"#!/bin/sh\\necho nope >&2\\nexit 5\\n\"}\n")
	got := st.Run(t, wire.RunRequest{Framework: "junit-fails"})
	junit := filepath.Join(t.TempDir(), "junit.xml")
	r := starter(t, "results", itoa(got.ID), "--junit", junit)
	require.Equal(t, 2, r.Code)
	x, err := os.ReadFile(junit)
	require.NoError(t, err)
	require.Contains(t, string(x), `<error message="failed: script exited with status 5: nope" type="failed">`)
}

// A test exported from one installation and imported into another keeps
// its KPIs, tables, series, timeline and fingerprint.
func TestStarterExportImport(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: exported
execution:
  script: "#!/bin/sh\necho 'Latency, 7ms' > results.csv\nprintf 'a,b\\n1,2\\n' > extra.csv\nsleep 0.5\n"
  hosts: [%s]
statistics: {interval: 100ms}
`, agent2))
	orig := st.Run(t, wire.RunRequest{Framework: "exported", Commit: "feed"})
	require.Equal(t, wire.StateFinished, orig.State, orig.Reason)
	r := starter(t, "export", itoa(orig.ID))
	require.Equal(t, 0, r.Code, r.Stderr)
	file := filepath.Join(t.TempDir(), "test.json")
	require.NoError(t, os.WriteFile(file, []byte(r.Stdout), 0o644))
	var ex wire.Export
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &ex))
	require.Equal(t, wire.ExportFormat, ex.Format)
	require.NotEmpty(t, ex.Series)
	require.Len(t, ex.Tables, 1)

	r = starter(t, "import", file, "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	var imp wire.Test
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &imp))
	require.NotEqual(t, orig.ID, imp.ID)
	require.Equal(t, wire.StateFinished, imp.State)
	require.Equal(t, orig.KPIs[0].Value, imp.KPIs[0].Value)
	require.Equal(t, "feed", imp.Commit)
	require.Equal(t, orig.URL, imp.Tags["imported_from"])
	require.Equal(t, orig.Fingerprint.ScriptSHA256, imp.Fingerprint.ScriptSHA256)
	require.Equal(t, len(orig.Timeline), len(imp.Timeline))

	var origSeries, impSeries wire.List[wire.Series]
	st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/series?metric=cpu.user", orig.ID), "", nil, &origSeries)
	st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/series?metric=cpu.user", imp.ID), "", nil, &impSeries)
	require.Equal(t, origSeries.Items, impSeries.Items)

	// Bad imports are refused with the field at fault, and store nothing.
	for name, doc := range map[string]string{
		"wrong format":  `{"format":"other"}`,
		"running test":  strings.Replace(r.Stdout, `"state": "finished"`, `"state": "running"`, 1),
		"not json":      `{{{`,
		"unknown field": `{"format":"pitwall-test-export/v1","surprise":1}`,
	} {
		bad := filepath.Join(t.TempDir(), "bad.json")
		require.NoError(t, os.WriteFile(bad, []byte(doc), 0o644))
		r := starter(t, "import", bad)
		require.Equal(t, 3, r.Code, name)
		require.Contains(t, r.Stderr, "server refused (400", name)
	}
}
