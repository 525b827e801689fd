// Package ingest carries samples and log lines from agents to the server:
// the wire format of the ingest endpoints and a client that retries until
// the server has them (at-least-once; the server writes each batch once).
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Paths of the ingest endpoints.
const (
	SamplesPath = "/api/v1/ingest/samples"
	LogsPath    = "/api/v1/ingest/logs"
	// ArtifactsPath takes one file: ?test_id=&host=&path=, the content as the body.
	ArtifactsPath = "/api/v1/ingest/artifacts"
)

// Header says which test and host a batch belongs to; Batch is its ID,
// the same on every retry, so the server writes it once.
type Header struct {
	TestID int64  `json:"test_id"`
	Host   string `json:"host"`
	Batch  string `json:"batch"`
}

// Target is the batch's header; the server checks the sender's right to
// write for that test and host from the URL, before it reads the body.
func (h Header) Target() Header { return h }

// Query is the header's test and host as URL parameters.
func (h Header) Query() string {
	return url.Values{"test_id": {strconv.FormatInt(h.TestID, 10)}, "host": {h.Host}}.Encode()
}

// Batch is a batch of samples or log lines.
type Batch interface{ Target() Header }

// Samples is one batch of monitor samples from one host, by series.
type Samples struct {
	Header
	Series []Series `json:"series"`
}

// Series is one metric's points: parallel slices of Unix milliseconds and values.
type Series struct {
	Metric string    `json:"metric"`
	TS     []int64   `json:"ts"`
	Values []float64 `json:"values"`
}

// Logs is one batch of output lines of one test.
type Logs struct {
	Header
	Lines []Line `json:"lines"`
}

// DefaultMaxLines is how many output lines a test keeps unless configured
// otherwise: the agent stops sending there, and the server stops storing.
const DefaultMaxLines = 200000

// StreamPitwall is the stream of the lines Pitwall itself adds to a test's
// output, such as the markers that count dropped lines.
const StreamPitwall = "pitwall"

// Line is one line of output.
type Line struct {
	TS     int64  `json:"ts"` // Unix milliseconds
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

// Client posts batches to the server.
type Client struct {
	Server string
	// Token is the agent's token, sent as a Bearer token.
	Token string
	HTTP  *http.Client
	// samplesAt is when the server last accepted a batch of samples
	// (Unix nanoseconds): it counts that as the agent's heartbeat.
	samplesAt atomic.Int64
}

// SamplesAccepted is when the server last accepted a batch of samples
// from this client (the zero time if never). The server records the
// agent as seen with every batch it accepts, so an agent that has shipped
// samples lately need not send its heartbeat too.
func (c *Client) SamplesAccepted() time.Time {
	if ns := c.samplesAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

func (c *Client) authorize(req *http.Request) {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
}

// Send posts one batch, retrying with backoff until the server accepts it
// or ctx ends. A batch the server refuses as bad (4xx) is not retried.
func (c *Client) Send(ctx context.Context, path string, batch Batch) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	target := strings.TrimRight(c.Server, "/") + path + "?" + batch.Target().Query()
	backoff := 100 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		c.authorize(req)
		resp, err := hc.Do(req)
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			switch {
			case resp.StatusCode < 300:
				if path == SamplesPath {
					c.samplesAt.Store(time.Now().UnixNano())
				}
				return nil
			case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
				return fmt.Errorf("server refused batch: %s: %s", resp.Status, bytes.TrimSpace(msg))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// ErrRefused is returned by SendArtifact and SendFile when the server will not take a file
// (over a cap, or bad); its message is the server's reason.
type ErrRefused struct{ Reason string }

func (e *ErrRefused) Error() string { return e.Reason }

// SendFile posts one file as an artifact, retrying until the server has
// it, refuses it (an *ErrRefused), or ctx ends.
func (c *Client) SendFile(ctx context.Context, testID int64, host, relPath, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return c.SendArtifact(ctx, testID, host, relPath, f, st.Size())
}

// SendArtifact posts the first size bytes of content as an artifact, from
// the start on every retry, until the server has it, refuses it (an
// *ErrRefused), or ctx ends. The caller opens the file itself: an agent
// opens a script's files in its own careful way.
func (c *Client) SendArtifact(ctx context.Context, testID int64, host, relPath string, content io.ReaderAt, size int64) error {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	q := url.Values{"test_id": {strconv.FormatInt(testID, 10)}, "host": {host}, "path": {relPath}}
	target := strings.TrimRight(c.Server, "/") + ArtifactsPath + "?" + q.Encode()
	backoff := 100 * time.Millisecond
	for {
		var body io.Reader = http.NoBody
		if size > 0 {
			body = io.NewSectionReader(content, 0, size)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
		if err != nil {
			return err
		}
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
		c.authorize(req)
		resp, err := hc.Do(req)
		if err == nil {
			var e struct {
				Error string `json:"error"`
			}
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			_ = json.Unmarshal(msg, &e)
			switch {
			case resp.StatusCode < 300:
				return nil
			case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
				if e.Error == "" {
					e.Error = resp.Status
				}
				return &ErrRefused{Reason: e.Error}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}
