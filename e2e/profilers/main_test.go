// Package profilers runs profilers end to end: a real Pitwall (e2e/stack)
// whose agent runs perf, perf stat and strace beside a CPU-bound Go
// program, the flame graphs on the test page and the differential graph
// on the compare page, in a real Chromium. It needs root, perf and strace
// (.ci/run installs linux-perf and strace).
package profilers

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/supervise"
)

var (
	st *stack.Stack
	// hot is the benchmark binary, where every test user can run it.
	hot string
	// missing says what this machine lacks to profile, if anything.
	missing string
)

func TestMain(m *testing.M) {
	supervise.Dispatch()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	for _, tool := range []string{"perf", "strace"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = tool + " is not installed (apt-get install linux-perf strace)"
		}
	}
	if os.Geteuid() != 0 {
		missing = "profiling other users' processes needs root"
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "profilers: %s\n", missing)
			return 1
		}
		return m.Run() // each test skips, saying why
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pitwall-hot-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "profilers: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	hot = filepath.Join(dir, "hot")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", hot, "./testdata/hot/main.go").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "profilers: build hot: %v\n%s", err, out)
		return 1
	}
	st, err = stack.Start(ctx, stack.Options{Name: "profilers", Agents: 1,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintf(os.Stderr, "profilers set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}

func need(t *testing.T) {
	t.Helper()
	if missing != "" {
		t.Skip(missing)
	}
}

func getenv(name string) string { return os.Getenv(name) }
