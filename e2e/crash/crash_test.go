package crash

import (
	"context"
	"fmt"
	"path/filepath"
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

// kill -9 of the agent running the script: the test fails as "agent lost"
// within the heartbeat timeout, its lease is released, the restarted agent
// ends the script it left behind, and later tests on the host run.
func TestAgentKill9(t *testing.T) {
	dir := t.TempDir()
	ag := onlineAgent(t, "crash-agent")
	apply(t, fmt.Sprintf(`
name: loses-agent
execution:
  script: "#!/bin/sh\necho $$ > %s/script\nsleep 300\n"
  hosts: [crash-agent]
`, dir))
	id := run(t, "loses-agent")
	waitState(t, id, time.Minute, running)
	pid := testenv.ReadPID(t, filepath.Join(dir, "script"))

	killed := time.Now()
	ag.Kill9()
	got := waitState(t, id, time.Minute, stack.Ended)
	took := time.Since(killed)
	require.Equal(t, wire.StateFailed, got.State)
	require.Equal(t, "agent lost: crash-agent stopped answering", got.Reason)
	t.Logf("agent killed mid-test: test %d ended %s (%q) %s after the kill", id, got.State, got.Reason, took.Round(time.Millisecond))
	waitState(t, id, 30*time.Second, func(x *wire.Test) bool { return hasStage(x, "leases released") })

	require.True(t, testenv.Alive(pid), "the script outlived its agent")
	require.NoError(t, ag.Restart())
	st.WaitAgentOnline(t, "crash-agent")
	require.Eventually(t, func() bool { return !testenv.Alive(pid) }, 10*time.Second, 50*time.Millisecond,
		"the restarted agent ends the script its previous run left behind")

	apply(t, `
name: after-agent
execution: {script: "#!/bin/sh\necho 'Ok, 1' > results.csv\n", hosts: [crash-agent]}
`)
	next := waitState(t, run(t, "after-agent"), time.Minute, stack.Ended)
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
	var lines, distinct int
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT line) FROM test_logs
		WHERE test_id = $1 AND stream = 'stdout'`, id).Scan(&lines, &distinct))
	require.Equal(t, 80, distinct, "every line produced is stored")
	require.Equal(t, 80, lines, "and stored once")
	var during int
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT count(*) FROM sample_chunks, unnest(ts) t
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
	time.Sleep(time.Second)
	var err error
	st.PG, err = pgcluster.Start(context.Background(), st.PGOptions)
	require.NoError(t, err)
	got := waitState(t, id, time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Len(t, got.KPIs, 1)
	t.Logf("PostgreSQL restarted mid-test: test %d ended %s", id, got.State)
}
