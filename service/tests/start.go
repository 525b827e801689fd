package tests

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// Start validates a run request and starts the test of the framework's
// current version.
func (s *Service) Start(ctx context.Context, req wire.RunRequest) (*wire.Test, error) {
	return s.start(ctx, req, 0)
}

// CloneInput names the test to clone and what to change: params are
// merged, commit, branch, PR and tags replace the old ones when given.
type CloneInput struct {
	ID       int64
	Override wire.RunRequest
}

// Clone starts a new test like an old one (which the principal may see),
// with the framework's current version.
func (s *Service) Clone(ctx context.Context, in CloneInput) (*wire.Test, error) {
	old, err := s.View(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	over := in.Override
	if over.Framework != "" && over.Framework != old.Framework {
		return nil, service.InvalidField("framework", "a clone keeps its framework")
	}
	req := runRequestOf(old)
	for k, v := range over.Params {
		req.Params[k] = v
	}
	if over.Commit != "" {
		req.Commit = over.Commit
	}
	if over.Branch != "" {
		req.Branch = over.Branch
	}
	if over.PR != nil {
		req.PR = over.PR
	}
	if over.Tags != nil {
		req.Tags = over.Tags
	}
	if over.Priority != "" {
		req.Priority = over.Priority
	}
	req.Baseline = over.Baseline
	return s.start(ctx, req, 0)
}

// Rerun runs exactly the same test again (same framework version,
// parameters and commit), for its owner and the team's admins.
func (s *Service) Rerun(ctx context.Context, id int64) (*wire.Test, error) {
	old, err := s.View(ctx, id)
	if err != nil {
		return nil, err
	}
	if !MayModify(ctx, old) {
		return nil, service.NotAllowed("only the test's owner and the team's admins rerun it")
	}
	return s.start(ctx, runRequestOf(old), old.FrameworkVersion)
}

// runRequestOf is the run request that made t.
func runRequestOf(t *wire.Test) wire.RunRequest {
	req := wire.RunRequest{Framework: t.Framework, Team: t.Team, Commit: t.Commit, Branch: t.Branch,
		PR: t.PR, Tags: t.Tags, Params: map[string]string{}, Priority: t.Priority}
	for _, p := range t.Params {
		req.Params[p.Name] = p.Value
	}
	return req
}

// checkRun validates a run request's own fields.
func checkRun(req wire.RunRequest) error {
	if req.PR != nil && *req.PR <= 0 {
		return service.InvalidField("pr", "pr must be a positive number")
	}
	if req.Priority != "" && !wire.ValidPriority(req.Priority) {
		return service.InvalidField("priority", "priority must be one of "+strings.Join(wire.Priorities, ", "))
	}
	for field, v := range map[string]string{"commit": req.Commit, "branch": req.Branch} {
		if len(v) > 255 || strings.ContainsAny(v, "\x00\n\r") {
			return service.InvalidField(field, field+" must be one line of at most 255 bytes")
		}
	}
	if len(req.Tags) > 50 {
		return service.InvalidField("tags", "at most 50 tags")
	}
	for k, v := range req.Tags {
		if k == "" || len(k) > 100 || len(v) > 255 || strings.ContainsAny(k+v, "\x00\n\r") {
			return service.InvalidField("tags", fmt.Sprintf("tag %q: keys 1-100 bytes, values up to 255, one line each", k))
		}
	}
	return nil
}

// Runnable loads a framework (the current version when version is 0) that
// the principal of ctx may run tests of: members of its team.
func (s *Service) Runnable(ctx context.Context, team, framework string, version int) (*wire.FrameworkInfo, error) {
	if framework == "" {
		return nil, service.InvalidField("framework", "framework is required")
	}
	team = service.TeamOr(team)
	notFound := service.Errorf(service.NotFound, "framework", "framework %q not found in team %q", framework, team)
	if !service.MayView(ctx, team) {
		return nil, notFound
	}
	if !MayRun(ctx, team) {
		return nil, service.NotAllowed(fmt.Sprintf("running tests in team %q needs the member role there", team))
	}
	var (
		info *wire.FrameworkInfo
		err  error
	)
	if version > 0 {
		info, err = s.Store.FrameworkGetVersion(ctx, team, framework, version)
	} else {
		info, err = s.Store.FrameworkGet(ctx, team, framework)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("load framework %s: %w", framework, err)
	}
	return info, nil
}

// start validates a run request and starts the test (of a pinned
// framework version, or the current one when version is 0).
func (s *Service) start(ctx context.Context, req wire.RunRequest, version int) (*wire.Test, error) {
	info, err := s.Runnable(ctx, req.Team, req.Framework, version)
	if err != nil {
		return nil, err
	}
	req.Team = service.TeamOr(req.Team)
	if err := checkRun(req); err != nil {
		return nil, err
	}
	if err := CheckTimeout(&info.Framework, s.MaxTimeout); err != nil {
		return nil, err
	}
	if err := s.checkHosts(ctx, &info.Framework, req.Team); err != nil {
		return nil, err
	}
	p := service.Principal(ctx)
	if req.CompareTo != nil {
		other, err := s.Store.TestGet(ctx, *req.CompareTo)
		if err != nil || !service.MayView(ctx, other.Team) || other.Framework != req.Framework || other.State != wire.StateFinished {
			return nil, service.InvalidField("compare_to", fmt.Sprintf("compare_to %d must be a finished test of framework %s", *req.CompareTo, req.Framework))
		}
	}
	params, err := info.ResolveParams(req.Params)
	if err != nil {
		return nil, service.FrameworkInvalid(err, "")
	}
	id, err := s.Store.TestCreate(ctx, store.NewTest{
		Team: req.Team, Framework: req.Framework, Params: params, Commit: req.Commit, Branch: req.Branch,
		PR: req.PR, Tags: req.Tags, Baseline: req.Baseline, FrameworkVersion: version, Owner: p.Name, CompareTo: req.CompareTo,
		Priority: cmp.Or(req.Priority, wire.PriorityNormal),
	}, time.Now())
	if err != nil {
		return nil, fmt.Errorf("create test: %w", err)
	}
	if err := s.startWorkflow(ctx, id, req.Framework, req.Commit, req.Branch); err != nil {
		s.Log.Error("start workflow", "test", id, "error", err)
		_ = s.Store.TestTransition(context.WithoutCancel(ctx), store.Transition{
			TestID: id, State: wire.StateFailed, At: time.Now(), Reason: "could not start the test's workflow: " + err.Error(),
		})
		return nil, service.Errorf(service.Unavailable, "", "test %d could not be started: Temporal is unreachable", id)
	}
	s.created.Inc()
	return s.get(ctx, id)
}

// DefaultMaxTimeout is the longest execution timeout a framework may ask
// for unless the server's --max-test-timeout says otherwise.
const DefaultMaxTimeout = 24 * time.Hour

// CheckTimeout refuses a framework whose execution timeout passes the
// site's maximum (0: DefaultMaxTimeout): a test holds its hosts that long.
func CheckTimeout(f *framework.Framework, max time.Duration) error {
	if max <= 0 {
		max = DefaultMaxTimeout
	}
	if t := time.Duration(f.Execution.Timeout); t > max {
		return service.InvalidField("execution.timeout", fmt.Sprintf(
			"execution.timeout %s is over this site's maximum of %s (the server's --max-test-timeout)", t, max))
	}
	return nil
}

// checkHosts refuses a framework that names registered hosts its team may
// not use; hosts not registered yet are HostPick's to judge.
func (s *Service) checkHosts(ctx context.Context, f *framework.Framework, team string) error {
	named := append(slices.Clone(f.Execution.Hosts), f.Statistics.Hosts...)
	if len(named) == 0 {
		return nil
	}
	agents, err := s.Store.AgentList(ctx)
	if err != nil {
		return fmt.Errorf("list agents: %w", err)
	}
	for _, a := range agents {
		if slices.Contains(named, a.Name) && !a.UsableBy(team) {
			return service.InvalidField("execution.hosts", fmt.Sprintf(
				"host %s is not shared with team %q; a site admin shares it (PUT /api/v1/agents/%s/settings)", a.Name, team, a.Name))
		}
	}
	return nil
}
