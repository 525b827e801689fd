package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/secret"
	"github.com/pitwall/pitwall/internal/wire"
)

// globals are the flags every command takes.
type globals struct {
	server string
	// token is the API token: PITWALL_TOKEN, PITWALL_TOKEN_FILE,
	// --token-file or (exposed to the host's users) --token.
	token  secret.Flag
	getenv func(string) string
	// apiToken is the token once read, and tokenErr why it could not be.
	apiToken *string
	tokenErr error
}

// bearer reads the API token once, warning on stderr when it was given
// on the command line.
func (c *cli) bearer() (string, error) {
	if c.apiToken == nil && c.tokenErr == nil {
		tok, err := c.token.Load(c.getenv)
		c.apiToken, c.tokenErr = &tok, err
		if c.token.Warning != "" {
			fmt.Fprintln(c.stderr, "starter: warning: "+c.token.Warning)
		}
	}
	if c.tokenErr != nil {
		return "", usageErr("%v", c.tokenErr)
	}
	return *c.apiToken, nil
}

// cli carries the settings and outputs of one invocation.
type cli struct {
	*globals
	stdout, stderr io.Writer
	http           *http.Client
}

// do sends a request to the server and decodes a 2xx JSON answer into out.
// Any failure is an exit-3 error with a one-line reason.
func (c *cli) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	base, err := url.Parse(c.server)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return usageErr("server %q is not a URL such as http://127.0.0.1:8080", c.server)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, rd)
	if err != nil {
		return usageErr("%v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	token, err := c.bearer()
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.http
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return usageErr("interrupted")
		}
		return usageErr("server %s is unreachable: %v", c.server, rootCause(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return usageErr("reading the server's answer: %v", err)
	}
	if resp.StatusCode >= 300 {
		var e wire.Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return usageErr("server refused (%s): %s", resp.Status, e.Error)
		}
		return usageErr("server answered %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return usageErr("server's answer is not the JSON expected: %v", err)
	}
	return nil
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func (c *cli) getTest(ctx context.Context, id int64) (*wire.Test, error) {
	var t wire.Test
	if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d", id), "", nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}
