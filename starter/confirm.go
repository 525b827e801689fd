package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/wire"
)

// list is a flag given several times, or once with commas.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// seriesFlags are the flags confirm and bisect share.
type seriesFlags struct {
	budget   *int
	order    *string
	baseTest *int64
	wait     *bool
	asJSON   *bool
}

func newSeriesFlags(fs *flag.FlagSet) seriesFlags {
	return seriesFlags{
		budget:   fs.Int("budget", 0, "the most pairs of runs (bisect: rounds per step); default the framework's or 10"),
		order:    fs.String("order", "", "abba (default) or random"),
		baseTest: fs.Int64("base-test", 0, "the test whose commit is the baseline; default the newest the verdict compared against"),
		wait:     fs.Bool("wait", false, "wait until it ends; the exit status says what it found"),
		asJSON:   fs.Bool("json", false, "print JSON"),
	}
}

// confirm starts a confirmation of a test's verdict.
func (c *cli) confirm(ctx context.Context, args []string) error {
	fs := c.newFlags("confirm")
	sf := newSeriesFlags(fs)
	var kpis list
	fs.Var(&kpis, "kpi", "a KPI to confirm (repeat, or commas); default those the test regressed on")
	id, err := parseTestID(fs, args)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(wire.ConfirmRequest{Budget: *sf.budget, Order: *sf.order, KPIs: kpis, BaseTest: *sf.baseTest})
	return c.startSeries(ctx, fmt.Sprintf("/api/v1/tests/%d/confirm", id), body, sf)
}

// bisect starts a bisection of a test's regression.
func (c *cli) bisect(ctx context.Context, args []string) error {
	fs := c.newFlags("bisect")
	sf := newSeriesFlags(fs)
	good := fs.String("good", "", "the last good commit; default the baseline test's")
	kpi := fs.String("kpi", "", "the KPI to bisect on; default the first the test regressed on")
	var commits list
	fs.Var(&commits, "commits", "the commits from good to the test's, oldest first (commas, or repeat); default those tested on the branch")
	id, err := parseTestID(fs, args)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(wire.BisectRequest{Good: *good, Commits: commits, KPI: *kpi, Budget: *sf.budget,
		Order: *sf.order, BaseTest: *sf.baseTest})
	return c.startSeries(ctx, fmt.Sprintf("/api/v1/tests/%d/bisect", id), body, sf)
}

func (c *cli) startSeries(ctx context.Context, path string, body []byte, sf seriesFlags) error {
	var s wire.Confirmation
	if err := c.do(ctx, http.MethodPost, path, "application/json", body, &s); err != nil {
		return err
	}
	if *sf.wait {
		for s.State == wire.ConfirmRunning {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/confirmations/%d", s.ID), "", nil, &s); err != nil {
				return err
			}
		}
	}
	if *sf.asJSON {
		if err := c.printJSON(s); err != nil {
			return err
		}
	} else {
		c.printSeries(s)
	}
	if *sf.wait {
		return seriesExit(s)
	}
	return nil
}

// seriesExit is the exit status of an ended series: 0 when no regression
// was confirmed, 1 when one was (or its culprit found), 2 when it could
// not tell, failed or was cancelled.
func seriesExit(s wire.Confirmation) error {
	switch s.State {
	case wire.ConfirmNotConfirmed:
		return nil
	case wire.ConfirmConfirmed, wire.BisectFound, wire.BisectRange:
		return &exitError{ExitRegressed, fmt.Sprintf("%s %d %s: %s", s.Kind, s.ID, s.State, oneLine(s.Reason))}
	}
	return &exitError{ExitTestFailed, fmt.Sprintf("%s %d %s: %s", s.Kind, s.ID, s.State, oneLine(s.Reason))}
}

// seriesShow prints a confirmation or bisection with its runs.
func (c *cli) seriesShow(cmd string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		fs := c.newFlags(cmd)
		asJSON := fs.Bool("json", false, "print JSON")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		id, err := seriesID(cmd, pos)
		if err != nil {
			return err
		}
		var s wire.Confirmation
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/confirmations/%d", id), "", nil, &s); err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(s)
		}
		c.printSeries(s)
		for _, r := range s.Runs {
			vals := make([]string, 0, len(r.Values))
			for _, k := range s.KPIs {
				if v, ok := r.Values[k.Name]; ok {
					vals = append(vals, fmt.Sprintf("%s %.6g", k.Name, v))
				}
			}
			fmt.Fprintf(c.stdout, "  run %d  %s  %-12s  %-9s  %s\n", r.TestID, r.Arm, r.Commit, r.State, strings.Join(vals, ", "))
		}
		return nil
	}
}

// seriesCancel cancels a running confirmation or bisection.
func (c *cli) seriesCancel(cmd string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		fs := c.newFlags(cmd)
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		id, err := seriesID(cmd, pos)
		if err != nil {
			return err
		}
		var s wire.Confirmation
		if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/confirmations/%d/cancel", id), "", nil, &s); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s %d: cancel requested\n", s.Kind, s.ID)
		return nil
	}
}

func seriesID(cmd string, pos []string) (int64, error) {
	if len(pos) != 1 {
		return 0, usageErr("%s needs exactly one confirmation or bisection ID", cmd)
	}
	var id int64
	if _, err := fmt.Sscan(pos[0], &id); err != nil || id <= 0 {
		return 0, usageErr("%s: ID %q is not a positive number", cmd, pos[0])
	}
	return id, nil
}

func (c *cli) printSeries(s wire.Confirmation) {
	fmt.Fprintf(c.stdout, "%s %d of test %d: %s", s.Kind, s.ID, s.TestID, s.State)
	if s.Reason != "" {
		fmt.Fprintf(c.stdout, " (%s)", oneLine(s.Reason))
	}
	fmt.Fprintf(c.stdout, "\n  %s..%s on %s, %d runs, %s\n", s.BaseCommit, s.CandCommit, cmpOr(s.Host, "(no host yet)"), len(s.Runs), s.URL)
	if s.Kind == wire.KindBisect && s.CommitsSource != "" {
		fmt.Fprintf(c.stdout, "  %d commits from %s\n", len(s.Commits), s.CommitsSource)
	}
	if culprit := s.Culprit(); culprit != "" {
		fmt.Fprintf(c.stdout, "  %s\n", culprit)
	}
	if b := s.Bisect; b != nil {
		for _, st := range b.Steps {
			fmt.Fprintf(c.stdout, "  step %-12s %-14s %d runs  %s\n", st.Commit, st.Outcome, st.Runs, oneLine(st.VsGood.Evidence))
		}
	}
	for _, o := range s.Outcomes {
		fmt.Fprintf(c.stdout, "  %s: %s %s %+.2f%% (%.1f%% CI %+.2f..%+.2f%%) after %d pairs\n", o.KPI, o.Decision, o.Verdict,
			o.ChangePct, 100*o.Confidence, o.CILowPct, o.CIHighPct, o.Pairs)
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
