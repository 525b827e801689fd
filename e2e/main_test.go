// Package e2e drives the whole of Pitwall against real services: a real
// Temporal server (the Temporal CLI's dev server), a real PostgreSQL cluster, the server over
// real HTTP, the worker in both roles, real script processes and the built
// starter binary. One of each per package, started in TestMain.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/config"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/ui/server"
	"github.com/pitwall/pitwall/worker/workerapp"
	"github.com/pitwall/pitwall/workflows"
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

// stack is the running system every test in the package shares.
var stack struct {
	pool      *pgxpool.Pool
	server    *httptest.Server
	starter   string
	temporal  client.Client
	namespace string
	// token is a site admin's API token; every helper sends it.
	token string
}

// adminToken is the bootstrap token of the package's server.
const adminToken = "pwt_e2e-bootstrap-token-0123456789abcdef"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "e2e set-up: "+format+"\n", args...)
		return 1
	}
	tmp, err := os.MkdirTemp("", "pitwall-e2e-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(tmp)

	// The starter binary builds while the services start.
	stack.starter = filepath.Join(tmp, "starter")
	build := exec.Command("go", "build", "-o", stack.starter, "github.com/pitwall/pitwall/starter")
	var buildOut bytes.Buffer
	build.Stdout, build.Stderr = &buildOut, &buildOut
	if err := build.Start(); err != nil {
		return fail("build starter: %v", err)
	}

	dbURL, stopDB, err := testenv.Postgres(ctx)
	if err != nil {
		return fail("%v", err)
	}
	defer stopDB()
	stack.pool, err = store.Connect(ctx, dbURL)
	if err != nil {
		return fail("%v", err)
	}
	defer stack.pool.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if err := migrations.Apply(ctx, stack.pool, log); err != nil {
		return fail("%v", err)
	}
	stack.token = adminToken
	if _, err := server.Bootstrap(ctx, store.New(stack.pool), adminToken, "e2e admin password", log); err != nil {
		return fail("%v", err)
	}

	ts, err := testenv.Temporal(ctx)
	if err != nil {
		return fail("%v", err)
	}
	defer ts.Stop()
	tc, err := ts.Client(ctx)
	if err != nil {
		return fail("%v", err)
	}
	defer tc.Close()
	stack.temporal = tc
	stack.namespace = ts.Namespace()
	if err := workflows.RegisterSearchAttributes(ctx, tc, stack.namespace); err != nil {
		return fail("register search attributes: %v", err)
	}

	// The listener comes first so the page URLs the API reports are its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail("%v", err)
	}
	stack.server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: server.New(server.Deps{
		Store: store.New(stack.pool), Temporal: tc, PublicURL: "http://" + ln.Addr().String(), Log: log,
		Namespace: ts.Namespace(), Ctx: ctx,
		ArtifactMaxFile: artifactMaxFile, ArtifactMaxTest: 8 * artifactMaxFile,
	})}}
	stack.server.Start()
	defer stack.server.Close()

	agentTokens := map[string]string{}
	for _, name := range []string{agentName, agent2, agent3} {
		if agentTokens[name], err = createAgentToken(name); err != nil {
			return fail("agent token: %v", err)
		}
	}
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 3)
	for i, name := range []string{agentName, agent2, agent3} {
		agentToken := agentTokens[name]
		roles := []string{workerapp.RoleAgent}
		if i == 0 {
			roles = append(roles, workerapp.RoleCentral)
		}
		go func() {
			workerDone <- workerapp.Run(wctx, workerapp.Config{
				Roles:          roles,
				Host:           name,
				Labels:         config.Labels{"pool": "e2e"},
				WorkDir:        filepath.Join(tmp, name),
				DatabaseURL:    dbURL,
				ServerURL:      stack.server.URL,
				Temporal:       config.Temporal{Address: ts.Address(), Namespace: ts.Namespace()},
				HeartbeatEvery: time.Second,
				MaxLogLines:    maxLogLines,
				AgentToken:     agentToken,
			}, log)
		}()
	}
	defer func() {
		stopWorker()
		for range 3 {
			<-workerDone
		}
	}()

	if err := waitReady(ctx, workerDone); err != nil {
		return fail("%v", err)
	}
	if err := build.Wait(); err != nil {
		return fail("build starter: %v\n%s", err, buildOut.String())
	}
	return m.Run()
}

// waitReady waits for /readyz: database, Temporal and the agent all up.
func waitReady(ctx context.Context, workerDone chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-workerDone:
			return fmt.Errorf("worker stopped during start-up: %v", err)
		default:
		}
		resp, err := http.Get(stack.server.URL + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"agents_online":"3"`) {
				return nil
			}
			last = string(b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("stack not ready after 60s: %s", last)
}

// call sends a request to the server and decodes the JSON answer into out,
// returning the status code.
func call(t *testing.T, method, path, contentType string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, stack.server.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+stack.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, req, resp.StatusCode, resp.Header, data)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// applyFramework posts a framework file and fails the test unless it is accepted.
func applyFramework(t *testing.T, yaml string) wire.ApplyResult {
	t.Helper()
	var res wire.ApplyResult
	code := call(t, http.MethodPost, "/api/v1/frameworks", "application/yaml", []byte(yaml), &res)
	if code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("apply framework: status %d", code)
	}
	return res
}

// runTest creates a test and waits until it has ended.
func runTest(t *testing.T, req wire.RunRequest) *wire.Test {
	t.Helper()
	body, _ := json.Marshal(req)
	var created wire.Test
	if code := call(t, http.MethodPost, "/api/v1/tests", "application/json", body, &created); code != http.StatusCreated {
		t.Fatalf("create test: status %d", code)
	}
	return waitTest(t, created.ID)
}

func waitTest(t *testing.T, id int64) *wire.Test {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var got wire.Test
		if code := call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d", id), "", nil, &got); code != http.StatusOK {
			t.Fatalf("get test %d: status %d", id, code)
		}
		if wire.Ended(got.State) {
			return &got
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("test %d did not end within 2 minutes", id)
	return nil
}

// createAgentToken asks the server for an agent's token, as an admin would.
func createAgentToken(agent string) (string, error) {
	body, _ := json.Marshal(map[string]string{"agent": agent})
	req, _ := http.NewRequest(http.MethodPost, stack.server.URL+"/api/v1/agent-tokens", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+stack.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		return "", fmt.Errorf("status %s: %v", resp.Status, err)
	}
	return out.Token, nil
}

// get fetches a URL as the package's admin.
func get(t *testing.T, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+stack.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
