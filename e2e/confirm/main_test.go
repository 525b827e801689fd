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
	"net"
	"os"
	"testing"
	"time"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/notify"
	"github.com/pitwall/pitwall/internal/supervise"
)

var (
	st *stack.Stack
	// inbox is a real SMTP server the central worker sends mail to.
	inbox *stack.Mailbox
)

func TestMain(m *testing.M) {
	supervise.Dispatch()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "smtp listen: %v\n", err)
		return 1
	}
	inbox = stack.NewMailbox(ln)
	defer inbox.Close()
	st, err = stack.Start(ctx, stack.Options{Name: "confirm", Agents: 1, Build: []string{"cmd/pitwall-supervise", "starter"},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SMTP: notify.SMTP{URL: "smtp://pitwall@" + ln.Addr().String() + "?tls=none", Password: "relay password",
			From: "Pitwall <pitwall@example.test>"}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "confirm set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}
