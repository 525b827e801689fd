package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// agent-token writes the token the server made to a file only its owner
// reads, and keeps a file that already holds one (a deployment runs it on
// every start).
func TestAgentTokenWritesAFileOnce(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "Bearer admin-token", r.Header.Get("Authorization"))
		require.Equal(t, "/api/v1/agent-tokens", r.URL.Path)
		var req map[string]string
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		require.Equal(t, "agent-1", req["agent"])
		calls.Add(1)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": 7, "token": "pwa_secret", "agent": "agent-1"})
	}))
	t.Cleanup(srv.Close)
	out := filepath.Join(t.TempDir(), "agent-token")
	env := map[string]string{"PITWALL_SERVER": srv.URL, "PITWALL_TOKEN": "admin-token"}

	o := runIn([]string{"agent-token", "agent-1", "--out", out}, env)
	require.Equal(t, ExitOK, o.code, o.stderr)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "pwa_secret\n", string(b))
	info, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.Empty(t, o.stdout, "the token is not printed when it goes to a file")

	o = runIn([]string{"agent-token", "agent-1", "--out", out}, env)
	require.Equal(t, ExitOK, o.code, o.stderr)
	require.Contains(t, o.stderr, "kept")
	require.Equal(t, int32(1), calls.Load())
}

// A refusal (not a site admin, say) is not retried: exit 3 with the reason.
func TestAgentTokenRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":"only site admins create agent tokens"}`))
	}))
	t.Cleanup(srv.Close)
	o := runIn([]string{"agent-token", "agent-1", "--timeout", "1m"}, map[string]string{"PITWALL_SERVER": srv.URL})
	require.Equal(t, ExitUsage, o.code)
	require.Contains(t, o.stderr, "only site admins")
}

// With --shared, --teams or --label, agent-token also sets the host's
// settings (a site admin's), on every run, token kept or not.
func TestAgentTokenSetsTheHostsSettings(t *testing.T) {
	t.Parallel()
	var settings []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/agent-tokens":
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"id": 7, "token": "pwa_secret", "agent": "agent-1"})
		case "/api/v1/agents/agent-1/settings":
			require.Equal(t, http.MethodPut, r.Method)
			b, _ := io.ReadAll(r.Body)
			settings = append(settings, string(b))
			_, _ = w.Write(b)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	t.Cleanup(srv.Close)
	out := filepath.Join(t.TempDir(), "agent-token")
	env := map[string]string{"PITWALL_SERVER": srv.URL, "PITWALL_TOKEN": "admin-token"}
	for range 2 {
		o := runIn([]string{"agent-token", "agent-1", "--teams", "alpha, beta", "--label", "pool=compose", "--out", out}, env)
		require.Equal(t, ExitOK, o.code, o.stderr)
	}
	want := `{"labels":{"pool":"compose"},"teams":["alpha","beta"],"shared":false}`
	require.Equal(t, []string{want, want}, settings)
}

// With a token kept from an earlier start, the settings call still waits
// for a server that starts after the command (compose starts both): it is
// retried while the server is unreachable.
func TestAgentTokenKeptWaitsForTheServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens yet
	out := filepath.Join(t.TempDir(), "agent-token")
	require.NoError(t, os.WriteFile(out, []byte("pwa_kept\n"), 0o600))

	var settings atomic.Int32
	go func() {
		time.Sleep(1500 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			settings.Add(1)
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
		})}
		t.Cleanup(func() { _ = srv.Close() })
		_ = srv.Serve(ln)
	}()
	o := runIn([]string{"agent-token", "agent-1", "--shared", "--out", out, "--timeout", "30s"},
		map[string]string{"PITWALL_SERVER": "http://" + addr, "PITWALL_TOKEN": "admin-token"})
	require.Equal(t, ExitOK, o.code, o.stderr)
	require.Contains(t, o.stderr, "kept")
	require.Equal(t, int32(1), settings.Load())
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "pwa_kept\n", string(b))
}
