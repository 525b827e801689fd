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
	"strings"
	"time"
)

// Paths of the ingest endpoints.
const (
	SamplesPath = "/api/v1/ingest/samples"
	LogsPath    = "/api/v1/ingest/logs"
)

// Samples is one batch of monitor samples from one host, by series.
type Samples struct {
	TestID int64    `json:"test_id"`
	Host   string   `json:"host"`
	Batch  string   `json:"batch"`
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
	TestID int64  `json:"test_id"`
	Host   string `json:"host"`
	Batch  string `json:"batch"`
	Lines  []Line `json:"lines"`
}

// Line is one line of output.
type Line struct {
	TS     int64  `json:"ts"` // Unix milliseconds
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

// Client posts batches to the server.
type Client struct {
	Server string
	HTTP   *http.Client
}

// Send posts one batch, retrying with backoff until the server accepts it
// or ctx ends. A batch the server refuses as bad (4xx) is not retried.
func (c *Client) Send(ctx context.Context, path string, batch any) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	url := strings.TrimRight(c.Server, "/") + path
	backoff := 100 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			switch {
			case resp.StatusCode < 300:
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
