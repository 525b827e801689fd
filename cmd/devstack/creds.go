package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/sealed"
	"github.com/pitwall/pitwall/internal/secret"
)

// credentials are what a fresh dev stack signs in with: a site-admin API
// token (PITWALL_BOOTSTRAP_TOKEN, or one made on the first run and kept in
// .pitwall/bootstrap-token, readable by its owner only) and the admin's
// password (PITWALL_ADMIN_PASSWORD, or a random one shown once).
type credentials struct {
	token         string
	tokenFile     string
	adminPassword string
	firstRun      bool
	// secretsKey is the key file sealing the secrets the server keeps in
	// the database (.pitwall/secrets.key, made on the first run), unless
	// PITWALL_SECRETS_KEY_FILE names one.
	secretsKey string
}

func (s *stack) credentials() (*credentials, error) {
	c := &credentials{tokenFile: filepath.Join(s.opts.dir, "bootstrap-token")}
	t, err := secret.FromEnv("PITWALL_BOOTSTRAP_TOKEN", os.Getenv)
	if err != nil {
		return nil, err
	}
	password, err := secret.FromEnv("PITWALL_ADMIN_PASSWORD", os.Getenv)
	if err != nil {
		return nil, err
	}
	if t != "" {
		if len(t) < 32 {
			return nil, errors.New("PITWALL_BOOTSTRAP_TOKEN must be at least 32 characters")
		}
		c.token = t
	} else if b, err := os.ReadFile(c.tokenFile); err == nil {
		c.token = strings.TrimSpace(string(b))
	} else {
		c.token, _ = auth.NewToken(auth.UserTokenPrefix)
	}
	if err := os.WriteFile(c.tokenFile, []byte(c.token+"\n"), 0o600); err != nil {
		return nil, err
	}
	c.secretsKey = os.Getenv("PITWALL_SECRETS_KEY_FILE")
	if c.secretsKey == "" {
		c.secretsKey = filepath.Join(s.opts.dir, "secrets.key")
		if _, err := os.Stat(c.secretsKey); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(c.secretsKey, []byte(sealed.NewKey()), 0o600); err != nil {
				return nil, err
			}
		}
	}
	marker := filepath.Join(s.opts.dir, "admin-created")
	c.adminPassword = password
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		c.firstRun = true
		if c.adminPassword == "" {
			c.adminPassword = auth.RandomPassword()
		}
		if err := os.WriteFile(marker, []byte("the site admin 'admin' was created on the first run\n"), 0o600); err != nil {
			return nil, err
		}
	} else if c.adminPassword == "" {
		// The admin exists already; this value is never used.
		c.adminPassword = auth.RandomPassword()
	}
	return c, nil
}

// shareHost lets every team's tests use the dev stack's one host, as a
// site admin would with PUT /api/v1/agents/{name}/settings.
func (s *stack) shareHost(ctx context.Context, host, adminToken string) error {
	body, _ := json.Marshal(map[string]any{"shared": true})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+s.opts.listen+"/api/v1/agents/"+host+"/settings", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("share host %s: %w", host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("share host %s: %s %s", host, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// agentToken asks the server for this host's agent token, once it answers.
func (s *stack) agentToken(ctx context.Context, host, adminToken string) (string, error) {
	url := "http://" + s.opts.listen
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, _ := json.Marshal(map[string]string{"agent": host})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v1/agent-tokens", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var out struct {
				Token string `json:"token"`
				Error string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				return out.Token, s.shareHost(ctx, host, adminToken)
			}
			if resp.StatusCode == http.StatusUnauthorized {
				return "", fmt.Errorf("the bootstrap token (%s) no longer works: it was revoked or retired "+
					"(docs/security.md), and the dev stack needs it; `go tool task clean` starts afresh, without the dev stack's data", filepath.Join(s.opts.dir, "bootstrap-token"))
			}
			if resp.StatusCode < 500 {
				return "", fmt.Errorf("agent token refused: %s %s", resp.Status, out.Error)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", fmt.Errorf("the server did not answer within 60s; see %s", filepath.Join(s.logs, "server.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
