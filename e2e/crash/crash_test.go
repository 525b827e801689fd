package crash

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/pgcluster"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// The tests here kill shared processes, so they run one at a time.

// kill -9 of the central worker mid-test, then a restart: the test
// finishes correctly.
func TestCentralWorkerKill9(t *testing.T) {
	onlineAgent(t, "crash-central")
	apply(t, `
name: survives-central
execution:
  script: "#!/bin/sh\nsleep 2\necho 'Slept, 2s' > results.csv\n"
  hosts: [crash-central]
`)
	id := run(t, "survives-central")
	waitState(t, id, time.Minute, running)
	st.Central.Kill9()
	time.Sleep(time.Second)
	require.NoError(t, st.Central.Restart())
	got := waitState(t, id, time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Len(t, got.KPIs, 1)
	require.Equal(t, 2.0, got.KPIs[0].Value)
	t.Logf("central worker killed mid-test: test %d ended %s", id, got.State)
}

// kill -9 of the agent 3 s into a 12 s script, then a restart: the
// script's supervisor kept it running, the restarted agent re-attaches,
// and the test finishes with all 12 lines of output and its KPIs.
func TestAgentKill9ReattachesTheScript(t *testing.T) {
	dir := testenv.ScriptDir(t)
	ag := onlineAgent(t, "crash-agent")
	apply(t, fmt.Sprintf(`
name: survives-agent
execution:
  script: |
    #!/bin/sh
    echo $$ > %s/script
    i=1
    while [ $i -le 12 ]; do echo "line $i"; i=$((i + 1)); sleep 1; done
    echo "Lines, 12" > results.csv
  hosts: [crash-agent]
`, dir))
	id := run(t, "survives-agent")
	pid := testenv.ReadPID(t, filepath.Join(dir, "script"))
	time.Sleep(3 * time.Second)
	ag.Kill9()
	killed := time.Now()
	time.Sleep(time.Second)
	require.True(t, testenv.Alive(pid), "the script outlives its agent")
	require.NoError(t, ag.Restart())

	got := waitState(t, id, time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Len(t, got.KPIs, 1)
	require.Equal(t, 12.0, got.KPIs[0].Value)
	require.True(t, hasStage(got, "agent restarted; script re-attached"), "the timeline says so")
	require.True(t, hasStage(got, "monitor stopped on crash-agent"), "its monitor started again")
	lines, distinct := logLines(t, id)
	require.Equal(t, 12, distinct, "every line the script printed is stored")
	require.Equal(t, 12, lines, "and stored once")
	t.Logf("agent killed 3 s into the script: test %d ended %s %s after the kill; timeline:\n%s",
		id, got.State, time.Since(killed).Round(time.Millisecond), timeline(got))

	next := waitState(t, run(t, "survives-agent"), time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, next.State, "the host runs the next test: %s", next.Reason)
	require.False(t, hasStage(next, "agent restarted"))
}

// kill -9 of a script's supervisor: the test fails with a reason that
// names it, nothing the script started is left, and the host is released.
func TestSupervisorKill9FailsTheTest(t *testing.T) {
	dir := testenv.ScriptDir(t)
	onlineAgent(t, "crash-supervisor")
	apply(t, fmt.Sprintf(`
name: loses-supervisor
execution:
  script: |
    #!/bin/sh
    echo $PPID > %[1]s/supervisor
    setsid sleep 303 &
    echo $! > %[1]s/daemon
    echo $$ > %[1]s/script
    sleep 300
  hosts: [crash-supervisor]
`, dir))
	id := run(t, "loses-supervisor")
	script := testenv.ReadPID(t, filepath.Join(dir, "script"))
	daemon := testenv.ReadPID(t, filepath.Join(dir, "daemon"))
	supervisor := testenv.ReadPID(t, filepath.Join(dir, "supervisor"))
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", supervisor))
	require.NoError(t, err)
	require.Equal(t, "pitwall-supervise", filepath.Base(exe), "the agent binary found the small supervisor beside it")
	require.NoError(t, syscall.Kill(supervisor, syscall.SIGKILL))

	got := waitState(t, id, time.Minute, stack.Ended)
	require.Equal(t, wire.StateFailed, got.State)
	require.True(t, strings.HasPrefix(got.Reason, "supervisor lost: "), got.Reason)
	require.Contains(t, got.Reason, fmt.Sprintf("(pid %d)", supervisor))
	waitState(t, id, 30*time.Second, func(x *wire.Test) bool { return hasStage(x, "leases released") })
	require.Eventually(t, func() bool { return !testenv.Alive(script) && !testenv.Alive(daemon) }, 10*time.Second, 50*time.Millisecond,
		"the script %d and its setsid daemon %d end with their supervisor", script, daemon)
	t.Logf("supervisor killed: test %d ended %s (%q)", id, got.State, got.Reason)

	apply(t, `
name: after-supervisor
execution: {script: "#!/bin/sh\necho 'Ok, 1' > results.csv\n", hosts: [crash-supervisor]}
`)
	next := waitState(t, run(t, "after-supervisor"), time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, next.State, next.Reason)
}

// kill -9 of the server while a test streams output and samples: agents
// keep what they have and retry, so once the server is back every line is
// stored exactly once and the samples of the outage are there.
func TestServerKill9LosesNothing(t *testing.T) {
	onlineAgent(t, "crash-server")
	apply(t, `
name: survives-server
execution:
  script: |
    #!/bin/sh
    i=1
    while [ $i -le 80 ]; do echo "line $i"; i=$((i + 1)); sleep 0.05; done
    echo "Lines, 80" > results.csv
  hosts: [crash-server]
statistics: {interval: 100ms}
`)
	id := run(t, "survives-server")
	waitState(t, id, time.Minute, running)
	time.Sleep(500 * time.Millisecond)
	st.Server.Kill9()
	down := time.Now()
	time.Sleep(2 * time.Second)
	up := time.Now()
	require.NoError(t, st.Server.Restart())
	require.NoError(t, st.WaitReady(t.Context(), "/healthz", "", nil))
	got := waitState(t, id, time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)

	ctx := context.Background()
	lines, distinct := logLines(t, id)
	require.Equal(t, 80, distinct, "every line produced is stored")
	require.Equal(t, 80, lines, "and stored once")
	var during int
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT count(*) FROM sample_chunks, unnest(sample_ts(first_ts, dts)) t
		WHERE test_id = $1 AND metric = 'cpu.user' AND t BETWEEN $2 AND $3`, id, down.UnixMilli(), up.UnixMilli()).Scan(&during))
	require.GreaterOrEqual(t, during, 5, "samples taken while the server was down arrive later")
	t.Logf("server killed mid-test: test %d ended %s; %d lines, %d cpu.user samples from the outage", id, got.State, lines, during)
}

// A restart of PostgreSQL mid-test: the test completes.
func TestPostgresRestart(t *testing.T) {
	onlineAgent(t, "crash-pg")
	apply(t, `
name: survives-pg
execution:
  script: "#!/bin/sh\nsleep 2\necho 'Slept, 2s' > results.csv\n"
  hosts: [crash-pg]
`)
	id := run(t, "survives-pg")
	waitState(t, id, time.Minute, running)
	require.NoError(t, st.PG.Stop())
	// /readyz says the database fails, not why (hosts, ports, users).
	code, body := st.Page(t, "/readyz")
	require.Equal(t, 503, code, body)
	require.Contains(t, body, `"database":"failing (see the server log)"`)
	require.NotContains(t, body, "127.0.0.1")
	time.Sleep(time.Second)
	var err error
	st.PG, err = pgcluster.Start(context.Background(), st.PGOptions)
	require.NoError(t, err)
	got := waitState(t, id, time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Len(t, got.KPIs, 1)
	t.Logf("PostgreSQL restarted mid-test: test %d ended %s", id, got.State)
}
