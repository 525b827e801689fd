package central

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// The central steps of a confirmation (workflows.Confirm): each is refused
// unless the confirmation's own workflow asks.

// checkConfirm refuses a step asked by another workflow than the
// confirmation's own, and loads the confirmation.
func (a *Activities) checkConfirm(ctx context.Context, step string, id int64) (*wire.Confirmation, error) {
	c, err := a.Store.ConfirmationGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	if !a.AnyCaller {
		if got, want := activity.GetInfo(ctx).WorkflowExecution.ID, contract.SeriesWorkflowID(c.Kind, id); got != want {
			return nil, refuse("%s of %s %d refused: asked by workflow %q, not its own %q", step, c.Kind, id, got, want)
		}
	}
	return c, nil
}

// ConfirmLoad returns what a confirmation runs: its commits, KPIs and
// budget, and the hosts of the confirmed test (the execution host, which
// every run is pinned to, and the statistics hosts).
func (a *Activities) ConfirmLoad(ctx context.Context, id int64) (*contract.ConfirmPlan, error) {
	c, err := a.checkConfirm(ctx, "loading", id)
	if err != nil {
		return nil, err
	}
	t, err := a.Store.TestGet(ctx, c.TestID)
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", c.TestID, err)
	}
	plan, err := a.Store.TestPlanGet(ctx, c.TestID)
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", c.TestID, err)
	}
	if t.Host == "" {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("test %d ran on no host", c.TestID), contract.ErrNotFound, nil)
	}
	hosts := append([]string{t.Host}, plan.Framework.Statistics.Hosts...)
	slices.Sort(hosts)
	p := &contract.ConfirmPlan{ID: c.ID, TestID: c.TestID, BaseCommit: c.BaseCommit, CandCommit: c.CandCommit,
		Host: t.Host, Hosts: slices.Compact(hosts), Budget: c.Budget, Order: c.Order, Seed: uint64(c.ID), Commits: c.Commits}
	for _, k := range c.KPIs {
		p.KPIs = append(p.KPIs, contract.ConfirmKPI{Name: k.Name, LowerIsBetter: k.LowerIsBetter, Threshold: k.Threshold})
	}
	if c.CommitsSource == wire.CommitsGit {
		p.CommitsSource, p.Repo = c.CommitsSource, plan.Framework.SourceRepo()
	}
	if len(plan.Framework.Roles) > 0 {
		// A multi-host test: the roles' hosts are picked once, the
		// confirmed test's own first, and every run plays on them.
		var want []contract.RoleWant
		for _, r := range plan.Framework.Roles {
			want = append(want, contract.RoleWant{Name: r.Name, Hosts: r.Hosts, Labels: r.Labels, Count: r.Count})
		}
		agents, err := a.Store.AgentList(ctx)
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		known := map[string]wire.Agent{}
		for _, ag := range agents {
			known[ag.Name] = ag
		}
		picked, err := pickRoles(agents, known, c.Team, want, t.Hosts)
		if err != nil {
			return nil, err
		}
		p.RoleHosts = picked.Roles
		hosts := slices.Clone(plan.Framework.Statistics.Hosts)
		for _, rh := range picked.Roles {
			hosts = append(hosts, rh.Hosts...)
		}
		slices.Sort(hosts)
		p.Host, p.Hosts = picked.Roles[0].Hosts[0], slices.Compact(hosts)
	}
	return p, nil
}

// BisectCommitsSet records the commits a bisection goes through and where
// they came from (the bisection's own workflow lists them from git).
func (a *Activities) BisectCommitsSet(ctx context.Context, in contract.BisectCommitsInput) error {
	if _, err := a.checkConfirm(ctx, "recording the commits", in.ID); err != nil {
		return err
	}
	return a.Store.BisectCommitsSet(ctx, in.ID, in.Commits, in.Source)
}

// ConfirmRun creates the next run of a confirmation: a test like the
// confirmed one at the arm's commit.
func (a *Activities) ConfirmRun(ctx context.Context, in contract.ConfirmRunInput) (int64, error) {
	c, err := a.checkConfirm(ctx, "a run", in.ID)
	if err != nil {
		return 0, err
	}
	if c.State != wire.ConfirmRunning {
		return 0, refuse("a run of confirmation %d refused: it is %s", in.ID, c.State)
	}
	// A retry after the insert committed would make a second run; the
	// workflow's local activity is retried only when this one failed, so
	// the run it did not hear of is left queued and never started.
	return a.Store.ConfirmationRunCreate(ctx, in.ID, in.Arm, in.Commit, time.Now())
}

// ConfirmValues reads what a run measured: each KPI's mean.
func (a *Activities) ConfirmValues(ctx context.Context, testID int64) (*contract.ConfirmRunValues, error) {
	values, state, err := a.Store.ConfirmationRunValues(ctx, testID)
	if err != nil {
		return nil, err
	}
	return &contract.ConfirmRunValues{State: state, Values: values}, nil
}

// ConfirmUpdate records a confirmation's progress or ending.
func (a *Activities) ConfirmUpdate(ctx context.Context, in contract.ConfirmUpdateInput) error {
	outcomes := make([]wire.ConfirmOutcome, len(in.Outcomes))
	for i, o := range in.Outcomes {
		outcomes[i] = wire.ConfirmOutcome{KPI: o.KPI, Result: o.Result}
	}
	c, err := a.checkConfirm(ctx, "recording", in.ID)
	if err != nil {
		return err
	}
	if err := a.Store.SeriesUpdate(ctx, in.ID, in.Host, in.State, in.Reason, outcomes, in.Bisect, time.Now()); err != nil {
		return err
	}
	// The alerts of the test hear how its confirmation or bisection ended.
	kind := map[string]string{wire.ConfirmConfirmed: "confirmed", wire.ConfirmNotConfirmed: "not-confirmed",
		wire.BisectFound: "bisected", wire.BisectRange: "bisected"}[in.State]
	if kind != "" {
		note := fmt.Sprintf("%s %d: %s", c.Kind, c.ID, in.Reason)
		if err := a.Store.SeriesAlertEvent(ctx, c.TestID, kind, note, time.Now()); err != nil {
			return fmt.Errorf("record %s %d on the alerts of test %d: %w", c.Kind, c.ID, c.TestID, err)
		}
	}
	if (in.State == wire.BisectFound || in.State == wire.BisectRange) && c.Kind == wire.KindBisect && a.Announce != nil {
		if err := a.Announce(ctx, in.ID); err != nil {
			return fmt.Errorf("announce bisection %d: %w", in.ID, err)
		}
	}
	if in.State == wire.ConfirmConfirmed && a.AutoBisect != nil {
		return a.AutoBisect(ctx, in.ID)
	}
	return nil
}
