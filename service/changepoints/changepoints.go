// Package changepoints is the service for a framework's KPI histories:
// their trends, the change points found in them, and accepting a change
// as intended. It holds who may accept a change.
package changepoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/judge"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
)

// Service runs the operations on change points and trends.
type Service struct {
	Store *store.Store
	Log   *slog.Logger
}

// MayAccept reports whether the principal of ctx may accept change points
// of team: its admins.
func MayAccept(ctx context.Context, team string) bool {
	return service.Principal(ctx).Can(team, auth.Admin)
}

// mayView refuses a framework of a team the principal may not see.
func mayView(ctx context.Context, team, framework string) error {
	if !service.MayView(ctx, team) {
		return service.Errorf(service.NotFound, "name", "framework %q not found", framework)
	}
	return nil
}

// List lists the change points found in the KPI histories of a framework
// (of team, empty for the default team) the principal may see.
func (s *Service) List(ctx context.Context, team, framework string) ([]store.ChangePoint, error) {
	team = service.TeamOr(team)
	if err := mayView(ctx, team, framework); err != nil {
		return nil, err
	}
	list, err := s.Store.ChangePointList(ctx, team, framework)
	if err != nil {
		return nil, fmt.Errorf("change points of %s: %w", framework, err)
	}
	if list == nil {
		list = []store.ChangePoint{}
	}
	return list, nil
}

// Reanalyse finds the change points of every KPI history of a framework
// again from the first run (team admins): what appending run by run would
// have found, with the detector as it is now. Accepted ones stand. It
// returns the framework's change points as they are then.
func (s *Service) Reanalyse(ctx context.Context, team, framework string) ([]store.ChangePoint, error) {
	team = service.TeamOr(team)
	if err := mayView(ctx, team, framework); err != nil {
		return nil, err
	}
	if !MayAccept(ctx, team) {
		return nil, service.NotAllowed("only the team's admins re-analyse change points")
	}
	n, err := judge.Reanalyse(ctx, s.Store, team, framework)
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "name", "framework %q not found", framework)
	}
	if err != nil {
		return nil, fmt.Errorf("re-analyse %s: %w", framework, err)
	}
	service.Audit(ctx, s.Store, s.Log, "change points re-analysed", team, framework, fmt.Sprintf("%d histories", n))
	return s.List(ctx, team, framework)
}

// Accept marks a change as intended, for the team's admins: later
// verdicts judge against the new level. It returns the change point as it
// is now.
func (s *Service) Accept(ctx context.Context, id int64) (*store.ChangePoint, error) {
	if id <= 0 {
		return nil, service.InvalidField("id", "change point ID must be a positive number")
	}
	cp, err := s.Store.ChangePointGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !service.MayView(ctx, cp.Team) {
		return nil, service.Errorf(service.NotFound, "id", "no such change point")
	}
	if err != nil {
		return nil, fmt.Errorf("load change point %d: %w", id, err)
	}
	if !MayAccept(ctx, cp.Team) {
		return nil, service.NotAllowed("only the team's admins accept a change as intended")
	}
	if err := s.Store.ChangePointAccept(ctx, id, service.Principal(ctx).Name); err != nil {
		return nil, fmt.Errorf("accept change point %d: %w", id, err)
	}
	// The shift was intended: its series' regression alerts are resolved.
	if err := s.Store.AlertResolveChangePoint(ctx, id, service.Principal(ctx).Name); err != nil {
		return nil, fmt.Errorf("resolve alerts of change point %d: %w", id, err)
	}
	service.Audit(ctx, s.Store, s.Log, "change accepted", cp.Team, fmt.Sprintf("%s %s at test %d", cp.Framework, cp.KPI, cp.TestID), fmt.Sprintf("%+.2f%%", cp.DeltaPct))
	cp, err = s.Store.ChangePointGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load change point %d: %w", id, err)
	}
	return cp, nil
}

// KPINames lists the KPI names the tests of a framework the principal may see reported.
func (s *Service) KPINames(ctx context.Context, f *wire.FrameworkInfo) ([]string, error) {
	if err := mayView(ctx, f.Team, f.Name); err != nil {
		return nil, err
	}
	names, err := s.Store.FrameworkKPINames(ctx, f.Team, f.Name)
	if err != nil {
		return nil, fmt.Errorf("KPI names of %s: %w", f.Name, err)
	}
	return names, nil
}

// Trend is one page, newest first, of a KPI's value over the finished
// tests the filter picks, each with its verdict on the KPI, and how many
// tests the filter picks in all.
func (s *Service) Trend(ctx context.Context, f store.TrendFilter) ([]store.TrendPoint, int, error) {
	if err := mayView(ctx, f.Team, f.Framework); err != nil {
		return nil, 0, err
	}
	points, total, err := s.Store.KPITrend(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("trend of %s %s: %w", f.Framework, f.KPI, err)
	}
	finishedVerdicts(points)
	return points, total, nil
}

// Trends is Trend for several KPIs in one query: each KPI's page of
// points and how many tests have it, by KPI (f.KPI is not used).
func (s *Service) Trends(ctx context.Context, f store.TrendFilter, kpis []string) (map[string][]store.TrendPoint, map[string]int, error) {
	if err := mayView(ctx, f.Team, f.Framework); err != nil {
		return nil, nil, err
	}
	points, totals, err := s.Store.KPITrends(ctx, f, kpis)
	if err != nil {
		return nil, nil, fmt.Errorf("trends of %s: %w", f.Framework, err)
	}
	for _, ps := range points {
		finishedVerdicts(ps)
	}
	return points, totals, nil
}

// Series lists the branches and parameter sets a framework's finished
// tests with the KPI (any KPI when kpi is "") were run with, newest first.
func (s *Service) Series(ctx context.Context, f *wire.FrameworkInfo, kpi string) ([]store.TrendSeries, error) {
	if err := mayView(ctx, f.Team, f.Name); err != nil {
		return nil, err
	}
	series, err := s.Store.KPITrendSeries(ctx, f.Team, f.Name, kpi)
	if err != nil {
		return nil, fmt.Errorf("series of %s: %w", f.Name, err)
	}
	return series, nil
}

// TrendLines is a KPI's every point, newest first, with the series they
// make, when there are fewer than max (whole false otherwise: then ask
// Series and Trend): one query for what those two answer together.
func (s *Service) TrendLines(ctx context.Context, f *wire.FrameworkInfo, kpi string, max int) (points []store.TrendPoint, series []store.TrendSeries, whole bool, err error) {
	if err := mayView(ctx, f.Team, f.Name); err != nil {
		return nil, nil, false, err
	}
	points, series, whole, err = s.Store.KPITrendLines(ctx, f.Team, f.Name, kpi, max)
	if err != nil {
		return nil, nil, false, fmt.Errorf("trend of %s %s: %w", f.Name, kpi, err)
	}
	finishedVerdicts(points)
	return points, series, whole, nil
}

// finishedVerdicts gives trend points (finished tests all) the verdict a
// finished test shows when it has none stored on the KPI.
func finishedVerdicts(points []store.TrendPoint) {
	for i := range points {
		points[i].Verdict = tests.Verdict(wire.StateFinished, points[i].Verdict)
	}
}

// Level is a KPI history's accepted level as the next test of it would be
// judged against: the mean of its baseline tests, and the KPI's threshold.
type Level struct {
	// Mean is the mean of the baseline tests' means.
	Mean float64
	// Tests are the baseline tests, newest first.
	Tests []int64
	// Threshold is the KPI's verdict threshold as a fraction (0: none,
	// any significant change counts).
	Threshold float64
}

// Level returns the accepted level of the KPI history head belongs to (a
// framework's tests with head's parameter values on its baseline branch),
// as a test after head would be judged against it; nil when no test
// qualifies.
func (s *Service) Level(ctx context.Context, f *wire.FrameworkInfo, kpi string, head int64) (*Level, error) {
	if err := mayView(ctx, f.Team, f.Name); err != nil {
		return nil, err
	}
	cps, err := s.Store.ChangePointsOf(ctx, head, kpi)
	if err != nil {
		return nil, fmt.Errorf("change points of %s: %w", kpi, err)
	}
	units, err := s.Store.KPIUnits(ctx, head)
	if err != nil {
		return nil, fmt.Errorf("KPI units of test %d: %w", head, err)
	}
	level := judge.LevelBefore(cps, head+1)
	level.AnyHardware = !f.SameHardware()
	ids, err := s.Store.BaselineAfter(ctx, head, f.BaselineBranch, kpi, units[kpi], level, store.BaselineMax)
	if err != nil {
		return nil, fmt.Errorf("accepted level of %s: %w", kpi, err)
	}
	values, err := s.Store.KPIValues(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("accepted level of %s: %w", kpi, err)
	}
	l := &Level{}
	for _, id := range ids {
		vs := values[id][kpi]
		if len(vs) == 0 {
			continue
		}
		var sum float64
		for _, v := range vs {
			sum += v
		}
		l.Mean += sum / float64(len(vs))
		l.Tests = append(l.Tests, id)
	}
	if len(l.Tests) == 0 {
		return nil, nil
	}
	l.Mean /= float64(len(l.Tests))
	for _, k := range f.KPIs {
		if k.Name == kpi {
			l.Threshold, _ = framework.ParseThreshold(k.Threshold)
		}
	}
	return l, nil
}

// Neighbours returns, for each given change point test of a KPI's
// history, up to n tests before it and n from it on: what to compare
// across the change.
func (s *Service) Neighbours(ctx context.Context, f *wire.FrameworkInfo, kpi string, testIDs []int64, n int) (map[int64]store.Neighbours, error) {
	if err := mayView(ctx, f.Team, f.Name); err != nil {
		return nil, err
	}
	list, err := s.Store.ChangePointNeighbours(ctx, testIDs, f.BaselineBranch, kpi, n)
	if err != nil {
		return nil, fmt.Errorf("tests around the change points of %s: %w", kpi, err)
	}
	out := make(map[int64]store.Neighbours, len(list))
	for _, nb := range list {
		out[nb.TestID] = nb
	}
	return out, nil
}

// Open lists the newest change points of the teams the principal may see
// that nobody accepted (weak ones left out), at most limit.
func (s *Service) Open(ctx context.Context, limit int) ([]store.ChangePoint, error) {
	teams, all := service.Principal(ctx).ViewableTeams()
	list, err := s.Store.ChangePointsOpen(ctx, teams, all, limit)
	if err != nil {
		return nil, fmt.Errorf("open change points: %w", err)
	}
	return list, nil
}
