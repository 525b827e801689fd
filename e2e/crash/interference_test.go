package crash

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// stressUnder lists the live stress-ng processes working under dir.
func stressUnder(dir string) []int {
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
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && strings.HasPrefix(cwd, dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// kill -9 of the agent while a script runs with a cpu generator: the
// generator runs on with the script under its own supervisor, is stopped
// when the script ends although no Execute is attached yet, the restarted
// agent reports it, and no stress-ng is left.
func TestAgentKill9KeepsThenStopsInterference(t *testing.T) {
	if _, err := os.Stat("/usr/bin/stress-ng"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("stress-ng is not installed: .ci/run must install it")
		}
		t.Skip("stress-ng is not installed (apt-get install stress-ng)")
	}
	ag := onlineAgent(t, "crash-interference")
	apply(t, `
name: interfered-agent-dies
execution:
  script: "#!/bin/sh\nsleep 8\necho 'Slept, 8' > results.csv\n"
  hosts: [crash-interference]
interference: [{kind: cpu, workers: 1, load: 20%}]
`)
	id := run(t, "interfered-agent-dies")
	dir := workDir("crash-interference")
	require.Eventually(t, func() bool { return len(stressUnder(dir)) > 0 }, 30*time.Second, 50*time.Millisecond, "the generator runs")
	before := stressUnder(dir)
	ag.Kill9()
	time.Sleep(time.Second)
	require.NotEmpty(t, stressUnder(dir), "the generator outlives its agent, as the script does")
	require.NoError(t, ag.Restart())

	got := waitState(t, id, time.Minute, stack.Ended)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.True(t, hasStage(got, "agent restarted; script re-attached"), timeline(got))
	require.True(t, hasStage(got, "interference cpu began"), timeline(got))
	var stopped wire.Stage
	for _, s := range got.Timeline {
		if s.Stage == "interference cpu stopped" {
			stopped = s
		}
	}
	require.Contains(t, stopped.Reason, "script ended", timeline(got))
	// The script ended before the re-attached Execute came back (it waits
	// out the heartbeat timeout): the generator's own supervisor saw it.
	var ended wire.Stage
	for _, s := range got.Timeline {
		if s.Stage == "script ended" {
			ended = s
		}
	}
	require.Less(t, stopped.At.Sub(ended.At), 2*time.Second, "stopped with the script, not when the agent came back")
	require.Eventually(t, func() bool { return len(stressUnder(dir)) == 0 }, 10*time.Second, 50*time.Millisecond,
		"no stress-ng is left: %v", stressUnder(dir))
	t.Logf("stress-ng %v outlived the agent's kill -9 and was stopped at the script's end; timeline:\n%s", before, timeline(got))
}
