package containers_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/containers"
)

// A service's PIDs are its container's processes as the host numbers
// them, which a profiler on the host can watch.
func TestPIDsOfAServiceContainer(t *testing.T) {
	b := setup(t)
	c, err := b.eng.Run(b.ctx, containers.Spec{TestID: b.testID, Name: "busy", Image: b.image,
		Env: map[string]string{"BUSY": "1"}})
	require.NoError(t, err)
	pids, err := b.eng.PIDs(b.ctx, b.testID, "busy")
	require.NoError(t, err)
	require.NotEmpty(t, pids)
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pids[0]), "exe"))
	require.NoError(t, err)
	require.Equal(t, "/echo", exe, "the container's own program (its path inside the container)")
	require.NotEqual(t, os.Getpid(), pids[0])
	require.NotEmpty(t, c.ID)

	// perf on the host samples the container's processes and reads their
	// symbols from the container's own files.
	if _, err := exec.LookPath("perf"); err == nil && os.Geteuid() == 0 {
		ids := make([]string, len(pids))
		for i, p := range pids {
			ids[i] = strconv.Itoa(p)
		}
		data := filepath.Join(t.TempDir(), "perf.data")
		out, err := exec.Command("perf", "record", "-F", "99", "-g", "--no-buildid", "--no-buildid-cache", "-o", data,
			"-p", strings.Join(ids, ","), "--", "sleep", "1").CombinedOutput()
		require.NoError(t, err, "%s", out)
		script, err := exec.Command("perf", "script", "-i", data).Output()
		require.NoError(t, err)
		require.Contains(t, string(script), "main.main.func1", "the busy goroutine's function, resolved from the image's binary")
	}

	_, err = b.eng.PIDs(b.ctx, b.testID, "nope")
	require.ErrorContains(t, err, "container nope")
}
