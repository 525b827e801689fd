// Package multihost runs multi-host tests end to end (docs/multihost.md):
// a real Pitwall (e2e/stack: Temporal, PostgreSQL, the server) with three
// agents on this machine, one playing the system under test and two the
// load generators.
package multihost

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
	st, err = stack.Start(ctx, stack.Options{Name: "multihost", Agents: 3, Build: []string{"cmd/pitwall-supervise"},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintf(os.Stderr, "multihost set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}
