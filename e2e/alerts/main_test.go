// Package alerts runs alerts and notifications end to end: a real
// Pitwall (e2e/stack: Temporal, PostgreSQL, the server, an agent), a real
// SMTP server (github.com/emersion/go-smtp) receiving the mail, and an
// HTTP receiver checking webhook bodies and signatures.
package alerts

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
	st    *stack.Stack
	inbox *stack.Mailbox
)

const agentName = "alerts-agent-1"

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
	st, err = stack.Start(ctx, stack.Options{Name: "alerts", Agents: 1, Build: []string{"starter"}, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SMTP: notify.SMTP{URL: "smtp://pitwall@" + ln.Addr().String() + "?tls=none", Password: "relay password",
			From: "Pitwall <pitwall@example.test>"}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "alerts set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}
