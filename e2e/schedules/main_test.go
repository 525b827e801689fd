// Package schedules runs Pitwall's scheduled runs end to end: real
// Temporal Schedules (the Temporal CLI's dev server), a real PostgreSQL,
// and the server, central worker, agent and starter as built binaries, so
// a test can kill -9 the server and the worker and start them again.
// Every API answer the tests read is checked against the OpenAPI document.
package schedules

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/proc"
	"github.com/pitwall/pitwall/ui/jsonapi"
)

var (
	st    *stack.Stack
	agent *proc.Proc
)

// agentName is the stack's one agent.
const agentName = "sched-agent-1"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var err error
	st, err = stack.Start(ctx, stack.Options{Name: "sched", Binaries: true, Check: checkResponse,
		Build: []string{"ui", "worker", "starter", "cmd/pitwall-supervise"}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "schedules set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	if agent, err = startAgent(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "schedules agent: %v\n", err)
		return 1
	}
	defer agent.Stop(10 * time.Second)
	return m.Run()
}

// startAgent starts the agent process and waits until the server lists it.
func startAgent(ctx context.Context) (*proc.Proc, error) {
	token, err := st.AgentToken(ctx, agentName)
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(st.Dir, agentName+".token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return nil, err
	}
	p, err := st.Spawn(agentName, "worker", "--role", "agent", "--host", agentName, "--heartbeat", "500ms",
		"--work-dir", filepath.Join(st.Dir, "work-"+agentName), "--agent-token-file", tokenFile)
	if err != nil {
		return nil, err
	}
	return p, st.WaitReady(ctx, "/readyz", `"agents_online":"1"`, func() error {
		if p.Exited() {
			return fmt.Errorf("the agent exited; its log:\n%s", p.Log())
		}
		return nil
	})
}

// The OpenAPI document is loaded once, from the source the server embeds.
var spec struct {
	once   sync.Once
	router routers.Router
	err    error
}

// checkResponse validates one live answer against the OpenAPI document.
func checkResponse(tb testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	tb.Helper()
	spec.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(jsonapi.OpenAPI)
		if err != nil {
			spec.err = err
			return
		}
		doc.Servers = nil
		spec.router, spec.err = legacy.NewRouter(doc)
	})
	require.NoError(tb, spec.err)
	route, params, err := spec.router.FindRoute(req)
	require.NoError(tb, err, "%s %s is not in the OpenAPI document", req.Method, req.URL.Path)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	require.NoError(tb, openapi3filter.ValidateResponse(context.Background(), in),
		"%s %s answered %d with a body the OpenAPI document does not describe: %s", req.Method, req.URL.Path, status, body)
}
