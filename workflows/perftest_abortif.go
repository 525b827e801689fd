package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/workflows/contract"
)

// A multi-host test's live threshold (docs/multihost.md, "Aborting on a
// sustained threshold"): while the load runs, PerfTest reads the interval
// histograms each load host has appended to its log since the last look,
// merges them, and aborts the test when the merged percentile stays above
// the rule's abort_above for abort_for.

// versionAbortIf guards the live threshold (only tests with one take it).
const versionAbortIf = "roles-abort-if"

// thresholdPoll is how often the hosts' logs are read: one ReadIntervals
// per host and poll (a 10-minute test with two load hosts adds 1,200
// activities to its history).
const thresholdPoll = time.Second

// watched is a rule that can abort the test and the hosts it reads.
type watched struct {
	rule  framework.MergeRule
	hosts []*roleHost
	// offsets are how far each host's log was read; since is when the
	// merged figure went above the threshold (zero: it is not above).
	offsets []int64
	since   time.Time
}

// watchThresholds starts watching the rules that abort, if any; the
// returned function stops the watch.
func (t *perfTest) watchThresholds(ctx workflow.Context, load []*roleHost) func() {
	var rules []*watched
	for _, r := range t.plan.Roles {
		for _, m := range r.Merge {
			if !m.Aborts() {
				continue
			}
			w := &watched{rule: m}
			for _, h := range load {
				if h.role.Name == r.Name {
					w.hosts = append(w.hosts, h)
				}
			}
			w.offsets = make([]int64, len(w.hosts))
			rules = append(rules, w)
		}
	}
	if len(rules) == 0 || workflow.GetVersion(ctx, versionAbortIf, workflow.DefaultVersion, 1) != 1 {
		return func() {}
	}
	wctx, cancel := workflow.WithCancel(ctx)
	workflow.Go(wctx, func(g workflow.Context) {
		for {
			if workflow.Sleep(g, thresholdPoll) != nil {
				return
			}
			for _, w := range rules {
				if why := t.checkThreshold(g, w); why != "" {
					t.roles.breach = why
					t.stage(g, "threshold breached", why)
					for _, h := range load {
						if !h.exec.IsReady() {
							t.killHost(g, h)
						}
					}
					return
				}
			}
		}
	})
	return cancel
}

// checkThreshold reads what the rule's hosts appended and says why the
// test is to be aborted, or "".
func (t *perfTest) checkThreshold(ctx workflow.Context, w *watched) string {
	futures := make([]contract.Future[*contract.ReadIntervalsResult], len(w.hosts))
	for i, h := range w.hosts {
		in := contract.ReadIntervalsInput{TestID: t.id, ResultsDir: h.setup.ResultsDir, File: w.rule.File, Offset: w.offsets[i]}
		futures[i] = contract.ReadIntervals.Execute(t.agent(ctx, h.host, 10*time.Second, 1), in)
	}
	var encs []string
	for i, f := range futures {
		got, err := f.Result(ctx)
		if err != nil {
			continue
		}
		w.offsets[i] = got.Offset
		encs = append(encs, got.Histograms...)
	}
	// Decoding a histogram is pure (workflowcheck flags the reflection
	// encoding/binary.Read uses on fixed-size header fields).
	v, ok := results.PercentileOf(encs, w.rule.Percentile) //workflowcheck:ignore
	if !ok || ctx.Err() != nil {
		return ""
	}
	now := workflow.Now(ctx)
	if v <= w.rule.AbortAbove {
		w.since = time.Time{}
		return ""
	}
	if w.since.IsZero() {
		w.since = now
	}
	if d := time.Duration(w.rule.AbortFor); now.Sub(w.since) >= d {
		return fmt.Sprintf("%s of the merged load was above %g%s for %s (last %g%s, %d host(s))",
			w.rule.KPI, w.rule.AbortAbove, w.rule.Unit, d, v, w.rule.Unit, len(w.hosts))
	}
	return ""
}
