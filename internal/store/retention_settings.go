// Retention settings: a team's retention, pinned tests and what
// retention did to a test (the run itself is in retention.go).

package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Retention is how long a team's data is kept (docs/retention.md).
type Retention struct {
	// RawDays keeps raw samples; Rollup10sDays and Rollup1mDays keep the
	// 10-second and 1-minute roll-ups; LogDays keeps output lines.
	RawDays, Rollup10sDays, Rollup1mDays, LogDays int
	// ArtifactMaxBytes bounds the size of a team's artifacts: past it the
	// oldest tests' artifacts go.
	ArtifactMaxBytes int64
}

// DefaultRetention is the retention of a team that has set none.
var DefaultRetention = Retention{RawDays: 30, Rollup10sDays: 365, Rollup1mDays: 365, LogDays: 90, ArtifactMaxBytes: 10 << 30}

// Roll-up steps, finest first.
const (
	Rollup10s = 10_000
	Rollup1m  = 60_000
)

// RetentionGet returns a team's retention, and whether the team set it
// (else it is DefaultRetention).
func (s *Store) RetentionGet(ctx context.Context, team string) (Retention, bool, error) {
	r := DefaultRetention
	err := s.pool.QueryRow(ctx, `SELECT raw_days, rollup_10s_days, rollup_1m_days, log_days, artifact_max_bytes
		FROM team_retention WHERE team = $1`, team).
		Scan(&r.RawDays, &r.Rollup10sDays, &r.Rollup1mDays, &r.LogDays, &r.ArtifactMaxBytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return DefaultRetention, false, nil
	}
	return r, err == nil, err
}

// RetentionSet sets a team's retention.
func (s *Store) RetentionSet(ctx context.Context, team string, r Retention, by string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO team_retention
		(team, raw_days, rollup_10s_days, rollup_1m_days, log_days, artifact_max_bytes, updated_by, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now())
		ON CONFLICT (team) DO UPDATE SET raw_days = $2, rollup_10s_days = $3, rollup_1m_days = $4,
			log_days = $5, artifact_max_bytes = $6, updated_by = $7, updated_at = now()`,
		team, r.RawDays, r.Rollup10sDays, r.Rollup1mDays, r.LogDays, r.ArtifactMaxBytes, by)
	return err
}

// TestPinSet pins or unpins a test.
func (s *Store) TestPinSet(ctx context.Context, id int64, pinned bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE tests SET pinned = $2 WHERE id = $1`, id, pinned)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// TestRetention is what retention did to one test.
type TestRetention struct {
	Pinned bool
	// Kept says why retention keeps the test's data whatever its age
	// (pinned, baseline, running, alert), empty when it does not.
	Kept                                                     []string
	RolledUpAt, RawExpiredAt, LogsExpiredAt, ArtifactsGoneAt *time.Time
}

// TestRetentionGet returns what retention did to a test and why it keeps it.
func (s *Store) TestRetentionGet(ctx context.Context, id int64) (TestRetention, error) {
	var r TestRetention
	var baseline, running, alert bool
	err := s.pool.QueryRow(ctx, `SELECT t.pinned, t.baseline, t.ended_at IS NULL,
			EXISTS (SELECT FROM alerts a WHERE a.state <> 'resolved' AND (a.first_test = t.id OR a.last_test = t.id
				OR EXISTS (SELECT FROM alert_events e WHERE e.alert_id = a.id AND e.test_id = t.id))),
			r.rolled_up_at, r.raw_expired_at, r.logs_expired_at, r.artifacts_expired_at
		FROM tests t LEFT JOIN test_retention r ON r.test_id = t.id WHERE t.id = $1`, id).
		Scan(&r.Pinned, &baseline, &running, &alert, &r.RolledUpAt, &r.RawExpiredAt, &r.LogsExpiredAt, &r.ArtifactsGoneAt)
	if err != nil {
		return r, notFound(err)
	}
	for _, k := range []struct {
		on   bool
		name string
	}{{r.Pinned, "pinned"}, {baseline, "baseline"}, {running, "running"}, {alert, "alert"}} {
		if k.on {
			r.Kept = append(r.Kept, k.name)
		}
	}
	return r, nil
}
