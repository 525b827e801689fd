package supervise

import (
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// schedSample is /proc/PID/sched as a 6.18 kernel writes it.
const schedSample = `cat (28126, #threads: 1)
-------------------------------------------------------------------
se.exec_start                                :      41170584.860913
se.vruntime                                  :           423.229430
se.sum_exec_runtime                          :             0.000000
se.nr_migrations                             :                   17
nr_switches                                  :                    0
nr_voluntary_switches                        :                    0
nr_involuntary_switches                      :                    0
se.load.weight                               :              1048576
policy                                       :                    0
prio                                         :                  120
`

func TestParseSchedMigrations(t *testing.T) {
	t.Parallel()
	n, ok := ParseSchedMigrations([]byte(schedSample))
	require.True(t, ok)
	require.Equal(t, int64(17), n)
	for _, bad := range []string{"", "se.nr_migrations : many\n", "nr_switches : 3\n", "se.nr_migrations 3\n", "se.nr_migrations : -1\n"} {
		_, ok := ParseSchedMigrations([]byte(bad))
		require.False(t, ok, "%q", bad)
	}
	// The live kernel's own file of this process parses, when it has one.
	if b, err := os.ReadFile("/proc/self/sched"); err == nil {
		n, ok := ParseSchedMigrations(b)
		require.True(t, ok, "%s", b)
		require.GreaterOrEqual(t, n, int64(0))
	}
}

// A script that moves itself from CPU to CPU 20 times (taskset) is
// counted at least that many migrations; a sleeping one few. A kernel
// without sched files counts none and says so.
func TestMigrationsOfTheScriptsTree(t *testing.T) {
	t.Parallel()
	_, err := os.Stat("/proc/self/sched")
	has := err == nil
	moving := start(t, `i=0; while [ $i -lt 20 ]; do taskset -p -c 0 $$ >/dev/null; taskset -p -c 1 $$ >/dev/null; i=$((i+1)); done; sleep 1.2`, nil)
	quiet := start(t, `sleep 1.2`, nil)
	m, q := wait(t, moving), wait(t, quiet)
	t.Logf("CPU migrations: %d moving between CPUs, %d sleeping", m.Migrations, q.Migrations)
	require.Equal(t, has, m.MigrationsCounted)
	require.Equal(t, has, q.MigrationsCounted)
	if has && runtime.NumCPU() >= 2 {
		require.GreaterOrEqual(t, m.Migrations, int64(20), "each move to the other CPU is a migration")
	}
	require.Less(t, q.Migrations, int64(20))
}

// readStat gives a process's parent, state, start and thread count, which
// tell the supervisor whether to list a process's threads before reading
// their migrations.
func TestReadStatThreads(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	st, ok := readStat(cmd.Process.Pid)
	require.True(t, ok)
	require.Equal(t, os.Getpid(), st.ppid)
	require.Equal(t, 1, st.threads, "sleep has one thread")
	require.NotZero(t, st.startTicks)
	self, ok := readStat(os.Getpid())
	require.True(t, ok)
	require.Greater(t, self.threads, 1, "a Go test binary has several")
	var m migrations
	m.lookThreads(cmd.Process.Pid, 1)
	m.look(os.Getpid())
	if m.counted {
		require.Contains(t, m.byTask, cmd.Process.Pid, "a single thread is read without listing the task folder")
	}
}
