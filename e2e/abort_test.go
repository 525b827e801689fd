package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// Aborting a running test ends it within 2 s, and kills the script's whole
// process group, a child that went into the background, and a daemon that
// left the group with setsid and is named nowhere: the supervisor's cgroup
// holds it all the same.
func TestAbortRunningTestLeavesNoProcess(t *testing.T) {
	t.Parallel()
	dir := testenv.ScriptDir(t)
	st.Apply(t, fmt.Sprintf(`
name: stubborn
execution:
  script: |
    #!/bin/sh
    sleep 300 &
    echo $! > %[1]s/child
    setsid sleep 301 &
    echo $! > %[1]s/escaped
    sleep 302
  hosts: [%[2]s]
`, dir, agent2))
	test := startTest(t, wire.RunRequest{Framework: "stubborn"})
	child := testenv.ReadPID(t, filepath.Join(dir, "child"))
	escaped := testenv.ReadPID(t, filepath.Join(dir, "escaped"))
	require.True(t, testenv.Alive(child))
	require.True(t, testenv.Alive(escaped))

	start := time.Now()
	r := starter(t, "abort", fmt.Sprint(test.ID), "--reason", "wrong parameters")
	require.Equal(t, 0, r.Code, r.Stderr)
	got := waitFor(t, test.ID, "ended", func(x *wire.Test) bool { return wire.Ended(x.State) })
	took := time.Since(start)
	require.Equal(t, wire.StateAborted, got.State)
	require.Equal(t, "aborted: wrong parameters", got.Reason)
	require.Less(t, took, 2*time.Second, "abort ends a running test within 2 s")
	t.Logf("abort of a running test took %s", took)

	require.Eventually(t, func() bool { return !testenv.Alive(child) && !testenv.Alive(escaped) }, 5*time.Second, 20*time.Millisecond,
		"background child %d and escaped process %d must be gone", child, escaped)
	final := waitFor(t, test.ID, "cleaned up", func(x *wire.Test) bool {
		for _, s := range x.Timeline {
			if s.Stage == "leases released" {
				return true
			}
		}
		return false
	})
	stageAt(t, final, "cleaned up")

	again := starter(t, "abort", fmt.Sprint(test.ID))
	require.Equal(t, 3, again.Code)
	require.Contains(t, again.Stderr, "has already ended (aborted)")
}

// Aborting a test that waits for its host ends it at once, and the test
// holding the host is not disturbed.
func TestAbortWaitingTest(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: holds
execution: {script: "#!/bin/sh\nsleep 2\n", hosts: [%s]}
`, agent2))
	holder := startTest(t, wire.RunRequest{Framework: "holds"})
	waitFor(t, holder.ID, "running", func(x *wire.Test) bool { return x.State == wire.StateRunning })
	waiter := startTest(t, wire.RunRequest{Framework: "holds"})
	waitFor(t, waiter.ID, "waiting", func(x *wire.Test) bool { return x.State == wire.StateWaiting })

	start := time.Now()
	require.Equal(t, 0, starter(t, "abort", fmt.Sprint(waiter.ID)).Code)
	got := waitFor(t, waiter.ID, "ended", func(x *wire.Test) bool { return wire.Ended(x.State) })
	require.Equal(t, wire.StateAborted, got.State)
	require.Less(t, time.Since(start), time.Second)
	for _, s := range got.Timeline {
		require.NotEqual(t, wire.StateRunning, s.Stage, "it never ran")
	}
	require.Equal(t, wire.StateFinished, st.Wait(t, holder.ID).State)
}
