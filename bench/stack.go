package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pitwall/pitwall/internal/config"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/ui/server"
	"github.com/pitwall/pitwall/worker/workerapp"
	"github.com/pitwall/pitwall/workflows"
)

// adminToken is the bootstrap token of the suite's private server.
const adminToken = "pwt_bench-bootstrap-token-0123456789abcdef"

// stack is a whole Pitwall started in-process, as the end-to-end tests do:
// a private PostgreSQL cluster, a real Temporal server (the Temporal CLI's dev server), the
// server on a loopback port and workers (one central, n agents).
type stack struct {
	pool   *pgxpool.Pool
	dbURL  string
	url    string
	agents []string
	// agentTokens by agent name, for the ingest endpoints.
	agentTokens map[string]string
	stop        []func()
}

func agentName(i int) string { return fmt.Sprintf("bench-agent-%02d", i+1) }

// startStack starts everything with n agents and waits until /readyz
// reports them online.
func startStack(ctx context.Context, n int) (_ *stack, err error) {
	s := &stack{agentTokens: map[string]string{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	tmp, err := os.MkdirTemp("", "pitwall-bench-")
	if err != nil {
		return nil, err
	}
	s.stop = append(s.stop, func() { os.RemoveAll(tmp) })

	dbURL, stopDB, err := testenv.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	s.stop = append(s.stop, stopDB)
	s.dbURL = dbURL
	if s.pool, err = store.Connect(ctx, dbURL); err != nil {
		return nil, err
	}
	s.stop = append(s.stop, s.pool.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PITWALL_BENCH_VERBOSE") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if err := migrations.Apply(ctx, s.pool, log); err != nil {
		return nil, err
	}
	if _, err := server.Bootstrap(ctx, store.New(s.pool), adminToken, "bench admin password", log); err != nil {
		return nil, err
	}

	ts, err := testenv.Temporal(ctx)
	if err != nil {
		return nil, err
	}
	s.stop = append(s.stop, ts.Stop)
	tc, err := ts.Client(ctx)
	if err != nil {
		return nil, err
	}
	s.stop = append(s.stop, tc.Close)
	if err := workflows.RegisterSearchAttributes(ctx, tc, ts.Namespace()); err != nil {
		return nil, fmt.Errorf("register search attributes: %w", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.url = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: server.New(server.Deps{
		Store: store.New(s.pool), Temporal: tc, PublicURL: s.url, Log: log,
		Namespace: ts.Namespace(), Ctx: ctx,
	})}
	go func() { _ = srv.Serve(ln) }()
	s.stop = append(s.stop, func() { _ = srv.Close() })

	for i := range n {
		name := agentName(i)
		s.agents = append(s.agents, name)
		var out struct {
			Token string `json:"token"`
		}
		if code, err := s.call(ctx, http.MethodPost, "/api/v1/agent-tokens", map[string]string{"agent": name}, &out); err != nil || out.Token == "" {
			return nil, fmt.Errorf("agent token for %s: status %d: %v", name, code, err)
		}
		s.agentTokens[name] = out.Token
	}
	wctx, stopWorkers := context.WithCancel(ctx)
	done := make(chan error, n)
	for i, name := range s.agents {
		roles := []string{workerapp.RoleAgent}
		if i == 0 {
			roles = append(roles, workerapp.RoleCentral)
		}
		cfg := workerapp.Config{
			Roles: roles, Host: name, Labels: config.Labels{"pool": "bench"},
			WorkDir: filepath.Join(tmp, name), DatabaseURL: dbURL, ServerURL: s.url,
			Temporal:       config.Temporal{Address: ts.Address(), Namespace: ts.Namespace()},
			HeartbeatEvery: time.Second, MaxLogLines: 20000, AgentToken: s.agentTokens[name],
		}
		go func() { done <- workerapp.Run(wctx, cfg, log) }()
	}
	// Workers stop before the services they use.
	s.stop = append(s.stop, func() {
		stopWorkers()
		for range n {
			<-done
		}
	})
	return s, s.waitReady(ctx, n, done)
}

func (s *stack) waitReady(ctx context.Context, n int, done chan error) error {
	deadline := time.Now().Add(90 * time.Second)
	want := fmt.Sprintf(`"agents_online":"%d"`, n)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("worker stopped during start-up: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), want) {
				return nil
			}
			last = string(b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("stack not ready after 90s: %s", last)
}

// Close stops everything in reverse order of start.
func (s *stack) Close() {
	for i := len(s.stop) - 1; i >= 0; i-- {
		s.stop[i]()
	}
	s.stop = nil
}

// call sends a JSON request as the admin and decodes the answer into out.
func (s *stack) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string: // a framework file
		rd, ctype = strings.NewReader(b), "application/yaml"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		return 0, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil && len(data) > 0 {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

// apply posts a framework file.
func (s *stack) apply(ctx context.Context, yaml string) error {
	_, err := s.call(ctx, http.MethodPost, "/api/v1/frameworks", yaml, nil)
	return err
}

// submit creates a test and returns it as created.
func (s *stack) submit(ctx context.Context, req wire.RunRequest) (*wire.Test, error) {
	var t wire.Test
	_, err := s.call(ctx, http.MethodPost, "/api/v1/tests", req, &t)
	return &t, err
}

// wait polls a test until it has ended.
func (s *stack) wait(ctx context.Context, id int64, limit time.Duration) (*wire.Test, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var t wire.Test
		if _, err := s.call(ctx, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d", id), nil, &t); err != nil {
			return nil, err
		}
		if wire.Ended(t.State) {
			return &t, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("test %d did not end within %s", id, limit)
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
