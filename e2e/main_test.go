// Package e2e drives the whole of Pitwall against real services: a real
// Temporal server (the Temporal CLI's dev server), a real PostgreSQL
// cluster, the server over real HTTP, the worker in both roles, real script
// processes and the built starter binary. One of each per package, started
// in TestMain by e2e/stack.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/config"
	"github.com/pitwall/pitwall/internal/supervise"
)

// agentName is the agent of the package's main worker (central and agent
// roles); agent2 and agent3 are further agents on the same machine.
const (
	agentName = "e2e-agent-1"
	agent2    = "e2e-agent-2"
	agent3    = "e2e-agent-3"
)

// maxLogLines is the agents' per-test output cap in this package, and
// artifactMaxFile the server's per-file artifact cap.
const (
	maxLogLines     = 20000
	artifactMaxFile = 1 << 20
)

// st is the running system every test in the package shares.
var st *stack.Stack

// priorityMaxWait is the central worker's promotion limit in this package.
const priorityMaxWait = 5 * time.Second

func TestMain(m *testing.M) {
	// The in-process agents start this binary as their scripts' supervisor.
	supervise.Dispatch()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	var err error
	st, err = stack.Start(context.Background(), stack.Options{
		Name: "e2e", Agents: 3, Labels: config.Labels{"pool": "e2e"},
		MaxLogLines: maxLogLines, ArtifactMaxFile: artifactMaxFile,
		Build: []string{"starter", "cmd/pitwall-supervise"}, Check: checkResponse, Log: log,
		// Tests wait seconds, not minutes, behind higher priorities; tests
		// of one priority (nearly all) never see it.
		PriorityMaxWait: priorityMaxWait,
		// A lease its holder could not give back is mended in seconds.
		LeaseSweepEvery: 2 * time.Second,
		// The tests reach the server as through a proxy on the same host.
		TrustedProxies: "127.0.0.1"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}

// get fetches a URL as the package's admin.
func get(t *testing.T, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+st.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
