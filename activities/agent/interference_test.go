package agent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Each kind's command line, as argv: values are single arguments, and the
// bound is the generator's own timeout.
func TestGeneratorArgv(t *testing.T) {
	t.Parallel()
	b := 10*time.Second + 300*time.Millisecond
	for _, c := range []struct {
		g    framework.Interference
		want string
	}{
		{framework.Interference{Kind: "cpu"}, "stress-ng --cpu 0 --cpu-load 100 --timeout 11s --metrics-brief"},
		{framework.Interference{Kind: "cpu", Workers: 2, Load: "80%"}, "stress-ng --cpu 2 --cpu-load 80 --timeout 11s --metrics-brief"},
		{framework.Interference{Kind: "memory", Size: "512MiB"}, "stress-ng --vm 1 --vm-bytes 536870912 --vm-keep --timeout 11s --metrics-brief"},
		{framework.Interference{Kind: "memory-bandwidth"}, "stress-ng --stream 0 --timeout 11s --metrics-brief"},
		{framework.Interference{Kind: "memory-bandwidth", Size: "4MiB", Workers: 1}, "stress-ng --stream 1 --stream-l3-size 4194304 --timeout 11s --metrics-brief"},
		{framework.Interference{Kind: "io", Size: "1GiB"}, "stress-ng --hdd 1 --hdd-bytes 1073741824 --temp-path /h --timeout 11s --metrics-brief"},
		{framework.Interference{Kind: "network"}, "iperf3 --client 127.0.0.1 --port 5999 --time 11 --parallel 1 --interval 0"},
		{framework.Interference{Kind: "network", Target: "db-01:5201", Bandwidth: "100M", Workers: 4},
			"iperf3 --client db-01 --port 5201 --time 11 --parallel 4 --interval 0 --bitrate 100M"},
	} {
		require.Equal(t, c.want, strings.Join(generatorArgv(c.g, b, "/h", "127.0.0.1:5999"), " "), "%+v", c.g)
	}
}

// stressOf lists the live stress-ng processes of a user.
func stressOf(t *testing.T, uid uint32) []int {
	t.Helper()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || !strings.HasPrefix(string(comm), "stress-ng") {
			continue
		}
		status, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if strings.Contains(string(status), "\nUid:\t"+strconv.FormatUint(uint64(uid), 10)+"\t") &&
			!strings.Contains(string(status), "\nState:\tZ") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func needGenerators(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"stress-ng", "iperf3"} {
		if _, err := os.Stat("/usr/bin/" + bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed", bin)
			}
			t.Skipf("%s is not installed (apt-get install stress-ng iperf3)", bin)
		}
	}
}

// A generator starts at its offset, runs as the test's user, is stopped
// when the script ends, and says when it ran; one with a duration ends by
// itself; a loopback network generator gets its own iperf3 server.
func TestExecuteRunsAndStopsInterference(t *testing.T) {
	t.Parallel()
	needGenerators(t)
	b := setup(t)
	var mu sync.Mutex
	streams := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var logs ingest.Logs
		if r.URL.Path == ingest.LogsPath && json.NewDecoder(r.Body).Decode(&logs) == nil {
			mu.Lock()
			for _, l := range logs.Lines {
				streams[l.Stream]++
			}
			mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	b.acts.Ingest = &ingest.Client{Server: srv.URL}
	in := b.prepare(t, 31, "#!/bin/sh\nsleep 3\n")
	in.Interference = []framework.Interference{
		{Kind: "cpu", Workers: 1, Load: "10%", Start: framework.Duration(500 * time.Millisecond)},
		{Kind: "network", Duration: framework.Duration(time.Second), Bandwidth: "10M"},
		{Kind: "memory", Size: "8MiB", Start: framework.Duration(time.Hour)},
	}
	r := b.execute(t, in)
	require.Equal(t, 0, r.ExitCode)
	require.Len(t, r.Interference, 3)

	cpu := r.Interference[0]
	require.Equal(t, "cpu", cpu.Kind)
	require.Equal(t, "bench-01", cpu.Host)
	require.Equal(t, "stress-ng", cpu.Command[0])
	require.Equal(t, "script ended", cpu.Why)
	began := cpu.Began.Sub(r.StartedAt)
	// Its process starts a supervisor's start after its time (more on a
	// loaded machine).
	require.InDelta(t, 1.0, began.Seconds(), 0.6, "it starts 500ms after the script")
	require.WithinDuration(t, r.EndedAt, cpu.Stopped, 2*time.Second, "and stops when the script ends")
	require.True(t, cpu.Stopped.After(cpu.Began))

	net := r.Interference[1]
	require.Equal(t, "its duration", net.Why, "a generator with a duration ends by itself: %+v", net)
	require.InDelta(t, 1.0, net.Stopped.Sub(net.Began).Seconds(), 0.5)

	require.True(t, r.Interference[2].Began.IsZero(), "a generator whose start comes after the script's end never starts")
	require.Contains(t, r.Interference[2].Why, "not started")

	mu.Lock()
	t.Logf("log lines by stream: %v", streams)
	require.Positive(t, streams["interference.cpu.stdout"]+streams["interference.cpu.stderr"], "stress-ng's output is in the test's log")
	mu.Unlock()

	u, err := b.acts.scriptUser(31)
	require.NoError(t, err)
	if u != nil {
		require.Empty(t, stressOf(t, u.uid), "no stress-ng of the test is left")
	}
}

// A generator whose program is missing fails the run before the script
// starts, with a reason that names it.
func TestExecuteRefusesMissingGenerator(t *testing.T) {
	b := setup(t)
	in := b.prepare(t, 32, "#!/bin/sh\ntouch ran\n")
	in.Interference = []framework.Interference{{Kind: "cpu"}}
	t.Setenv("PATH", t.TempDir())
	_, err := b.env.ExecuteActivity(b.acts.Execute, in)
	require.Error(t, err)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, contract.ErrInterference, app.Type())
	require.True(t, app.NonRetryable())
	require.Contains(t, err.Error(), "stress-ng is not installed on agent bench-01")
	_, statErr := os.Stat(filepath.Join(in.ResultsDir, "ran"))
	require.ErrorIs(t, statErr, os.ErrNotExist, "the script never ran")
}

// Generators a dead agent left behind are stopped by the next agent's
// sweep once their script is over, and by Kill whoever started them.
func TestSweepStopsLeftoverInterference(t *testing.T) {
	t.Parallel()
	needGenerators(t)
	b := setup(t)
	in := b.prepare(t, 33, "#!/bin/sh\ntrue\n")
	in.Interference = []framework.Interference{{Kind: "cpu", Workers: 1, Load: "5%"}}
	r := &scriptRun{in: in, logName: "script", tag: "script", id: "1-script"}
	r.state = filepath.Join(b.acts.runsDir(33), r.id)
	require.NoError(t, os.MkdirAll(filepath.Dir(r.state), 0o700))
	gr := b.acts.startInterference(r, false)
	require.Eventually(t, func() bool {
		gr.mu.Lock()
		defer gr.mu.Unlock()
		return gr.gens[0].run != nil
	}, 10*time.Second, 20*time.Millisecond)
	gen := gr.gens[0].run
	require.True(t, gen.Alive())

	// The agent that started it is gone (nothing of it in memory): a new
	// one sweeps, and the script run it belonged to is not alive.
	next := &Activities{Host: "bench-01", WorkDir: b.acts.WorkDir}
	next.sweepInterference(33)
	st, ok := gen.Status()
	require.True(t, ok, "the generator was stopped")
	require.True(t, st.Stopped)
	require.Eventually(t, func() bool { return !gen.Alive() }, 5*time.Second, 20*time.Millisecond)

	// While an Execute holds them, the sweep leaves them alone; Kill does not.
	r2 := &scriptRun{in: in, logName: "script", tag: "script", id: "2-script"}
	r2.state = filepath.Join(b.acts.runsDir(33), r2.id)
	gr2 := b.acts.startInterference(r2, false)
	require.Eventually(t, func() bool {
		gr2.mu.Lock()
		defer gr2.mu.Unlock()
		return gr2.gens[0].run != nil
	}, 10*time.Second, 20*time.Millisecond)
	b.acts.sweepInterference(33)
	require.True(t, gr2.gens[0].run.Alive(), "held by a running Execute")
	require.NoError(t, b.acts.Kill(t.Context(), 33))
	st2, ok := gr2.gens[0].run.Status()
	require.True(t, ok && st2.Stopped, "Kill stops it")
	spans := gr2.end(nil)
	require.Len(t, spans, 1)
	require.False(t, spans[0].Began.IsZero())
	_, err := supervise.Open(gr2.gens[0].run.Dir)
	require.NoError(t, err)
}

// Every kind runs with the argv it is given: each, with a duration, ends
// by itself with status 0 ("its duration"), not with a usage error.
func TestEveryKindRuns(t *testing.T) {
	t.Parallel()
	needGenerators(t)
	b := setup(t)
	in := b.prepare(t, 34, "#!/bin/sh\nsleep 4\n")
	d := framework.Duration(1500 * time.Millisecond)
	// Their own --timeout is 3 s (1.5 s to the second above, and one more):
	// the agent stops them at 1.5 s.
	in.Interference = []framework.Interference{
		{Kind: "cpu", Workers: 1, Load: "20%", Duration: d},
		{Kind: "memory", Size: "16MiB", Duration: d},
		{Kind: "memory-bandwidth", Workers: 1, Size: "1MiB", Duration: d},
		{Kind: "io", Size: "4MiB", Duration: d},
		{Kind: "network", Bandwidth: "5M", Workers: 2, Duration: d},
	}
	r := b.execute(t, in)
	require.Len(t, r.Interference, 5)
	for _, s := range r.Interference {
		require.Equal(t, "its duration", s.Why, "%s: %+v", s.Kind, s)
		require.InDelta(t, 1.5, s.Stopped.Sub(s.Began).Seconds(), 0.5, "%s", s.Kind)
	}
}

// A script that runs past its timeout takes its generators with it.
func TestTimedOutScriptStopsInterference(t *testing.T) {
	t.Parallel()
	needGenerators(t)
	b := setup(t)
	in := b.prepare(t, 35, "#!/bin/sh\nsleep 30\n")
	in.Timeout = 2 * time.Second
	in.Interference = []framework.Interference{{Kind: "cpu", Workers: 1, Load: "10%"}}
	r := b.execute(t, in)
	require.True(t, r.TimedOut)
	require.Len(t, r.Interference, 1)
	s := r.Interference[0]
	require.Equal(t, "script ended", s.Why)
	require.WithinDuration(t, r.EndedAt, s.Stopped, 2*time.Second)
	u, err := b.acts.scriptUser(35)
	require.NoError(t, err)
	if u != nil {
		require.Empty(t, stressOf(t, u.uid))
	}
}

// After an agent restart the generators run on with the script; the
// sweep leaves them while the script runs, and the Execute that
// re-attaches takes them over (with when they began), starts those whose
// time came meanwhile, and stops them all at the script's end.
func TestReattachTakesInterferenceOver(t *testing.T) {
	t.Parallel()
	needGenerators(t)
	b := setup(t)
	in := b.prepare(t, 36, "#!/bin/sh\ntrue\n")
	in.Interference = []framework.Interference{
		{Kind: "cpu", Workers: 1, Load: "5%"},
		{Kind: "memory", Size: "8MiB", Start: framework.Duration(1500 * time.Millisecond)},
	}
	r := &scriptRun{in: in, logName: "script", tag: "script", id: "1-script"}
	r.state = filepath.Join(b.acts.runsDir(36), r.id)
	require.NoError(t, os.MkdirAll(filepath.Dir(r.state), 0o700))
	sup, err := b.acts.supervisor()
	require.NoError(t, err)
	script, err := supervise.Start(r.state, supervise.Spec{Path: "/bin/sleep", Args: []string{"30"}, Dir: in.Dir,
		Env: []string{"PATH=" + defaultPath}}, sup[0], sup[1:]...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = script.Stop() })

	gr := b.acts.startInterference(r, false)
	require.Eventually(t, func() bool {
		gr.mu.Lock()
		defer gr.mu.Unlock()
		return gr.gens[0].run != nil
	}, 10*time.Second, 20*time.Millisecond)
	cpu := gr.gens[0].run
	began := gr.gens[0].began
	// The agent stops before the memory generator's time.
	stopping := temporal.NewApplicationError("agent stopping", contract.ErrAgentStopping)
	require.Nil(t, gr.end(stopping))
	require.True(t, cpu.Alive(), "a stopping agent leaves its generators to the next")

	next := &Activities{Host: "bench-01", WorkDir: b.acts.WorkDir}
	next.sweepInterference(36)
	require.True(t, cpu.Alive(), "the sweep leaves generators whose script still runs")

	time.Sleep(1600 * time.Millisecond)
	gr2 := next.startInterference(r, true)
	require.Equal(t, cpu.PID(), gr2.gens[0].run.PID(), "the running generator is taken over")
	require.Eventually(t, func() bool {
		gr2.mu.Lock()
		defer gr2.mu.Unlock()
		return gr2.gens[1].run != nil
	}, 10*time.Second, 20*time.Millisecond, "the one whose time came meanwhile starts")
	require.NoError(t, script.Stop())
	spans := gr2.end(nil)
	require.Len(t, spans, 2)
	require.Equal(t, "script ended", spans[0].Why)
	require.WithinDuration(t, began, spans[0].Began, 500*time.Millisecond, "with when it began under the first agent")
	require.False(t, spans[1].Began.IsZero())
	// Each has written its status; its supervisor exits a moment later.
	require.Eventually(t, func() bool { return !cpu.Alive() && !gr2.gens[1].run.Alive() }, 5*time.Second, 20*time.Millisecond)
}
