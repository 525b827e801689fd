package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

func TestSampleFrameworkEndToEnd(t *testing.T) {
	t.Parallel()
	yaml, err := os.ReadFile("../examples/sample/framework.yaml")
	require.NoError(t, err)
	st.Apply(t, string(yaml))

	got := st.Run(t, wire.RunRequest{Framework: "sample", Params: map[string]string{"iterations": "20000", "file_mb": "1"},
		Commit: "0123456789abcdef", Branch: "main"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Contains(t, []string{agentName, agent2, agent3}, got.Host)
	require.Equal(t, 0, *got.ExitCode)
	require.Equal(t, fmt.Sprintf("%s/tests/%d", st.URL, got.ID), got.URL)
	require.Equal(t, wire.VerdictNoBaseline, got.Verdict)
	recordHistory(t, got.WorkflowID, "perftest-take-finished.json")
	for _, s := range got.Timeline {
		if s.Stage == "script started" {
			t.Logf("submit to script started: %s", s.At.Sub(got.CreatedAt).Round(time.Millisecond))
		}
	}

	// The KPIs the script measured, as the API reports them ...
	units := map[string]string{}
	for _, k := range got.KPIs {
		units[k.Name] = k.Unit
		require.Greater(t, k.Value, 0.0, k.Name)
	}
	require.Equal(t, map[string]string{"CPULoop-ms": "ms", "LoopRate": "iter/s", "FileWrite-ms": "ms", "WriteThroughput": "MB/s"}, units)

	// ... and as they are stored.
	ctx := context.Background()
	var stored int
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT count(*) FROM test_kpis WHERE test_id = $1 AND value > 0`, got.ID).Scan(&stored))
	require.Equal(t, 4, stored)

	// Every state transition is stored once, in order, with its time.
	rows, err := st.Pool.Query(ctx, `SELECT state FROM test_transitions WHERE test_id = $1 ORDER BY at`, got.ID)
	require.NoError(t, err)
	states, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	// It may have waited for its host behind another test of this package.
	states = slices.DeleteFunc(states, func(s string) bool { return s == "waiting" })
	// No setup state: with nothing to run between them, the first
	// Execute sets the test up (PerfTest's lean shape, issue 22).
	require.Equal(t, []string{"queued", "running", "collating", "finished"}, states)
	var state string
	var params string
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT state, params::text FROM tests WHERE id = $1`, got.ID).Scan(&state, &params))
	require.Equal(t, "finished", state)
	require.JSONEq(t, `[{"name":"iterations","value":"20000"},{"name":"file_mb","value":"1"}]`, params)
	for i := 1; i < len(got.Timeline); i++ {
		require.False(t, got.Timeline[i].At.Before(got.Timeline[i-1].At), "timeline is in time order")
	}

	// The test page shows it.
	resp := get(t, got.URL)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// The hostile parameter must arrive as one literal argument, and the
// command substitution in it must never run.
func TestParameterWithShellMetacharactersIsOneLiteralArgument(t *testing.T) {
	t.Parallel()
	const hostile = "; rm -rf / $(touch /tmp/x)"
	_, statErr := os.Stat("/tmp/x")
	existed := statErr == nil
	st.Apply(t, `
name: echo-args
execution:
  script: |
    #!/bin/sh
    printf '%s' "$#" > "$2.argc"
    printf '%s' "$1" > "$2"
    printf '%s' "$PITWALL_PARAM_EVIL" > "$2.env"
    echo "Args, $#" > results.csv
parameters:
  - {name: evil}
  - {name: out}
`)
	out := filepath.Join(testenv.ScriptDir(t), "arg")
	got := st.Run(t, wire.RunRequest{Framework: "echo-args", Params: map[string]string{"evil": hostile, "out": out}})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	for _, f := range []string{out, out + ".env"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Equal(t, hostile, string(b))
	}
	argc, err := os.ReadFile(out + ".argc")
	require.NoError(t, err)
	require.Equal(t, "2", string(argc), "two parameters, two arguments")
	if !existed {
		_, err := os.Stat("/tmp/x")
		require.ErrorIs(t, err, os.ErrNotExist)
	}
}

func TestFailingScriptKeepsResultsAndSaysWhy(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: fails
execution:
  script: |
    #!/bin/sh
    echo "Key, Value" > results.csv
    echo "Partial-ms, 5ms" >> results.csv
    echo "Junk, lots" >> results.csv
    echo "database refused the connection" >&2
    exit 7
`)
	got := st.Run(t, wire.RunRequest{Framework: "fails"})
	require.Equal(t, wire.StateFailed, got.State)
	require.Equal(t, "script exited with status 7: database refused the connection", got.Reason)
	require.Equal(t, 7, *got.ExitCode)
	require.Len(t, got.KPIs, 1)
	require.Equal(t, "Partial-ms", got.KPIs[0].Name)
	require.Equal(t, []string{`results.csv:3: Junk: "lots" is not a number`}, got.Notes)
	recordHistory(t, got.WorkflowID, "perftest-take-script-failed.json")
}

func TestTimeoutEndsTestAsTimedOut(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: sleeps
execution:
  script: |
    #!/bin/sh
    sleep 60
  timeout: 1s
`)
	got := st.Run(t, wire.RunRequest{Framework: "sleeps"})
	require.Equal(t, wire.StateTimedOut, got.State)
	require.Contains(t, got.Reason, "timeout of 1s")
	require.Equal(t, wire.StateTimedOut, lastState(got))
	require.Less(t, got.EndedAt.Sub(got.CreatedAt).Seconds(), 30.0)
	recordHistory(t, got.WorkflowID, "perftest-take-timed-out.json")
}

func TestUnknownExecutionHostFailsClearly(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: elsewhere
execution:
  script: "#!/bin/sh\n"
  hosts: [no-such-host]
`)
	got := st.Run(t, wire.RunRequest{Framework: "elsewhere"})
	require.Equal(t, wire.StateFailed, got.State)
	require.Equal(t, `choose host: execution host "no-such-host" is not a registered agent`, got.Reason)
}

func TestScriptPathThatDoesNotExist(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: missing-script
execution:
  script_path: /nonexistent/bench.sh
`)
	got := st.Run(t, wire.RunRequest{Framework: "missing-script"})
	require.Equal(t, wire.StateFailed, got.State)
	require.Equal(t, "setup: script /nonexistent/bench.sh does not exist on agent "+got.Host, got.Reason)
}

// lastState is the last state (not stage) in a test's timeline.
func lastState(t *wire.Test) string {
	for i := len(t.Timeline) - 1; i >= 0; i-- {
		if t.Timeline[i].Kind == "state" {
			return t.Timeline[i].Stage
		}
	}
	return ""
}
