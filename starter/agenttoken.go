package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/config"
	"github.com/pitwall/pitwall/internal/wire"
)

// agentToken enrols an agent: it asks the server (as a site admin) for a
// token bound to the agent's host name and writes it, readable by its owner
// alone, where the agent reads it (--agent-token-file). A file that already
// holds a token is kept, so that a deployment can run this on every start.
// The server may still be starting: it is retried until --timeout.
func (c *cli) agentToken(ctx context.Context, args []string) error {
	fs := c.newFlags("agent-token")
	out := fs.String("out", "", "file to write the token to (mode 0600); without it the token is printed")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the server to answer")
	teams := fs.String("teams", "", "comma-separated teams whose tests may use the host (its settings; see --shared)")
	shared := fs.Bool("shared", false, "let every team's tests use the host")
	labels := config.Labels{}
	fs.Var(labels, "label", "label frameworks' execution.labels match, key=value (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return usageErr("agent-token needs exactly one agent host name")
	}
	agent := pos[0]
	// The server may be starting with this command (compose starts both):
	// a call is retried while the server is unreachable, until --timeout.
	deadline := time.Now().Add(*timeout)
	call := func(method, path string, body []byte, into any) error {
		for {
			err := c.do(ctx, method, path, "application/json", body, into)
			var ee *exitError
			unreachable := errors.As(err, &ee) && strings.Contains(ee.msg, "is unreachable")
			if err == nil || !unreachable || time.Now().After(deadline) {
				return err
			}
			select {
			case <-ctx.Done():
				return usageErr("interrupted")
			case <-time.After(time.Second):
			}
		}
	}
	// A host's labels and teams are a site admin's to set: with any of
	// these flags, they are set on every run, token kept or not.
	settle := func() error {
		if *teams == "" && !*shared && len(labels) == 0 {
			return nil
		}
		set := wire.AgentSettings{Labels: labels, Teams: []string{}, Shared: *shared}
		for _, t := range strings.Split(*teams, ",") {
			if t = strings.TrimSpace(t); t != "" {
				set.Teams = append(set.Teams, t)
			}
		}
		body, _ := json.Marshal(set)
		if err := call(http.MethodPut, "/api/v1/agents/"+url.PathEscape(agent)+"/settings", body, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "starter: agent %s: labels %v, teams %v, shared %v\n", agent, set.Labels, set.Teams, set.Shared)
		return nil
	}
	if *out != "" {
		if b, err := os.ReadFile(*out); err == nil && strings.TrimSpace(string(b)) != "" {
			fmt.Fprintf(c.stderr, "starter: %s already holds a token; kept\n", *out)
			return settle()
		}
	}
	body, _ := json.Marshal(map[string]string{"agent": agent})
	var created struct {
		Token string `json:"token"`
	}
	if err := call(http.MethodPost, "/api/v1/agent-tokens", body, &created); err != nil {
		return err
	}
	if err := settle(); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(c.stdout, created.Token)
		return nil
	}
	if err := writeSecret(*out, created.Token+"\n"); err != nil {
		return usageErr("write the token: %v", err)
	}
	fmt.Fprintf(c.stderr, "starter: wrote agent %s's token to %s\n", agent, *out)
	return nil
}

// writeSecret writes a file only its owner may read, through a temporary
// file so that a reader never sees half a token.
func writeSecret(path, data string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
