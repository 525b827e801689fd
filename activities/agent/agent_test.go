package agent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/workflows/contract"
)

// hostile is a parameter value that would do damage if it ever reached a shell.
const hostile = "; rm -rf / $(touch /tmp/x)"

type bundle struct {
	env  *testsuite.TestActivityEnvironment
	acts *Activities
}

// TestMain doubles as the supervisor of the scripts the tests run, as the
// worker binary does in production.
func TestMain(m *testing.M) {
	supervise.Dispatch()
	os.Exit(m.Run())
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, &Activities{Host: "bench-01"})
}

// setupWith prepares a fresh work directory for acts, which a per-test
// user can pass through as on an agent host.
func setupWith(t *testing.T, acts *Activities) *bundle {
	t.Helper()
	acts.WorkDir = t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(acts.WorkDir), 0o711))
	require.NoError(t, Prepare(acts))
	var suite testsuite.WorkflowTestSuite
	b := &bundle{env: suite.NewTestActivityEnvironment(), acts: acts}
	Register(b.env, b.acts)
	return b
}

// countingServer stands in for the server's ingest endpoints: it takes
// everything and counts the requests.
func (b *bundle) countingServer(t *testing.T) *atomic.Int32 {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { n.Add(1) }))
	t.Cleanup(srv.Close)
	b.acts.Ingest = &ingest.Client{Server: srv.URL}
	return &n
}

// prepare runs Setup for an inline script and returns what Execute needs.
func (b *bundle) prepare(t *testing.T, id int64, script string) contract.ExecuteInput {
	t.Helper()
	v, err := b.env.ExecuteActivity(b.acts.Setup, contract.SetupInput{TestID: id, Script: script})
	require.NoError(t, err)
	var s contract.SetupResult
	require.NoError(t, v.Get(&s))
	return contract.ExecuteInput{TestID: id, Framework: "fw", Script: s.Script, Dir: s.Dir, ResultsDir: s.ResultsDir,
		Args: framework.ArgsPositional, Timeout: time.Minute}
}

func (b *bundle) execute(t *testing.T, in contract.ExecuteInput) *contract.ExecuteResult {
	t.Helper()
	v, err := b.env.ExecuteActivity(b.acts.Execute, in)
	require.NoError(t, err)
	var r contract.ExecuteResult
	require.NoError(t, v.Get(&r))
	return &r
}

// printArgs writes each argument and PITWALL_ variable on its own line.
const printArgs = `#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done > args.txt
env | grep '^PITWALL_' | sort > env.txt
`

func TestExecuteParameterIsOneLiteralArgument(t *testing.T) {
	t.Parallel()
	_, statErr := os.Stat("/tmp/x")
	existed := statErr == nil
	b := setup(t)
	in := b.prepare(t, 1, printArgs)
	in.Params = []contract.Param{{Name: "evil", Value: hostile}, {Name: "n", Value: "2"}}
	r := b.execute(t, in)
	require.Equal(t, 0, r.ExitCode)

	args, err := os.ReadFile(filepath.Join(in.ResultsDir, "args.txt"))
	require.NoError(t, err)
	require.Equal(t, hostile+"\n2\n", string(args), "positional: each value is exactly one argument")
	env, err := os.ReadFile(filepath.Join(in.ResultsDir, "env.txt"))
	require.NoError(t, err)
	require.Contains(t, string(env), "PITWALL_PARAM_EVIL="+hostile+"\n")
	require.Contains(t, string(env), "PITWALL_PARAM_N=2\n")
	require.Contains(t, string(env), "PITWALL_TEST_ID=1\n")
	require.Contains(t, string(env), "PITWALL_FRAMEWORK=fw\n")
	require.Contains(t, string(env), "PITWALL_HOST=bench-01\n")
	require.Contains(t, string(env), "PITWALL_RESULTS_DIR="+in.ResultsDir+"\n")
	if !existed {
		_, err := os.Stat("/tmp/x")
		require.ErrorIs(t, err, os.ErrNotExist, "the command substitution must never run")
	}
}

func TestExecuteNamedArguments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.prepare(t, 2, printArgs)
	in.Args = framework.ArgsNamed
	in.Params = []contract.Param{{Name: "rate", Value: "10 000"}, {Name: "url", Value: hostile}}
	b.execute(t, in)
	args, err := os.ReadFile(filepath.Join(in.ResultsDir, "args.txt"))
	require.NoError(t, err)
	require.Equal(t, "--rate\n10 000\n--url\n"+hostile+"\n", string(args))
}

func TestExecuteFailureKeepsStderrTail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.prepare(t, 3, "#!/bin/sh\necho 'Key, Value' > results.csv\necho partial, 1 >> results.csv\necho oops >&2\nexit 4\n")
	r := b.execute(t, in)
	require.Equal(t, 4, r.ExitCode)
	require.False(t, r.TimedOut)
	require.Equal(t, "oops", r.StderrTail)

	v, err := b.env.ExecuteActivity(b.acts.Collect, contract.CollectInput{TestID: 3, ResultsDir: in.ResultsDir})
	require.NoError(t, err)
	var c contract.CollectResult
	require.NoError(t, v.Get(&c))
	require.Len(t, c.KPIs, 1, "what the failed script wrote is kept")
	require.Equal(t, "results.csv", c.File)
	require.Equal(t, 2, c.KPIs[0].Line)
}

func TestExecuteScriptWithoutShebangRunsWithSh(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.prepare(t, 4, "echo 'k, 5ms' > results.csv\n")
	require.Equal(t, 0, b.execute(t, in).ExitCode)
	require.FileExists(t, filepath.Join(in.ResultsDir, "results.csv"))
}

func TestExecuteTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The script leaves a background child behind and then hangs.
	in := b.prepare(t, 5, "#!/bin/sh\nsleep 300 &\necho $! > child.pid\nsleep 300\n")
	in.Timeout = 500 * time.Millisecond
	start := time.Now()
	r := b.execute(t, in)
	require.True(t, r.TimedOut)
	require.Less(t, time.Since(start), killGrace+5*time.Second)
	pidText, err := os.ReadFile(filepath.Join(in.ResultsDir, "child.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !testenv.Alive(pid) }, 5*time.Second, 50*time.Millisecond,
		"the background child %d must be gone", pid)
}

func TestSetupMissingScriptPathIsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.env.ExecuteActivity(b.acts.Setup, contract.SetupInput{TestID: 6, ScriptPath: "/nonexistent/run.sh"})
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.True(t, app.NonRetryable())
	require.Equal(t, "script /nonexistent/run.sh does not exist on agent bench-01", app.Message())
}

func TestCollectWithoutResults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.prepare(t, 7, "#!/bin/sh\ntrue\n")
	v, err := b.env.ExecuteActivity(b.acts.Collect, contract.CollectInput{TestID: 7, ResultsDir: in.ResultsDir})
	require.NoError(t, err)
	var c contract.CollectResult
	require.NoError(t, v.Get(&c))
	require.Empty(t, c.KPIs)
	require.Len(t, c.Notes, 1)
	require.Contains(t, c.Notes[0], "no results.csv")
}

func TestCleanupRemovesTestDir(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := b.prepare(t, 8, "#!/bin/sh\n")
	_, err := b.env.ExecuteActivity(b.acts.Cleanup, int64(8))
	require.NoError(t, err)
	require.NoDirExists(t, in.Dir)
	_, err = b.env.ExecuteActivity(b.acts.Cleanup, int64(8))
	require.NoError(t, err, "cleanup twice is harmless")
}

// An agent running as root runs each test's scripts as a user of its own
// with no supplementary groups: it can write its results directory and
// home, and cannot write /root, read the agent's environment, or enter
// another test's directory.
func TestScriptsRunAsTheirTestsOwnUser(t *testing.T) {
	// Not parallel: it sets a variable in the agent's environment.
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root; this test needs root")
		}
		t.Skip("needs root: the agent only switches users when it runs as root")
	}
	b := setup(t)
	other := b.prepare(t, 10, "#!/bin/sh\necho 'Secret, 1' > results.csv\n")
	require.Zero(t, b.execute(t, other).ExitCode)
	in := b.prepare(t, 9, `#!/bin/sh
id -u > uid
id -G > groups
echo "$HOME" > home
touch "$HOME/ok" && echo yes > home-writable
touch /root/pitwall-should-not-exist 2>/dev/null && echo escaped > escaped
cat /proc/$PPID/environ > parent-env 2>/dev/null || echo refused > parent-env
cat /proc/1/environ > init-env 2>/dev/null || echo refused > init-env
ls "$OTHER" > other 2>/dev/null || echo refused > other
cat "$OTHER/results.csv" >> other 2>/dev/null
env | sort > env.txt
exit 0
`)
	in.Env = map[string]string{"OTHER": other.ResultsDir, "GREETING": "hello"}
	t.Setenv("TEMPORAL_API_KEY", "agent-secret")
	r := b.execute(t, in)
	require.Equal(t, 0, r.ExitCode, r.StderrTail)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(in.ResultsDir, name))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}
	uid := strconv.FormatUint(uint64(DefaultUIDs.First+9), 10)
	require.Equal(t, uid, read("uid"))
	require.Equal(t, uid, read("groups"), "no supplementary groups, the test's own group only")
	require.Equal(t, homeDir(in.Dir), read("home"))
	require.Equal(t, "yes", read("home-writable"))
	require.NoFileExists(t, filepath.Join(in.ResultsDir, "escaped"), "the script could write to /root")
	require.Equal(t, "refused", read("parent-env"), "the supervisor's environment")
	require.Equal(t, "refused", read("init-env"))
	require.Equal(t, "refused", read("other"), "another test's directory")
	env := read("env.txt")
	require.NotContains(t, env, "agent-secret", "the agent's environment reaches no script")
	require.Contains(t, env, "GREETING=hello", "variables the framework declares do")
	for _, kv := range strings.Split(env, "\n") {
		name, _, _ := strings.Cut(kv, "=")
		ok := name == "PATH" || name == "HOME" || name == "LANG" || name == "TZ" || name == "PWD" || name == "SHLVL" ||
			name == "OTHER" || name == "GREETING" || strings.HasPrefix(name, "PITWALL_")
		require.True(t, ok, "variable %s is not on the allowlist", name)
	}
}

// An agent that is not root refuses to run scripts unless isolation is off.
func TestNonRootAgentRefusesWithoutIsolationOff(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		a := &Activities{Host: "bench-01"}
		require.Equal(t, "uid "+DefaultUIDs.String(), a.Describe())
		a.Isolation = IsolationOff
		require.Contains(t, a.Describe(), "off: scripts run as the agent's own user")
		return
	}
	a := &Activities{Host: "bench-01"}
	_, err := a.scriptUser(1)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, contract.ErrNoIsolation, app.Type())
	require.Contains(t, a.Describe(), "unavailable")
}

// A StopMonitor that arrives before its Monitor has started (a short
// script can end first) is kept: the monitor takes its samples and ends
// as soon as it starts instead of running until the test's timeout.
func TestStopMonitorBeforeMonitorStarts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	batches := b.countingServer(t)
	_, err := b.env.ExecuteActivity(b.acts.StopMonitor, int64(41))
	require.NoError(t, err)

	// The goroutine only reports; the test asserts on its own goroutine.
	type outcome struct {
		res contract.MonitorResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		v, err := b.env.ExecuteActivity(b.acts.Monitor, contract.MonitorInput{TestID: 41, Interval: time.Hour})
		if o.err = err; err == nil {
			o.err = v.Get(&o.res)
		}
		done <- o
	}()
	select {
	case o := <-done:
		require.NoError(t, o.err)
		res := o.res
		require.Equal(t, 2, res.Samples, "the first sample and the last one")
		require.Positive(t, res.Points)
		require.Equal(t, int32(1), batches.Load(), "what it took reached the server")
	case <-time.After(30 * time.Second):
		t.Fatal("the monitor did not end: the early stop was lost")
	}
}

// The last Collect of a test uploads the results directory and removes the
// test's directory; a retry (its answer lost) gets the same result back.
func TestLastCollectUploadsAndCleansUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	files := b.countingServer(t)
	in := b.prepare(t, 52, "#!/bin/sh\necho 'Latency, 7ms' > results.csv\necho hi > notes.txt\n")
	require.Zero(t, b.execute(t, in).ExitCode)

	collect := func() *contract.CollectResult {
		v, err := b.env.ExecuteActivity(b.acts.Collect, contract.CollectInput{TestID: 52, ResultsDir: in.ResultsDir, Upload: true, Cleanup: true})
		require.NoError(t, err)
		var res contract.CollectResult
		require.NoError(t, v.Get(&res))
		return &res
	}
	first := collect()
	require.Equal(t, "Latency", first.KPIs[0].Name)
	require.NotNil(t, first.Upload)
	require.Equal(t, 2, first.Upload.Files, "results.csv and notes.txt")
	require.Equal(t, int32(2), files.Load())
	_, err := os.Stat(in.Dir)
	require.ErrorIs(t, err, os.ErrNotExist, "the test's directory is gone")

	again := collect()
	require.Equal(t, first.KPIs, again.KPIs)
	require.Equal(t, int32(2), files.Load(), "a retry sends nothing twice")
}
