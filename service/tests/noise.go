package tests

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Bounds of a noise measurement (docs/noise.md).
const (
	DefaultNoiseRuns = 10
	MaxNoiseRuns     = 50
	// noiseListed is how many of a host's measurements its noise lists.
	noiseListed = 20
)

// NoisePath is the API path of a host's noise.
func NoisePath(host string) string { return "/api/v1/agents/" + host + "/noise" }

// StartNoise starts an A/A measurement of a host's noise for a
// framework: the same commit run req.Runs times on the host, whose KPIs'
// CVs become the host's noise floors. Members of the framework's team
// may start one on a host their team may use; one runs per host and
// framework at a time.
func (s *Service) StartNoise(ctx context.Context, host string, req wire.NoiseRequest) (*wire.NoiseMeasurement, error) {
	info, err := s.Runnable(ctx, req.Team, req.Framework, 0)
	if err != nil {
		return nil, err
	}
	if req.Runs == 0 {
		req.Runs = DefaultNoiseRuns
	}
	if req.Runs < 2 || req.Runs > MaxNoiseRuns {
		return nil, service.InvalidField("runs", fmt.Sprintf("runs is how many times to run the framework, 2-%d", MaxNoiseRuns))
	}
	if err := checkRun(wire.RunRequest{Commit: req.Commit}); err != nil {
		return nil, err
	}
	team := service.TeamOr(req.Team)
	if len(info.Roles) > 0 {
		return nil, service.InvalidField("framework", "measuring the noise of a multi-host framework is not supported yet")
	}
	if err := CheckTimeout(&info.Framework, s.MaxTimeout); err != nil {
		return nil, err
	}
	agents, err := s.Store.AgentFacts(ctx, []string{host})
	if err != nil {
		return nil, fmt.Errorf("load agent %s: %w", host, err)
	}
	ag, ok := agents[host]
	switch {
	case !ok:
		return nil, service.Errorf(service.NotFound, "name", "agent %q is not registered", host)
	case !ag.UsableBy(team):
		return nil, service.Errorf(service.Invalid, "name", "host %q is not shared with team %q", host, team)
	}
	if err := s.checkHosts(ctx, &info.Framework, team); err != nil {
		return nil, err
	}
	params, err := info.ResolveParams(req.Params)
	if err != nil {
		return nil, service.FrameworkInvalid(err, "")
	}
	id, err := s.Store.NoiseCreate(ctx, store.NewNoiseMeasurement{Host: host, Team: team, Framework: req.Framework,
		FrameworkVersion: info.Version, Params: params, Commit: req.Commit, Runs: req.Runs,
		StartedBy: service.Principal(ctx).Name}, time.Now())
	if errors.Is(err, store.ErrMeasuring) {
		return nil, service.Errorf(service.Conflict, "", "a noise measurement of %s on %s is running", req.Framework, host)
	}
	if err != nil {
		return nil, fmt.Errorf("create noise measurement: %w", err)
	}
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: contract.NoiseWorkflowID(id), TaskQueue: contract.CentralQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, contract.NoiseWorkflow, contract.NoiseInput{ID: id})
	if err != nil {
		s.Log.Error("start noise measurement", "measurement", id, "error", err)
		_ = s.Store.NoiseEnd(context.WithoutCancel(ctx), id, wire.NoiseFailed, "could not start its workflow: "+err.Error(), nil, time.Now())
		return nil, service.Errorf(service.Unavailable, "", "noise measurement %d could not be started: Temporal is unreachable", id)
	}
	m, err := s.Store.NoiseGet(ctx, id)
	if err != nil {
		return nil, err
	}
	s.decorateNoise(m)
	return m, nil
}

func (s *Service) decorateNoise(m *wire.NoiseMeasurement) {
	m.URL = s.PublicURL + NoisePath(m.Host)
	if m.Floors == nil {
		m.Floors = []wire.NoiseKPI{}
	}
	if m.Tests == nil {
		m.Tests = []int64{}
	}
}

// HostNoise is a host's noise: the latest floor of each framework's KPI
// and its measurements, of the frameworks of teams the caller may view.
func (s *Service) HostNoise(ctx context.Context, host string) (*wire.HostNoise, error) {
	if service.Principal(ctx).Kind != auth.KindUser {
		return nil, service.NotAllowed("a host's noise is for people and CI")
	}
	agents, err := s.Store.AgentFacts(ctx, []string{host})
	if err != nil {
		return nil, fmt.Errorf("load agent %s: %w", host, err)
	}
	ag, ok := agents[host]
	p := service.Principal(ctx)
	if !ok || (!p.SiteAdmin && !slices.ContainsFunc(slices.Collect(maps.Keys(p.Teams)), ag.UsableBy)) {
		return nil, service.Errorf(service.NotFound, "name", "agent %q not found", host)
	}
	out := &wire.HostNoise{Host: host, Excluded: ag.Excluded, ExcludedReason: ag.ExcludedReason,
		Latest: []wire.NoiseKPI{}, Measurements: []wire.NoiseMeasurement{}}
	latest, err := s.Store.NoiseLatest(ctx, host, "", "")
	if err != nil {
		return nil, err
	}
	for _, k := range latest {
		if service.MayView(ctx, k.Team) {
			out.Latest = append(out.Latest, k)
			out.Flagged = out.Flagged || k.Jumped
		}
	}
	ms, err := s.Store.NoiseOfHost(ctx, host, noiseListed)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if service.MayView(ctx, m.Team) {
			s.decorateNoise(&m)
			out.Measurements = append(out.Measurements, m)
		}
	}
	return out, nil
}

// FrameworkNoise lists the latest noise floor of each of a framework's
// KPIs on each host it was measured on.
func (s *Service) FrameworkNoise(ctx context.Context, team, name string) ([]wire.NoiseKPI, error) {
	if !service.MayView(ctx, team) {
		return nil, service.Errorf(service.NotFound, "framework", "framework %q not found in team %q", name, team)
	}
	return s.Store.NoiseLatest(ctx, "", team, name)
}

// noiseBudget is the confirmation budget in pairs that a KPI's noise floor
// on host asks for: 16 × (CV / threshold)², the pairs a paired test needs
// to see a change of the threshold at α 0.05 and power 0.8, within
// 2..MaxConfirmBudget. ok is false when no KPI has a floor on the host.
func (s *Service) noiseBudget(ctx context.Context, host, team, name string, kpis []wire.ConfirmKPI) (pairs int, why string, ok bool, err error) {
	for _, k := range kpis {
		cv, has, err := s.Store.NoiseFloorOf(ctx, host, team, name, k.Name)
		if err != nil {
			return 0, "", false, err
		}
		if !has || k.Threshold <= 0 {
			continue
		}
		n := NoiseBudget(cv, k.Threshold)
		if !ok || n > pairs {
			pairs, ok = n, true
			why = fmt.Sprintf("%s: noise floor CV %.2f%% on %s against threshold %.2f%%", k.Name, 100*cv, host, 100*k.Threshold)
		}
	}
	return pairs, why, ok, nil
}

// NoiseBudget is 16 × (cv / threshold)² pairs, rounded up, within
// 2..MaxConfirmBudget.
func NoiseBudget(cv, threshold float64) int {
	n := 16 * (cv / threshold) * (cv / threshold)
	if math.IsNaN(n) || n > MaxConfirmBudget {
		return MaxConfirmBudget
	}
	return max(2, int(math.Ceil(n)))
}

// NoiseByHost lists the latest noise floors of every host, of the
// frameworks of teams the caller may view, by host.
func (s *Service) NoiseByHost(ctx context.Context) (map[string][]wire.NoiseKPI, error) {
	all, err := s.Store.NoiseLatest(ctx, "", "", "")
	if err != nil {
		return nil, err
	}
	out := map[string][]wire.NoiseKPI{}
	for _, k := range all {
		if service.MayView(ctx, k.Team) {
			out[k.Host] = append(out[k.Host], k)
		}
	}
	return out, nil
}
