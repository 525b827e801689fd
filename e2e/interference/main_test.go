// Package interference runs interference generators end to end: a real
// Pitwall (e2e/stack: Temporal, PostgreSQL, the server, one agent) whose
// agent starts Debian's stress-ng and iperf3 beside the tests' scripts.
package interference

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/supervise"
)

var st *stack.Stack

const agentName = "interference-agent-1"

func TestMain(m *testing.M) {
	supervise.Dispatch()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	for _, bin := range []string{"stress-ng", "iperf3"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				fmt.Fprintf(os.Stderr, "%s is not installed on this CI machine: .ci/run must install it\n", bin)
				return 1
			}
			fmt.Fprintf(os.Stderr, "skipping e2e/interference: %s is not installed (apt-get install stress-ng iperf3)\n", bin)
			return 0
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	st, err = stack.Start(ctx, stack.Options{Name: "interference", Agents: 1, Build: []string{"starter", "cmd/pitwall-supervise"},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintf(os.Stderr, "interference set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}
