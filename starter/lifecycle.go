package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pitwall/pitwall/internal/wire"
)

func (c *cli) abortTest(ctx context.Context, args []string) error {
	fs := c.newFlags("abort")
	reason := fs.String("reason", "", "why the test is aborted")
	asJSON := fs.Bool("json", false, "print the test as JSON")
	id, err := parseTestID(fs, args)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(wire.AbortRequest{Reason: *reason})
	var t wire.Test
	if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/abort", id), "application/json", body, &t); err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(t)
	}
	fmt.Fprintf(c.stdout, "test %d: abort requested (state %s)\n", id, t.State)
	return nil
}

// logPage is a page of GET /api/v1/tests/{id}/logs.
type logPage struct {
	wire.List[wire.LogLine]
	Ended bool   `json:"ended"`
	State string `json:"state"`
}

// logs prints a test's output; with -f it follows new lines until the test
// has ended and every line is printed.
func (c *cli) logs(ctx context.Context, args []string) error {
	fs := c.newFlags("logs")
	follow := fs.Bool("f", false, "follow the output until the test ends")
	stamps := fs.Bool("timestamps", false, "print each line's time and stream")
	asJSON := fs.Bool("json", false, "print each line as a JSON object (id, ts, stream, line)")
	id, err := parseTestID(fs, args)
	if err != nil {
		return err
	}
	after := "0"
	// Lines can still arrive shortly after a test ends (agents retry), so a
	// follower reads one more time after it sees the end.
	drained := false
	for {
		var page logPage
		path := fmt.Sprintf("/api/v1/tests/%d/logs?after=%s&limit=5000", id, after)
		if err := c.do(ctx, http.MethodGet, path, "", nil, &page); err != nil {
			return err
		}
		for _, l := range page.Items {
			if *asJSON {
				b, _ := json.Marshal(l)
				fmt.Fprintf(c.stdout, "%s\n", b)
				continue
			}
			if *stamps {
				fmt.Fprintf(c.stdout, "%s %s %s\n", l.TS.Local().Format("15:04:05.000"), l.Stream, l.Line)
			} else {
				fmt.Fprintln(c.stdout, l.Line)
			}
		}
		after = page.Next
		if len(page.Items) == 5000 {
			continue
		}
		if !*follow {
			return nil
		}
		if page.Ended {
			if drained {
				return nil
			}
			drained = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(300 * time.Millisecond):
		}
	}
}
