package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/pitwall/pitwall/internal/wire"
)

func (c *cli) frameworkApply(ctx context.Context, args []string) error {
	fs := c.newFlags("framework apply")
	file := fs.String("f", "", "framework file (YAML)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *file == "" || len(pos) > 0 {
		return usageErr("framework apply takes exactly -f FILE.yaml")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return usageErr("read framework file: %v", err)
	}
	var res wire.ApplyResult
	if err := c.do(ctx, http.MethodPost, "/api/v1/frameworks", "application/yaml", data, &res); err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(res)
	}
	what := "unchanged at"
	if res.Changed {
		what = "applied as"
	}
	fmt.Fprintf(c.stdout, "framework %s %s version %d (team %s)\n", res.Framework.Name, what, res.Framework.Version, res.Framework.Team)
	return nil
}

func (c *cli) frameworkList(ctx context.Context, args []string) error {
	fs := c.newFlags("framework list")
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageErr("framework list takes no arguments")
	}
	var list wire.List[wire.FrameworkInfo]
	if err := c.do(ctx, http.MethodGet, "/api/v1/frameworks", "", nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(list)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTEAM\tVERSION\tTITLE")
	for _, f := range list.Items {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", f.Name, f.Team, f.Version, f.Title)
	}
	return tw.Flush()
}

func (c *cli) run(ctx context.Context, args []string) error {
	fs := c.newFlags("run")
	params, tags := pairs{}, pairs{}
	fs.Var(params, "p", "parameter NAME=VALUE (repeatable)")
	fs.Var(tags, "tag", "tag KEY=VALUE (repeatable)")
	req := wire.RunRequest{}
	fs.StringVar(&req.Team, "team", "", "team of the framework (default: default)")
	fs.StringVar(&req.Commit, "commit", "", "commit SHA under test")
	fs.StringVar(&req.Branch, "branch", "", "branch under test")
	pr := fs.Int("pr", 0, "pull request number")
	fs.BoolVar(&req.Baseline, "baseline", false, "mark this test as a baseline")
	fs.StringVar(&req.Priority, "priority", "", "low, normal (default) or high: the order in which the hosts' queues serve the test")
	wait := fs.Bool("wait", false, "wait for the test to end; the exit status tells how it ended")
	compareTo := fs.Int64("compare-to", 0, "judge the test against this test instead of the baseline branch")
	asJSON := fs.Bool("json", false, "print the test as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("run needs exactly one framework name")
	}
	req.Framework = pos[0]
	if len(params) > 0 {
		req.Params = params
	}
	if len(tags) > 0 {
		req.Tags = tags
	}
	if req.Priority != "" && !wire.ValidPriority(req.Priority) {
		return usageErr("--priority must be one of %s", strings.Join(wire.Priorities, ", "))
	}
	if *compareTo < 0 {
		return usageErr("--compare-to must be a test ID")
	} else if *compareTo > 0 {
		req.CompareTo = compareTo
	}
	if *pr < 0 {
		return usageErr("--pr must be a positive number")
	} else if *pr > 0 {
		req.PR = pr
	}
	if err := c.fromCI(fs, &req); err != nil {
		return err
	}
	body, _ := json.Marshal(req)
	var t wire.Test
	if err := c.do(ctx, http.MethodPost, "/api/v1/tests", "application/json", body, &t); err != nil {
		return err
	}
	if !*wait {
		if *asJSON {
			return c.printJSON(t)
		}
		fmt.Fprintf(c.stdout, "test %d %s: %s\n", t.ID, t.State, t.URL)
		return nil
	}
	fmt.Fprintf(c.stderr, "test %d %s: %s\n", t.ID, t.State, t.URL)
	return c.waitFor(ctx, t.ID, *asJSON)
}

func (c *cli) status(ctx context.Context, args []string) error {
	fs := c.newFlags("status")
	asJSON := fs.Bool("json", false, "print the test as JSON")
	id, err := parseTestID(fs, args)
	if err != nil {
		return err
	}
	t, err := c.getTest(ctx, id)
	if err != nil {
		return err
	}
	return c.report(t, *asJSON)
}

func (c *cli) wait(ctx context.Context, args []string) error {
	fs := c.newFlags("wait")
	asJSON := fs.Bool("json", false, "print the test as JSON")
	id, err := parseTestID(fs, args)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, id, *asJSON)
}

// serverGrace is how long waiting rides out an unreachable server (a
// restart) before giving up.
const serverGrace = 2 * time.Minute

// waitFor polls the test until it ends. On a terminal it keeps one line
// up to date (state, elapsed time, last output line); otherwise it prints
// a plain line for each new state. Progress goes to stderr.
func (c *cli) waitFor(ctx context.Context, id int64, asJSON bool) error {
	start := time.Now()
	last := ""
	live := isTerminal(c.stderr)
	var (
		unreachableSince time.Time
		logCursor        = "0"
		lastLine         string
	)
	for {
		t, err := c.getTest(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil:
			if live {
				fmt.Fprintln(c.stderr)
			}
			return usageErr("interrupted while waiting for test %d; it goes on: starter wait %d", id, id)
		case err != nil && strings.Contains(err.Error(), "unreachable"):
			if unreachableSince.IsZero() {
				unreachableSince = time.Now()
				fmt.Fprintf(c.stderr, "\nserver unreachable; retrying for up to %s\n", serverGrace)
			}
			if time.Since(unreachableSince) > serverGrace {
				return err
			}
		case err != nil:
			return err
		default:
			unreachableSince = time.Time{}
			if live {
				var page logPage
				if c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/logs?after=%s&limit=5000", id, logCursor), "", nil, &page) == nil {
					logCursor = page.Next
					if n := len(page.Items); n > 0 {
						lastLine = page.Items[n-1].Line
					}
				}
				line := fmt.Sprintf("test %d  %-9s  %6.1fs", id, t.State, time.Since(start).Seconds())
				if t.State == wire.StateWaiting && t.Reason != "" {
					line += "  " + t.Reason
				} else if lastLine != "" {
					line += "  " + lastLine
				}
				if len(line) > 100 {
					line = line[:99] + "…"
				}
				fmt.Fprintf(c.stderr, "\r\033[K%s", line)
			} else if t.State != last {
				fmt.Fprintf(c.stderr, "%7.1fs  %s\n", time.Since(start).Seconds(), t.State)
			}
			last = t.State
			if wire.Ended(t.State) {
				if live {
					fmt.Fprintln(c.stderr)
				}
				return c.report(t, asJSON)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// report prints a test and returns the error that carries its exit status.
func (c *cli) report(t *wire.Test, asJSON bool) error {
	if asJSON {
		if err := c.printJSON(t); err != nil {
			return err
		}
	} else {
		c.printTest(t)
	}
	return testOutcome(t)
}

// testOutcome is the exit status a test's ending calls for.
func testOutcome(t *wire.Test) error {
	switch {
	case t.State == wire.StateFinished && t.Verdict == wire.VerdictRegressed:
		return &exitError{ExitRegressed, fmt.Sprintf("test %d regressed", t.ID)}
	case t.State == wire.StateFailed || t.State == wire.StateAborted || t.State == wire.StateTimedOut:
		return &exitError{ExitTestFailed, fmt.Sprintf("test %d %s: %s", t.ID, t.State, t.Reason)}
	}
	return nil
}

func (c *cli) printTest(t *wire.Test) {
	fmt.Fprintf(c.stdout, "test %d  framework %s v%d  state %s", t.ID, t.Framework, t.FrameworkVersion, t.State)
	if t.Host != "" {
		fmt.Fprintf(c.stdout, "  host %s", t.Host)
	}
	if t.EndedAt != nil {
		fmt.Fprintf(c.stdout, "  took %s", t.EndedAt.Sub(t.CreatedAt).Round(time.Millisecond))
	}
	fmt.Fprintln(c.stdout)
	if t.Reason != "" {
		fmt.Fprintf(c.stdout, "reason: %s\n", t.Reason)
	}
	if len(t.KPIs) > 0 {
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KPI\tVALUE\tUNIT\tVERDICT")
		for _, k := range t.KPIs {
			fmt.Fprintf(tw, "%s\t%g\t%s\t%s\n", k.Name, k.Value, k.Unit, k.Verdict)
		}
		_ = tw.Flush()
	}
	for _, n := range t.Notes {
		fmt.Fprintf(c.stdout, "note: %s\n", n)
	}
	fmt.Fprintf(c.stdout, "page: %s\n", t.URL)
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
