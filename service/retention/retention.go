// Package retention is the service for retention: a team's retention
// settings, and pinning tests so that retention keeps them
// (docs/retention.md). The retention job itself is the central worker's
// RetentionRun activity.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
)

// Service runs the retention operations.
type Service struct {
	Store *store.Store
	Tests *tests.Service
	Log   *slog.Logger
}

// MaxDays bounds every retention in days (ten years).
const MaxDays = 3650

// Settings returns a team's retention, for anyone who may see the team.
func (s *Service) Settings(ctx context.Context, team string) (*wire.Retention, error) {
	team = service.TeamOr(team)
	if !service.MayView(ctx, team) {
		return nil, service.Errorf(service.NotFound, "team", "team %q not found", team)
	}
	if err := s.teamExists(ctx, team); err != nil {
		return nil, err
	}
	r, set, err := s.Store.RetentionGet(ctx, team)
	if err != nil {
		return nil, fmt.Errorf("retention of %s: %w", team, err)
	}
	out := toWire(team, r)
	out.Default = !set
	return out, nil
}

// SetSettings sets a team's retention: the team's admins.
func (s *Service) SetSettings(ctx context.Context, team string, in wire.Retention) (*wire.Retention, error) {
	team = service.TeamOr(team)
	if !service.MayView(ctx, team) {
		return nil, service.Errorf(service.NotFound, "team", "team %q not found", team)
	}
	if !service.Principal(ctx).Can(team, auth.Admin) {
		return nil, service.NotAllowed(fmt.Sprintf("changing team %q's retention needs the admin role there", team))
	}
	if in.Team != "" && in.Team != team {
		return nil, service.InvalidField("team", fmt.Sprintf("team %q in the body is not the path's %q", in.Team, team))
	}
	for _, d := range []struct {
		field string
		v     int
	}{{"raw_days", in.RawDays}, {"rollup_10s_days", in.Rollup10sDays}, {"rollup_1m_days", in.Rollup1mDays}, {"log_days", in.LogDays}} {
		if d.v < 1 || d.v > MaxDays {
			return nil, service.InvalidField(d.field, fmt.Sprintf("%s must be between 1 and %d days", d.field, MaxDays))
		}
	}
	if in.ArtifactMaxBytes < 0 {
		return nil, service.InvalidField("artifact_max_bytes", "artifact_max_bytes must not be negative")
	}
	r := store.Retention{RawDays: in.RawDays, Rollup10sDays: in.Rollup10sDays, Rollup1mDays: in.Rollup1mDays,
		LogDays: in.LogDays, ArtifactMaxBytes: in.ArtifactMaxBytes}
	if err := s.teamExists(ctx, team); err != nil {
		return nil, err
	}
	if err := s.Store.RetentionSet(ctx, team, r, service.Principal(ctx).Name); err != nil {
		return nil, fmt.Errorf("set retention of %s: %w", team, err)
	}
	service.Audit(ctx, s.Store, s.Log, "retention changed", team, "team "+team,
		fmt.Sprintf("raw %dd, 10s roll-ups %dd, 1m roll-ups %dd, logs %dd, artifacts %d bytes",
			r.RawDays, r.Rollup10sDays, r.Rollup1mDays, r.LogDays, r.ArtifactMaxBytes))
	return toWire(team, r), nil
}

// teamExists is NotFound for a team that does not exist.
func (s *Service) teamExists(ctx context.Context, team string) error {
	ok, err := s.Store.TeamExists(ctx, team)
	if err != nil {
		return fmt.Errorf("team %s: %w", team, err)
	}
	if !ok {
		return service.Errorf(service.NotFound, "team", "team %q not found", team)
	}
	return nil
}

func toWire(team string, r store.Retention) *wire.Retention {
	return &wire.Retention{Team: team, RawDays: r.RawDays, Rollup10sDays: r.Rollup10sDays, Rollup1mDays: r.Rollup1mDays,
		LogDays: r.LogDays, ArtifactMaxBytes: r.ArtifactMaxBytes}
}

// Test says whether retention keeps a test and what it removed, for
// anyone who may see the test.
func (s *Service) Test(ctx context.Context, id int64) (*wire.TestRetention, error) {
	if _, err := s.Tests.View(ctx, id); err != nil {
		return nil, err
	}
	return s.test(ctx, id)
}

func (s *Service) test(ctx context.Context, id int64) (*wire.TestRetention, error) {
	r, err := s.Store.TestRetentionGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "id", "test %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("retention of test %d: %w", id, err)
	}
	kept := r.Kept
	if kept == nil {
		kept = []string{}
	}
	return &wire.TestRetention{ID: id, Pinned: r.Pinned, Kept: kept, RolledUpAt: r.RolledUpAt,
		RawExpiredAt: r.RawExpiredAt, LogsExpiredAt: r.LogsExpiredAt, ArtifactsExpiredAt: r.ArtifactsGoneAt}, nil
}

// Pin pins (or unpins) a test, so that retention keeps its samples, logs
// and artifacts whatever their age: the test's owner and the team's admins.
func (s *Service) Pin(ctx context.Context, id int64, pinned bool) (*wire.TestRetention, error) {
	t, err := s.Tests.View(ctx, id)
	if err != nil {
		return nil, err
	}
	if !tests.MayModify(ctx, t) {
		return nil, service.NotAllowed("only the test's owner and the team's admins pin or unpin it")
	}
	if err := s.Store.TestPinSet(ctx, id, pinned); err != nil {
		return nil, fmt.Errorf("pin test %d: %w", id, err)
	}
	what := "test unpinned"
	if pinned {
		what = "test pinned"
	}
	service.Audit(ctx, s.Store, s.Log, what, t.Team, fmt.Sprintf("test %d", id), "")
	return s.test(ctx, id)
}
