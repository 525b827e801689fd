// Package github runs Pitwall's GitHub loop end to end without GitHub:
// webhook deliveries are GitHub's own published examples (the npm
// package @octokit/webhooks-examples, checked against
// @octokit/webhooks-schemas), and every request Pitwall sends back is
// recorded by a fake api.github.com that checks it against GitHub's
// official OpenAPI description (@octokit/openapi). The rest is a real
// Pitwall (e2e/stack): Temporal, PostgreSQL, the server and an agent.
package github

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

// agentName is the stack's one agent.
const agentName = "github-agent-1"

func TestMain(m *testing.M) {
	supervise.Dispatch()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	st, err = stack.Start(ctx, stack.Options{Name: "github", Agents: 1, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintf(os.Stderr, "github set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}
