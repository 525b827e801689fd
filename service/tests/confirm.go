package tests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/verdict"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Bounds of a confirmation (docs/confirmation.md).
const (
	// DefaultConfirmBudget is the pairs of runs a confirmation may use when
	// the request names none; MaxConfirmBudget the most it may ask for.
	DefaultConfirmBudget = 10
	MaxConfirmBudget     = 50
	// DefaultConfirmThreshold is the smallest change that matters for a
	// KPI whose framework gives no threshold: without one, no run budget
	// could ever show that a KPI did not change.
	DefaultConfirmThreshold = 0.02
)

// ConfirmationPath is the API path of a confirmation.
func ConfirmationPath(id int64) string { return fmt.Sprintf("/api/v1/confirmations/%d", id) }

// Confirm starts a confirmation of a finished test's verdict: interleaved
// runs of its baseline's commit and its own on the host it ran on. Team
// members may start one; one runs per test at a time.
func (s *Service) Confirm(ctx context.Context, id int64, req wire.ConfirmRequest) (*wire.Confirmation, error) {
	t, err := s.View(ctx, id)
	if err != nil {
		return nil, err
	}
	if !MayRun(ctx, t.Team) {
		return nil, service.NotAllowed(fmt.Sprintf("confirming tests in team %q needs the member role there", t.Team))
	}
	nc, err := s.confirmPlan(ctx, t, req)
	if err != nil {
		return nil, err
	}
	nc.StartedBy = service.Principal(ctx).Name
	cid, err := s.Store.ConfirmationCreate(ctx, *nc, time.Now())
	if errors.Is(err, store.ErrConfirming) {
		return nil, service.Errorf(service.Conflict, "", "test %d already has a confirmation running", id)
	}
	if err != nil {
		return nil, fmt.Errorf("create confirmation: %w", err)
	}
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: contract.ConfirmWorkflowID(cid), TaskQueue: contract.CentralQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, contract.ConfirmWorkflow, contract.ConfirmInput{ID: cid})
	if err != nil {
		s.Log.Error("start confirmation", "confirmation", cid, "error", err)
		_ = s.Store.ConfirmationUpdate(context.WithoutCancel(ctx), cid, "", wire.ConfirmFailed,
			"could not start its workflow: "+err.Error(), nil, time.Now())
		return nil, service.Errorf(service.Unavailable, "", "confirmation %d could not be started: Temporal is unreachable", cid)
	}
	return s.confirmation(ctx, cid)
}

// confirmPlan checks a confirmation request against the test and fills in
// its defaults: the baseline test, the KPIs and the budget.
func (s *Service) confirmPlan(ctx context.Context, t *wire.Test, req wire.ConfirmRequest) (*store.NewConfirmation, error) {
	if t.State != wire.StateFinished {
		return nil, service.Errorf(service.Conflict, "", "test %d is %s: only a finished test's verdict can be confirmed", t.ID, t.State)
	}
	plan, err := s.Store.TestPlanGet(ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", t.ID, err)
	}
	switch {
	case plan.ConfirmationArm != "":
		return nil, service.Errorf(service.Conflict, "", "test %d is a run of a confirmation", t.ID)
	case len(plan.Framework.Roles) > 0:
		return nil, service.Errorf(service.Invalid, "", "confirming a multi-host test is not supported yet")
	case req.Budget < 0 || req.Budget > MaxConfirmBudget:
		return nil, service.InvalidField("budget", fmt.Sprintf("budget is the most pairs of runs, 1-%d", MaxConfirmBudget))
	}
	order, err := confirm.ParseOrder(req.Order)
	if err != nil {
		return nil, service.InvalidField("order", err.Error())
	}
	base := req.BaseTest
	if base == 0 && len(t.BaselineTests) > 0 {
		base = slices.Max(t.BaselineTests)
	}
	if base == 0 {
		return nil, service.InvalidField("base_test", fmt.Sprintf("test %d was judged against no baseline test: give base_test", t.ID))
	}
	bt, err := s.View(ctx, base)
	if err != nil || bt.Framework != t.Framework || bt.Team != t.Team {
		return nil, service.InvalidField("base_test", fmt.Sprintf("base_test %d must be a test of framework %s", base, t.Framework))
	}
	if bt.Commit == "" || t.Commit == "" {
		return nil, service.InvalidField("base_test", fmt.Sprintf(
			"tests %d and %d must both name their commit: a confirmation runs each commit again", base, t.ID))
	}
	kpis, err := confirmKPIs(plan.Framework, t, req.KPIs)
	if err != nil {
		return nil, err
	}
	budget := req.Budget
	if budget == 0 {
		// The host's noise floor, when measured, says how many pairs the
		// sequential test needs (docs/noise.md).
		budget = DefaultConfirmBudget
		n, why, ok, err := s.noiseBudget(ctx, t.Host, t.Team, t.Framework, kpis)
		if err != nil {
			return nil, fmt.Errorf("noise floors of %s: %w", t.Host, err)
		}
		if ok {
			budget = n
			s.Log.Info("confirmation budget from the noise floor", "test", t.ID, "pairs", n, "why", why)
		}
	}
	return &store.NewConfirmation{TestID: t.ID, BaseTest: base, BaseCommit: bt.Commit, CandCommit: t.Commit,
		KPIs: kpis, Budget: budget, Order: string(order)}, nil
}

// confirmKPIs are the KPIs to confirm: those named, or those the test
// regressed on, with their direction and threshold.
func confirmKPIs(f framework.Framework, t *wire.Test, names []string) ([]wire.ConfirmKPI, error) {
	if len(names) == 0 {
		for _, v := range t.Verdicts {
			if v.Verdict == verdict.Regressed {
				names = append(names, v.Name)
			}
		}
		if len(names) == 0 {
			return nil, service.InvalidField("kpis", fmt.Sprintf("test %d regressed on no KPI: name the KPIs to confirm", t.ID))
		}
	}
	var out []wire.ConfirmKPI
	for _, n := range names {
		i := slices.IndexFunc(f.KPIs, func(k framework.KPI) bool { return k.Name == n })
		if i < 0 {
			return nil, service.InvalidField("kpis", fmt.Sprintf("%q is not a KPI of framework %s", n, t.Framework))
		}
		k := f.KPIs[i]
		th, _ := framework.ParseThreshold(k.Threshold)
		if th <= 0 {
			th = DefaultConfirmThreshold
		}
		out = append(out, wire.ConfirmKPI{Name: k.Name, LowerIsBetter: k.Better != framework.BetterHigher, Threshold: th})
	}
	return out, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Confirmation loads a confirmation, with its runs, that the principal of
// ctx may see.
func (s *Service) Confirmation(ctx context.Context, id int64) (*wire.Confirmation, error) {
	c, err := s.confirmation(ctx, id)
	if err == nil && !service.MayView(ctx, c.Team) {
		err = service.Errorf(service.NotFound, "id", "confirmation %d not found", id)
	}
	return c, err
}

func (s *Service) confirmation(ctx context.Context, id int64) (*wire.Confirmation, error) {
	c, err := s.Store.ConfirmationGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "id", "confirmation %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	s.decorateConfirmation(c)
	return c, nil
}

func (s *Service) decorateConfirmation(c *wire.Confirmation) {
	c.WorkflowID = contract.ConfirmWorkflowID(c.ID)
	c.URL = s.PublicURL + ConfirmationPath(c.ID)
	if c.Outcomes == nil {
		c.Outcomes = []wire.ConfirmOutcome{}
	}
	if c.Runs == nil {
		c.Runs = []wire.ConfirmationRun{}
	}
}

// Confirmations lists a test's confirmations, newest first.
func (s *Service) Confirmations(ctx context.Context, testID int64) ([]wire.Confirmation, error) {
	if _, err := s.View(ctx, testID); err != nil {
		return nil, err
	}
	cs, err := s.Store.ConfirmationsOf(ctx, testID)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		s.decorateConfirmation(&cs[i])
	}
	if cs == nil {
		cs = []wire.Confirmation{}
	}
	return cs, nil
}

// CancelConfirmation stops a running confirmation: its run in progress is
// aborted and the host given back. Team members may cancel one.
func (s *Service) CancelConfirmation(ctx context.Context, id int64) (*wire.Confirmation, error) {
	c, err := s.Confirmation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !MayRun(ctx, c.Team) {
		return nil, service.NotAllowed(fmt.Sprintf("cancelling confirmations in team %q needs the member role there", c.Team))
	}
	if c.State != wire.ConfirmRunning {
		return nil, service.Errorf(service.Ended, "", "confirmation %d has ended (%s)", id, c.State)
	}
	if err := s.Temporal.CancelWorkflow(ctx, contract.ConfirmWorkflowID(id), ""); err != nil && !strings.Contains(err.Error(), "not found") {
		return nil, service.Errorf(service.Unavailable, "", "confirmation %d could not be cancelled: %v", id, err)
	}
	return c, nil
}
