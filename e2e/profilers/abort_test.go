package profilers

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// profilersRunning lists the perf and strace processes this stack's agent
// started: their output lies under the stack's folder (perf's -o), or
// they trace the given PIDs (strace).
func profilersRunning(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var found []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(argv) > 1 && (filepath.Base(argv[0]) == "perf" || filepath.Base(argv[0]) == "strace") &&
			strings.Contains(string(b), dir) {
			found = append(found, e.Name()+" "+strings.Join(argv, " "))
		}
	}
	return found
}

// An aborted test's profilers are killed with its script, at once.
func TestAbortKillsProfilers(t *testing.T) {
	need(t)
	st.Apply(t, strings.Replace(strings.Replace(hotFramework, "name: hot\n", "name: hot-abort\n", 1),
		"  - {kind: perf, delay: 500ms}\n", "  - {kind: perf, delay: 500ms}\n  - {kind: perf-stat, name: counters, delay: 500ms}\n", 1))
	test, err := st.Submit(t.Context(), wire.RunRequest{Framework: "hot-abort", Params: map[string]string{"bin": hot, "seconds": "60"}})
	require.NoError(t, err)
	deadline := time.Now().Add(60 * time.Second)
	for len(profilersRunning(t, st.Dir)) < 2 {
		require.True(t, time.Now().Before(deadline), "the profilers never started")
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("running: %v", profilersRunning(t, st.Dir))
	code := st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/abort", test.ID), "application/json",
		[]byte(`{"reason":"profilers must go"}`), nil)
	require.Equal(t, http.StatusAccepted, code)
	got := st.Wait(t, test.ID)
	require.Equal(t, "aborted", got.State)
	require.Eventually(t, func() bool { return len(profilersRunning(t, st.Dir)) == 0 }, 5*time.Second, 50*time.Millisecond,
		"profilers left after the abort: %v", profilersRunning(t, st.Dir))
}
