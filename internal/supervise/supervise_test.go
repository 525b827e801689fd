package supervise

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMain doubles as the supervisor: the worker binary's subcommand in
// production, this test binary re-executed here.
func TestMain(m *testing.M) {
	Dispatch()
	os.Exit(m.Run())
}

// run is one supervised script of a test: its handle and its working directory.
type run struct {
	*Run
	work string
}

// start supervises a /bin/sh script in a fresh directory any user may write.
func start(t *testing.T, script string, mod func(*Spec)) run {
	t.Helper()
	work := t.TempDir()
	require.NoError(t, os.Chmod(work, 0o777))
	require.NoError(t, os.Chmod(filepath.Dir(work), 0o755))
	spec := Spec{Path: "/bin/sh", Args: []string{"-c", script}, Dir: work,
		Env: []string{"PATH=/usr/bin:/bin", "WORK=" + work}, KillGrace: time.Second}
	if mod != nil {
		mod(&spec)
	}
	cmd, err := Command()
	require.NoError(t, err)
	r, err := Start(filepath.Join(t.TempDir(), "state"), spec, cmd[0], cmd[1:]...)
	require.NoError(t, err)
	return run{r, work}
}

func wait(t *testing.T, r run) *Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := r.Wait(ctx)
	require.NoError(t, err)
	return st
}

func gone(pid int) bool {
	st, ok := readStat(pid)
	return !ok || st.state == 'Z'
}

// pidFrom waits for the script to write a PID into a file of its directory.
func pidFrom(t *testing.T, r run, name string) int {
	t.Helper()
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(filepath.Join(r.work, name))
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	return pid
}

// daemon is a script line that starts a setsid daemon the script does not
// wait for, and writes its PID to the file daemon.
const daemon = `setsid sh -c 'echo $$ > "$WORK/daemon"; exec sleep 1000' </dev/null >/dev/null 2>&1 & `

func TestExitStatusOutputAndUsage(t *testing.T) {
	t.Parallel()
	r := start(t, `echo out; echo err >&2; i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; exit 3`, nil)
	st := wait(t, r)
	require.Equal(t, 3, st.ExitCode)
	require.False(t, st.TimedOut || st.Stopped)
	out, _ := os.ReadFile(filepath.Join(r.Dir, StdoutFile))
	errOut, _ := os.ReadFile(filepath.Join(r.Dir, StderrFile))
	require.Equal(t, "out\n", string(out))
	require.Equal(t, "err\n", string(errOut))
	require.Positive(t, st.UserCPU+st.SystemCPU)
	require.False(t, r.Alive())
}

// The peak resident set is the script's own: a shell holding 40 MB shows
// about that, a sleeping shell a few MiB, not the supervisor's size.
func TestPeakRSSIsTheScripts(t *testing.T) {
	t.Parallel()
	holding, sleeping := start(t, `x=$(head -c 40000000 /dev/zero | tr '\0' a); sleep 2.5; echo ${#x}`, nil), start(t, `sleep 2.5`, nil)
	big, small := wait(t, holding), wait(t, sleeping)
	const mib = 1 << 20
	t.Logf("peak RSS: %.1f MiB holding 40 MB, %.1f MiB sleeping", float64(big.MaxRSS)/mib, float64(small.MaxRSS)/mib)
	require.Greater(t, big.MaxRSS, int64(38*mib))
	require.Less(t, big.MaxRSS, int64(200*mib))
	require.Positive(t, small.MaxRSS)
	require.Less(t, small.MaxRSS, int64(8*mib))
}

func TestSetsidDaemonDoesNotOutliveTheScript(t *testing.T) {
	t.Parallel()
	r := start(t, daemon+`while [ ! -s "$WORK/daemon" ]; do sleep 0.01; done; exit 0`, nil)
	st := wait(t, r)
	require.Equal(t, 0, st.ExitCode)
	require.GreaterOrEqual(t, st.Leftover, 1)
	pid := pidFrom(t, r, "daemon")
	require.True(t, gone(pid), "the setsid daemon outlived its script")
	// The daemon is among the processes seen, by its PID: its command is
	// sleep, or still sh when the script ended before the daemon's exec.
	seen := map[int]string{}
	for _, p := range st.Processes {
		seen[p.PID] = p.Command
	}
	require.Contains(t, []string{"sleep", "sh"}, seen[pid], "the daemon (PID %d) among the processes seen: %v", pid, st.Processes)
}

func TestStopKillsTheWholeTree(t *testing.T) {
	t.Parallel()
	r := start(t, daemon+`exec sleep 1000`, nil)
	d := pidFrom(t, r, "daemon")
	require.NoError(t, r.Stop())
	st := wait(t, r)
	require.True(t, st.Stopped)
	require.Equal(t, "killed", st.Signal)
	require.True(t, gone(d))
}

func TestTimeoutTermsThenKills(t *testing.T) {
	t.Parallel()
	// The script ignores SIGTERM: SIGKILL follows after the grace.
	r := start(t, `trap '' TERM; `+daemon+`while :; do sleep 0.05; done`, func(s *Spec) {
		s.Timeout, s.KillGrace = 300*time.Millisecond, 200*time.Millisecond
	})
	d := pidFrom(t, r, "daemon")
	st := wait(t, r)
	require.True(t, st.TimedOut)
	require.Equal(t, 128+int(syscall.SIGKILL), st.ExitCode)
	require.True(t, gone(d))
}

func TestReattachAfterTheAgentForgetsTheRun(t *testing.T) {
	t.Parallel()
	r := start(t, `sleep 0.5; echo done`, nil)
	again, err := Open(r.Dir)
	require.NoError(t, err)
	require.True(t, again.Alive())
	st, err := again.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, 0, st.ExitCode)
}

func TestSupervisorKilledIsLostAndReaped(t *testing.T) {
	t.Parallel()
	r := start(t, daemon+`exec sleep 1000`, nil)
	d := pidFrom(t, r, "daemon")
	require.NoError(t, syscall.Kill(r.PID(), syscall.SIGKILL))
	_, err := r.Wait(context.Background())
	require.ErrorIs(t, err, ErrLost)
	if r.id.Cgroup == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no cgroup v2 hierarchy on this CI machine: a lost supervisor's daemons cannot be found")
		}
		t.Skip("no cgroup v2 hierarchy here: a lost supervisor's daemons cannot be found")
	}
	r.Reap()
	require.Eventually(t, func() bool { return gone(d) }, 5*time.Second, 10*time.Millisecond)
}

func TestRunsAsTheGivenUserWithoutGroups(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root; this test needs root to change user")
		}
		t.Skip("needs root to change user")
	}
	r := start(t, `id -u; id -G`, func(s *Spec) { s.Credential, s.UID, s.GID = true, 65534, 65534 })
	st := wait(t, r)
	require.Equal(t, 0, st.ExitCode)
	out, _ := os.ReadFile(filepath.Join(r.Dir, StdoutFile))
	require.Equal(t, "65534\n65534\n", string(out))
}

func TestBadProgramIsAClearError(t *testing.T) {
	t.Parallel()
	cmd, err := Command()
	require.NoError(t, err)
	_, err = Start(filepath.Join(t.TempDir(), "state"), Spec{Path: "/no/such/script", Dir: t.TempDir()}, cmd[0], cmd[1:]...)
	require.ErrorContains(t, err, "/no/such/script")
}

// The spec reaches the supervisor whole on its pipe, even one larger than
// a pipe's buffer, and the state directory keeps only what a re-attach
// and the log shipper read: the supervisor's identity, the output and
// the status.
func TestSpecOnAPipeAndFourFilesOfState(t *testing.T) {
	t.Parallel()
	// 300 KiB in three variables (one may hold 128 KiB at most).
	big := strings.Repeat("x", 100<<10)
	r := start(t, `printf '%s' "$BIG1$BIG2$BIG3" | wc -c`, func(s *Spec) {
		s.Env = append(s.Env, "BIG1="+big, "BIG2="+big, "BIG3="+big)
	})
	require.Equal(t, 0, wait(t, r).ExitCode)
	out, err := os.ReadFile(filepath.Join(r.Dir, StdoutFile))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(3*len(big)), strings.TrimSpace(string(out)))
	entries, err := os.ReadDir(r.Dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{supervisorFile, statusFile, StdoutFile, StderrFile}, names)
}

// The script gets its standard input, output and error and no other
// file of the supervisor's: not the pipes from the agent, nor what the
// agent's own process inherited (this test binary gets files from go
// test that are not close-on-exec).
func TestScriptInheritsOnlyItsStandardFiles(t *testing.T) {
	t.Parallel()
	r := start(t, `ls -l /proc/$$/fd`, nil) // sh execs ls: $$ is ls
	require.Equal(t, 0, wait(t, r).ExitCode)
	out, err := os.ReadFile(filepath.Join(r.Dir, StdoutFile))
	require.NoError(t, err)
	var fds []string
	for _, line := range strings.Split(string(out), "\n") {
		before, target, ok := strings.Cut(line, " -> ")
		if !ok || strings.HasPrefix(target, "/proc/") { // ls's own listing
			continue
		}
		f := strings.Fields(before)
		fds = append(fds, f[len(f)-1]+" "+target)
	}
	require.Len(t, fds, 3, "%q", fds)
	for i, want := range []string{"0 /dev/null", "1 " + filepath.Join(r.Dir, StdoutFile), "2 " + filepath.Join(r.Dir, StderrFile)} {
		require.Equal(t, want, fds[i])
	}
}

// A script still open for writing somewhere (a process the agent forked
// while writing it, until that process's exec) cannot be run: ETXTBSY.
// The supervisor tries again and runs it once the writer is gone.
func TestScriptBusyForAMomentStillRuns(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "script")
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\nexit 7\n"), 0o755))
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	time.AfterFunc(40*time.Millisecond, func() { w.Close() })
	cmd, err := Command()
	require.NoError(t, err)
	r, err := Start(filepath.Join(t.TempDir(), "state"), Spec{Path: path, Dir: t.TempDir()}, cmd[0], cmd[1:]...)
	require.NoError(t, err)
	require.Equal(t, 7, wait(t, run{r, ""}).ExitCode)
}

// BenchmarkSupervisorCost reports what a supervisor costs its host while a
// script runs: its CPU time per second of the run and its peak RSS, for a
// script of one process and for one of 100 (the supervisor looks at every
// process of the tree once a second).
func BenchmarkSupervisorCost(b *testing.B) {
	cmd, err := Command()
	require.NoError(b, err)
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("processes=%d", n), func(b *testing.B) {
			script := fmt.Sprintf("i=1; while [ $i -lt %d ]; do sleep 4 & i=$((i+1)); done; sleep 4", n)
			const run = 3 * time.Second
			var cpu, rss float64
			for i := 0; i < b.N; i++ {
				r, err := Start(filepath.Join(b.TempDir(), "state"), Spec{Path: "/bin/sh", Args: []string{"-c", script}, Dir: b.TempDir()}, cmd[0], cmd[1:]...)
				require.NoError(b, err)
				before := cpuNanos(r.PID())
				time.Sleep(run)
				cpu += float64(cpuNanos(r.PID())-before) / 1e6 / run.Seconds()
				rss += float64(peakRSS(r.PID())) / 1024
				require.NoError(b, r.Stop())
				_, err = r.Wait(context.Background())
				require.NoError(b, err)
			}
			b.ReportMetric(cpu/float64(b.N), "cpu-ms/s")
			b.ReportMetric(rss/float64(b.N), "peak-rss-MiB")
		})
	}
}

// cpuNanos is the time all of a process's threads have spent on a CPU,
// in nanoseconds (the first field of each /proc/PID/task/*/schedstat).
func cpuNanos(pid int) uint64 {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	var total uint64
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		if f := strings.Fields(string(b)); len(f) > 0 {
			n, _ := strconv.ParseUint(f[0], 10, 64)
			total += n
		}
	}
	return total
}

// benchSupervisor is the supervisor a benchmark starts: SUPERVISOR_EXE
// (pitwall-supervise) when set, else this test binary.
func benchSupervisor(b *testing.B) []string {
	if exe := os.Getenv("SUPERVISOR_EXE"); exe != "" {
		return []string{exe, Subcommand}
	}
	cmd, err := Command()
	require.NoError(b, err)
	return cmd
}

// BenchmarkStart is the time from Start to the script running: what the
// supervisor adds to every script's start, beside its binary's own start-up.
func BenchmarkStart(b *testing.B) {
	cmd := benchSupervisor(b)
	for i := 0; i < b.N; i++ {
		r, err := Start(filepath.Join(b.TempDir(), "state"), Spec{Path: "/bin/true", Dir: b.TempDir()}, cmd[0], cmd[1:]...)
		require.NoError(b, err)
		b.StopTimer()
		_, err = r.Wait(context.Background())
		require.NoError(b, err)
		b.StartTimer()
	}
}

// BenchmarkRunCPU is the CPU a whole run of a script that exits at once
// costs: supervised (the supervisor and the script, as children, and the
// agent's side, this process) against the same script started directly.
// SUPERVISOR_EXE names the supervisor to measure (pitwall-supervise;
// default this test binary, which starts slower). On a file system that
// must skip recently freed inodes (ext4 without a journal) the files a
// run creates weigh on both sides (docs/performance.md, "What a
// supervised run costs").
func BenchmarkRunCPU(b *testing.B) {
	cmd := benchSupervisor(b)
	for _, supervised := range []bool{false, true} {
		b.Run(fmt.Sprintf("supervised=%t", supervised), func(b *testing.B) {
			dir := b.TempDir()
			script := filepath.Join(dir, "exit0")
			require.NoError(b, os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755))
			children, self := cpuOf(syscall.RUSAGE_CHILDREN), cpuOf(syscall.RUSAGE_SELF)
			for i := 0; i < b.N; i++ {
				if !supervised {
					require.NoError(b, exec.Command(script).Run())
					continue
				}
				r, err := Start(filepath.Join(dir, "state"+strconv.Itoa(i)), Spec{Path: script, Dir: dir}, cmd[0], cmd[1:]...)
				require.NoError(b, err)
				_, err = r.Wait(context.Background())
				require.NoError(b, err)
				<-r.exited // reaped: its CPU is counted
			}
			b.ReportMetric((cpuOf(syscall.RUSAGE_CHILDREN)-children).Seconds()*1000/float64(b.N), "children-cpu-ms/run")
			b.ReportMetric((cpuOf(syscall.RUSAGE_SELF)-self).Seconds()*1000/float64(b.N), "self-cpu-ms/run")
		})
	}
}

// cpuOf is the user and system CPU time getrusage reports for who.
func cpuOf(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
