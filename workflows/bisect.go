package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Bisect finds the first bad commit between a good and a bad end
// (docs/confirmation.md): internal/confirm's Bisection says which runs to
// make, in rounds of the good end, the step's middle commit and the bad
// end, interleaved; each run is a child PerfTest pinned to the confirmed
// test's host, all under one lease held from the first run to the end.
// A middle commit whose run fails is taken as one that does not build and
// skipped. The standing is recorded after every round, so the API shows
// each step as it ends; the bisection ends found, range or unknown, failed
// when a run of an end fails or Pitwall cannot go on, cancelled when its
// workflow is cancelled. The leases are always given back.
func Bisect(ctx workflow.Context, in contract.ConfirmInput) error {
	b := &bisection{series: series{id: in.ID}}
	if err := b.load(ctx); err != nil {
		return err
	}
	state, reason := b.runs(ctx)
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if ctx.Err() != nil {
		state, reason = wire.ConfirmCancelled, "cancelled"
	}
	if b.note != "" {
		reason += " (" + b.note + ")"
	}
	b.release(dctx)
	return b.update(dctx, state, reason)
}

type bisection struct {
	series
	b *confirm.Bisection
	// note says why the commits are the history's when git was asked.
	note string
}

// versionBisectGit guards listing a bisection's commits from git (only
// bisections recorded with commits_source git take it).
const versionBisectGit = "bisect-git"

// MaxBisectCommits bounds the commits git may list for a bisection.
const MaxBisectCommits = 1000

// gitCommits lists the commits between the bisection's ends from the
// framework's repository on the test's host (first-parent, oldest first)
// and records them; when git cannot, the history's commits are kept and
// the record says so.
func (b *bisection) gitCommits(ctx workflow.Context) string {
	p := b.plan
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              contract.AgentQueue(p.Host),
		ScheduleToStartTimeout: 5 * time.Minute,
		StartToCloseTimeout:    10 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	good := p.Commits[0]
	res, err := contract.GitCommits.Execute(actx, contract.GitCommitsInput{Repo: p.Repo, Good: good, Bad: p.CandCommit,
		Max: MaxBisectCommits}).Result(ctx)
	source := wire.CommitsGit
	if err == nil && len(res.Commits) > 0 {
		// The ends keep the names the tests gave them.
		p.Commits = append(append([]string{good}, res.Commits[:len(res.Commits)-1]...), p.CandCommit)
	} else {
		source = wire.CommitsHistory
		if err != nil {
			b.note = "git could not list the commits (" + errorMessage(err) + "): the history's were used"
		} else {
			b.note = "git listed no commit between the ends: the history's were used"
		}
		workflow.GetLogger(ctx).Warn("bisection commits from the history", "bisection", b.id, "why", b.note)
	}
	if len(p.Commits) < 3 {
		return fmt.Sprintf("no commit lies between %s and %s to bisect; %s", good, p.CandCommit, b.note)
	}
	in := contract.BisectCommitsInput{ID: b.id, Commits: p.Commits, Source: source}
	if err := contract.BisectCommitsSet.ExecuteLocal(central(ctx), in).Get(ctx, nil); err != nil {
		return because("record the commits", err)
	}
	return ""
}

// roleArm is the arm a run of each role is recorded as.
var roleArm = map[confirm.Role]string{confirm.GoodEnd: wire.ArmBaseline, confirm.Middle: wire.ArmMiddle,
	confirm.BadEnd: wire.ArmCandidate}

func (b *bisection) runs(ctx workflow.Context) (string, string) {
	p := b.plan
	if len(p.KPIs) != 1 {
		return wire.ConfirmFailed, fmt.Sprintf("a bisection follows one KPI, not %d", len(p.KPIs))
	}
	order, err := confirm.ParseOrder(p.Order)
	if err != nil {
		return wire.ConfirmFailed, err.Error()
	}
	k := p.KPIs[0]
	if p.CommitsSource == wire.CommitsGit && workflow.GetVersion(ctx, versionBisectGit, workflow.DefaultVersion, 1) == 1 {
		if why := b.gitCommits(ctx); why != "" {
			return wire.ConfirmFailed, why
		}
	}
	b.b, err = confirm.NewBisection(p.Commits, confirm.BisectConfig{
		Test:  confirm.Config{LowerIsBetter: k.LowerIsBetter, Threshold: k.Threshold, MaxPairs: p.Budget},
		Order: order, Seed: p.Seed})
	if err != nil {
		return wire.ConfirmFailed, err.Error()
	}
	for {
		runs, done := b.b.Next()
		if done {
			break
		}
		for _, r := range runs {
			if why := b.one(ctx, r, k.Name); why != "" {
				return wire.ConfirmFailed, why
			}
		}
		if err := b.update(ctx, wire.ConfirmRunning, ""); err != nil {
			return wire.ConfirmFailed, because("record progress", err)
		}
	}
	return b.ending()
}

// one makes one run the bisection asked for and tells it the figure, or
// that the commit does not build when the run of a middle commit failed.
func (b *bisection) one(ctx workflow.Context, r confirm.Run, kpi string) string {
	arm := roleArm[r.Role]
	testID, why := b.start(ctx, arm, r.Commit, func() error { return b.update(ctx, wire.ConfirmRunning, "") })
	if why != "" {
		return why
	}
	res, err := b.child(ctx, testID)
	if err != nil {
		return fmt.Sprintf("run %d (commit %s): %s", testID, r.Commit, errorMessage(err))
	}
	if res.State != wire.StateFinished {
		if r.Role != confirm.Middle || res.State != wire.StateFailed {
			return fmt.Sprintf("run %d (commit %s) %s: %s", testID, r.Commit, res.State, res.Reason)
		}
		if err := b.b.Broken(r); err != nil {
			return err.Error()
		}
		return ""
	}
	got, err := contract.ConfirmValues.ExecuteLocal(central(ctx), testID).Result(ctx)
	if err != nil {
		return because(fmt.Sprintf("read run %d", testID), err)
	}
	v, ok := got.Values[kpi]
	if !ok {
		return fmt.Sprintf("run %d (commit %s) reported no %s", testID, r.Commit, kpi)
	}
	if err := b.b.Observe(r, v); err != nil {
		return err.Error()
	}
	return ""
}

// ending is the bisection's state from its result.
func (b *bisection) ending() (string, string) {
	r := b.b.Result()
	switch r.Outcome {
	case confirm.Found:
		return wire.BisectFound, fmt.Sprintf("first bad commit %s (after %s) found in %d steps and %d runs",
			r.FirstBad, r.Good, len(r.Steps), r.Runs)
	case confirm.Range:
		return wire.BisectRange, fmt.Sprintf("the first bad commit is one of %s (the others do not build); %d runs",
			strings.Join(r.Candidates, ", "), r.Runs)
	}
	last := "no step"
	if n := len(r.Steps); n > 0 {
		s := r.Steps[n-1]
		last = fmt.Sprintf("commit %s: %s", s.Commit, s.VsGood.Evidence)
	}
	return wire.ConfirmUnknown, fmt.Sprintf("could not tell; narrowed to %s after %d runs (%s)",
		strings.Join(r.Candidates, ", "), r.Runs, last)
}

// update records the bisection's standing.
func (b *bisection) update(ctx workflow.Context, state, reason string) error {
	in := contract.ConfirmUpdateInput{ID: b.id, State: state, Reason: reason}
	if b.b != nil {
		r := b.b.Result()
		in.Bisect = &r
	}
	return b.record(ctx, in)
}
