package crash

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// hostile is a script that tries, as root's guest, what the agent must not
// let it do: each attempt prints "ALLOWED: ..." or "refused: ...". It
// leaves a setsid daemon no pids file names, and plants links where the
// agent reads and writes: the name the next iteration's results are kept
// under to a file outside, pids to /dev/zero and then to a FIFO, and
// results.csv and a table to a root-only file.
const hostile = `#!/bin/sh
setsid sh -c 'exec sleep 300' < /dev/null > /dev/null 2>&1 &
echo $! > %[1]s/daemon-${PITWALL_ITERATION:-0}
try() { if "$@" > /dev/null 2>&1; then echo "ALLOWED: $*"; else echo "refused: $*"; fi; }
try cat /proc/$PPID/environ
try cat /proc/%[2]d/environ
try cat %[3]s
try ls %[4]s/runs
try kill -0 %[2]d
try cat /etc/shadow
try touch ../planted
try touch /root/planted
env | sort | sed 's/^/env /'
echo "id $(id)"
case "${PITWALL_ITERATION:-0}" in
1)
  echo "Planted, 1" > results.csv
  ln -s %[1]s/outside results.2.csv
  ln -s /dev/zero pids ;;
2)
  echo "Planted, 2" > results.csv
  rm -f pids; mkfifo pids ;;
3)
  rm -f results.csv; ln -s /etc/shadow results.csv
  ln -s /etc/shadow table.csv ;;
esac
%[5]s
`

// A hostile script against the agent binary, as root: it reads nothing of
// the agent's, none of its links is followed, and its setsid daemons are
// gone when the test ends normally and when it times out.
func TestHostileScriptIsContained(t *testing.T) {
	dir := testenv.ScriptDir(t)
	outside := filepath.Join(dir, "outside")
	require.NoError(t, os.WriteFile(outside, []byte("untouched\n"), 0o644))
	ag := onlineAgent(t, "crash-hostile")
	tokenFile := filepath.Join(st.Dir, "crash-hostile.token")
	script := func(tail string) string {
		return fmt.Sprintf(hostile, dir, ag.Pid(), tokenFile, workDir("crash-hostile"), tail)
	}
	yaml := func(name, tail, more string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "name: %s\nexecution:\n  hosts: [crash-hostile]\n%s  script: |\n", name, more)
		for _, l := range strings.Split(script(tail), "\n") {
			b.WriteString("    " + l + "\n")
		}
		return b.String()
	}

	apply(t, yaml("hostile", "", "")+"repeat: 3\n")
	id := run(t, "hostile")
	got := waitState(t, id, time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Contains(t, got.Notes, "results.2.csv: is a symbolic link; results.csv not renamed to it")
	require.Contains(t, got.Notes, "results.csv: is a symbolic link; not read")
	require.Contains(t, got.Notes, "artifact table.csv: is a symbolic link; not kept")
	out := stdout(t, id)
	requireContained(t, out)
	b, err := os.ReadFile(outside)
	require.NoError(t, err)
	require.Equal(t, "untouched\n", string(b), "the link's target is not written")
	for i := 1; i <= 3; i++ {
		daemon := testenv.ReadPID(t, filepath.Join(dir, fmt.Sprintf("daemon-%d", i)))
		require.False(t, testenv.Alive(daemon), "iteration %d's setsid daemon ended with its script", i)
	}
	t.Logf("hostile script: test %d ended %s; notes %q; attempts:\n  %s", id, got.State, got.Notes, strings.Join(attempts(out), "\n  "))

	apply(t, yaml("hostile-slow", "sleep 300", "  timeout: 2s\n"))
	id = run(t, "hostile-slow")
	got = waitState(t, id, time.Minute, stack.Ended)
	require.Equal(t, wire.StateTimedOut, got.State)
	require.Contains(t, got.Reason, "longer than the framework's timeout")
	requireContained(t, stdout(t, id))
	daemon := testenv.ReadPID(t, filepath.Join(dir, "daemon-0"))
	require.False(t, testenv.Alive(daemon), "the setsid daemon ended with the timed-out script")
}

// requireContained checks a hostile script's output: every attempt was
// refused, and nothing of the agent's environment reached it.
func requireContained(t *testing.T, out []string) {
	t.Helper()
	require.NotEmpty(t, attempts(out))
	for _, l := range out {
		require.NotContains(t, l, "ALLOWED")
		require.NotContains(t, l, st.Token)
		require.NotContains(t, l, "admin password")
		require.False(t, strings.HasPrefix(l, "env TEMPORAL_"), l)
		require.False(t, strings.HasPrefix(l, "env PITWALL_TOKEN"), l)
		require.False(t, strings.HasPrefix(l, "env PITWALL_DATABASE_URL"), l)
		if strings.HasPrefix(l, "id ") {
			require.NotContains(t, l, "root", "the script is nobody the host knows")
		}
	}
}

func attempts(out []string) []string {
	var a []string
	for _, l := range out {
		if strings.HasPrefix(l, "refused: ") || strings.HasPrefix(l, "ALLOWED: ") || strings.HasPrefix(l, "id ") {
			a = append(a, l)
		}
	}
	return a
}

// An agent started with --isolation off runs scripts as its own user, and
// says so: on /readyz and on the agents page.
func TestIsolationOffIsShown(t *testing.T) {
	onlineAgent(t, "crash-open", "--isolation", "off")
	code, body := st.Page(t, "/readyz")
	require.Equal(t, 200, code, body)
	var ready struct{ Checks map[string]string }
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	require.Regexp(t, `^scripts not isolated on [1-9]\d* agent\(s\) \(the agents page names them\)$`, ready.Checks["script_isolation"])
	require.Contains(t, st.Server.Log(), "crash-open", "the server's log names the agent")

	code, page := st.Page(t, "/agents")
	require.Equal(t, 200, code)
	row := page[strings.Index(page, `<tr data-agent="crash-open"`):]
	row = row[:strings.Index(row, "</tr>")]
	require.Contains(t, row, "scripts not isolated")
	require.Contains(t, row, "off: scripts run as the agent&#39;s own user (uid 0)")

	apply(t, `
name: open
execution:
  script: "#!/bin/sh\necho \"Uid, $(id -u)\" > results.csv\n"
  hosts: [crash-open]
`)
	got := waitState(t, run(t, "open"), time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Equal(t, 0.0, got.KPIs[0].Value, "the script ran as the agent's own user, root")
	t.Logf("readyz with an agent whose isolation is off: %s", body)
}
