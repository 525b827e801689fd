// Package confirm runs confirmations end to end (docs/confirmation.md): a
// real Pitwall (e2e/stack: Temporal, PostgreSQL, the server, one agent)
// confirms a test's regression by interleaved runs of two commits of a
// script whose figure depends on PITWALL_COMMIT, with noise of a known
// size.
package confirm

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/supervise"
)

var st *stack.Stack

func TestMain(m *testing.M) {
	supervise.Dispatch()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	st, err = stack.Start(ctx, stack.Options{Name: "confirm", Agents: 1, Build: []string{"cmd/pitwall-supervise", "starter"},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintf(os.Stderr, "confirm set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}
