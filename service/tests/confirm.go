package tests

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/auth"
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
	return s.startSeries(ctx, *nc)
}

// startSeries records a confirmation or bisection and starts its
// workflow.
func (s *Service) startSeries(ctx context.Context, nc store.NewConfirmation) (*wire.Confirmation, error) {
	kind := cmp.Or(nc.Kind, wire.KindConfirm)
	cid, err := s.Store.ConfirmationCreate(ctx, nc, time.Now())
	if errors.Is(err, store.ErrConfirming) {
		return nil, service.Errorf(service.Conflict, "", "test %d already has a confirmation or bisection running", nc.TestID)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", kind, err)
	}
	wf := contract.ConfirmWorkflow
	if kind == wire.KindBisect {
		wf = contract.BisectWorkflow
	}
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: contract.SeriesWorkflowID(kind, cid), TaskQueue: contract.CentralQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, wf, contract.ConfirmInput{ID: cid})
	if err != nil {
		s.Log.Error("start "+kind, "id", cid, "error", err)
		_ = s.Store.ConfirmationUpdate(context.WithoutCancel(ctx), cid, "", wire.ConfirmFailed,
			"could not start its workflow: "+err.Error(), nil, time.Now())
		return nil, service.Errorf(service.Unavailable, "", "%s %d could not be started: Temporal is unreachable", kind, cid)
	}
	return s.confirmation(ctx, cid)
}

// Bisect starts a bisection of a finished test's regression: the commits
// between its baseline's commit (good) and its own (bad), each step's
// middle commit run against both ends on the test's host. Team members may
// start one.
func (s *Service) Bisect(ctx context.Context, id int64, req wire.BisectRequest) (*wire.Confirmation, error) {
	t, err := s.View(ctx, id)
	if err != nil {
		return nil, err
	}
	if !MayRun(ctx, t.Team) {
		return nil, service.NotAllowed(fmt.Sprintf("bisecting tests in team %q needs the member role there", t.Team))
	}
	nc, err := s.bisectPlan(ctx, t, req)
	if err != nil {
		return nil, err
	}
	nc.StartedBy = service.Principal(ctx).Name
	return s.startSeries(ctx, *nc)
}

// MaxBisectCommits bounds the commits of a bisection.
const MaxBisectCommits = 1000

// bisectPlan checks a bisection request and fills in its defaults.
func (s *Service) bisectPlan(ctx context.Context, t *wire.Test, req wire.BisectRequest) (*store.NewConfirmation, error) {
	creq := wire.ConfirmRequest{Budget: req.Budget, Order: req.Order, BaseTest: req.BaseTest}
	if req.KPI != "" {
		creq.KPIs = []string{req.KPI}
	}
	nc, err := s.confirmPlan(ctx, t, creq)
	if err != nil {
		return nil, err
	}
	nc.Kind, nc.KPIs = wire.KindBisect, nc.KPIs[:1]
	good := cmp.Or(req.Good, nc.BaseCommit)
	commits, source := req.Commits, wire.CommitsRequest
	if len(commits) == 0 {
		if commits, err = s.Store.BisectCommits(ctx, t.ID, good); err != nil {
			return nil, err
		}
		source = wire.CommitsHistory
		plan, err := s.Store.TestPlanGet(ctx, t.ID)
		if err != nil {
			return nil, fmt.Errorf("load test %d: %w", t.ID, err)
		}
		if plan.Framework.SourceRepo() != "" && good != t.Commit {
			// The bisection's workflow lists every commit between from git
			// on the test's host; the history's commits stay as the
			// fallback when it cannot.
			source = wire.CommitsGit
			if len(commits) < 3 {
				commits = []string{good, t.Commit}
			}
		} else if len(commits) == 0 {
			return nil, service.InvalidField("good", fmt.Sprintf(
				"commit %s was never tested on branch %q before test %d: give commits", good, t.Branch, t.ID))
		}
	}
	switch {
	case len(commits) > MaxBisectCommits:
		return nil, service.InvalidField("commits", fmt.Sprintf("%d commits; the limit is %d", len(commits), MaxBisectCommits))
	case commits[0] != good:
		return nil, service.InvalidField("commits", fmt.Sprintf("the first commit must be the good end %s, not %s", good, commits[0]))
	case commits[len(commits)-1] != t.Commit:
		return nil, service.InvalidField("commits", fmt.Sprintf("the last commit must be test %d's own, %s", t.ID, t.Commit))
	case len(commits) < 3 && source != wire.CommitsGit:
		return nil, service.InvalidField("commits", fmt.Sprintf(
			"no commit lies between %s and %s: %s is the first bad one if the regression is confirmed", good, t.Commit, t.Commit))
	}
	seen := map[string]bool{}
	for _, c := range commits {
		if c == "" || len(c) > 255 || seen[c] {
			return nil, service.InvalidField("commits", fmt.Sprintf("commit %q is empty, too long or named twice", c))
		}
		seen[c] = true
	}
	nc.BaseCommit, nc.Commits, nc.CommitsSource = good, commits, source
	return nc, nil
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
	case !plan.Framework.RunsAnyCommit():
		return nil, service.Errorf(service.Invalid, "", "framework %s cannot run a commit on demand: set confirm.checkout: true "+
			"if its script checks out PITWALL_COMMIT, or build its containers at the test's commit", t.Framework)
	case req.Budget < 0 || req.Budget > MaxConfirmBudget:
		return nil, service.InvalidField("budget", fmt.Sprintf("budget is the most pairs of runs, 1-%d", MaxConfirmBudget))
	}
	if fc := plan.Framework.Confirm; fc != nil {
		req.Order = cmp.Or(req.Order, fc.Order)
		req.Budget = cmp.Or(req.Budget, fc.Budget)
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
	c.WorkflowID = contract.SeriesWorkflowID(c.Kind, c.ID)
	c.URL = s.PublicURL + ConfirmationPath(c.ID)
	if c.Outcomes == nil {
		c.Outcomes = []wire.ConfirmOutcome{}
	}
	if c.Runs == nil {
		c.Runs = []wire.ConfirmationRun{}
	}
	if c.Commits == nil {
		c.Commits = []string{}
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
	if err := s.Temporal.CancelWorkflow(ctx, contract.SeriesWorkflowID(c.Kind, id), ""); err != nil && !strings.Contains(err.Error(), "not found") {
		return nil, service.Errorf(service.Unavailable, "", "confirmation %d could not be cancelled: %v", id, err)
	}
	return c, nil
}

// AutoPrincipal is who automatic confirmations and bisections run as: a
// member of the test's team named "pitwall".
const AutoPrincipal = "pitwall"

func asAuto(ctx context.Context, team string) context.Context {
	return service.WithPrincipal(ctx, &auth.Principal{Kind: auth.KindUser, Name: AutoPrincipal,
		Teams: map[string]auth.Role{team: auth.Member}})
}

// AutoConfirm starts the confirmation a test's framework asks for
// (confirm.auto) when the test regressed. A test that cannot be confirmed
// (no baseline commit) is logged and left alone; a
// confirmation already running is not an error.
func (s *Service) AutoConfirm(ctx context.Context, testID int64) error {
	plan, err := s.Store.TestPlanGet(ctx, testID)
	if err != nil {
		return err
	}
	fc := plan.Framework.Confirm
	if fc == nil || !fc.Auto || plan.ConfirmationArm != "" {
		return nil
	}
	t, err := s.get(ctx, testID)
	if err != nil {
		return err
	}
	if t.Verdict != verdict.Regressed {
		return nil
	}
	actx := asAuto(ctx, t.Team)
	nc, err := s.confirmPlan(actx, t, wire.ConfirmRequest{})
	if err != nil {
		s.Log.Info("no automatic confirmation", "test", testID, "why", err)
		return nil
	}
	nc.StartedBy, nc.Auto = AutoPrincipal, true
	c, err := s.startSeries(actx, *nc)
	if se := (*service.Error)(nil); errors.As(err, &se) && se.Kind == service.Conflict {
		return nil
	}
	if err == nil {
		s.Log.Info("automatic confirmation", "test", testID, "confirmation", c.ID)
	}
	return err
}

// AutoBisect starts the bisection a confirmation's framework asks for
// (confirm.bisect) once the confirmation confirmed a regression and
// tested commits lie between its ends.
func (s *Service) AutoBisect(ctx context.Context, confirmationID int64) error {
	c, err := s.Store.ConfirmationGet(ctx, confirmationID)
	if err != nil {
		return err
	}
	if c.Kind != wire.KindConfirm || c.State != wire.ConfirmConfirmed {
		return nil
	}
	plan, err := s.Store.TestPlanGet(ctx, c.TestID)
	if err != nil {
		return err
	}
	if fc := plan.Framework.Confirm; fc == nil || !fc.Bisect {
		return nil
	}
	t, err := s.get(ctx, c.TestID)
	if err != nil {
		return err
	}
	req := wire.BisectRequest{Good: c.BaseCommit, BaseTest: derefOr(c.BaseTest)}
	for _, o := range c.Outcomes {
		if o.Decision == confirm.Different && o.Verdict == verdict.Regressed {
			req.KPI = o.KPI
			break
		}
	}
	actx := asAuto(ctx, t.Team)
	nc, err := s.bisectPlan(actx, t, req)
	if err != nil {
		s.Log.Info("no automatic bisection", "confirmation", confirmationID, "why", err)
		return nil
	}
	nc.StartedBy, nc.Auto, nc.Parent = AutoPrincipal, true, confirmationID
	b, err := s.startSeries(actx, *nc)
	if se := (*service.Error)(nil); errors.As(err, &se) && se.Kind == service.Conflict {
		return nil
	}
	if err == nil {
		s.Log.Info("automatic bisection", "confirmation", confirmationID, "bisection", b.ID)
	}
	return err
}

func derefOr(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
