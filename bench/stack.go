package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/config"
	"github.com/pitwall/pitwall/internal/wire"
)

func agentName(i int) string { return fmt.Sprintf("bench-agent-%02d", i+1) }

// startStack starts the whole of Pitwall as the end-to-end tests do (a
// private PostgreSQL cluster, the Temporal CLI's dev server, the server on
// a loopback port, a central worker and n agents in-process, their scripts
// supervised by a built pitwall-supervise) and waits
// until /readyz reports the agents online.
func startStack(ctx context.Context, n int) (*stack.Stack, error) {
	var log *slog.Logger
	if os.Getenv("PITWALL_BENCH_VERBOSE") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return stack.Start(ctx, stack.Options{Name: "bench", Agents: n, AgentName: agentName,
		Labels: config.Labels{"pool": "bench"}, MaxLogLines: 20000, Log: log,
		// The supervisor an agent host runs, not the bench binary itself,
		// and the worker the footprint measure runs as an agent process.
		Build: []string{"cmd/pitwall-supervise", "worker"}})
}

// stageAt returns when the test reached a timeline stage.
func stageAt(t *wire.Test, name string) (time.Time, bool) {
	for _, s := range t.Timeline {
		if s.Stage == name {
			return s.At, true
		}
	}
	return time.Time{}, false
}
