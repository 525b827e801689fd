package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/framework"
)

// HistoryPoint is one baseline-branch test's mean value of a KPI.
type HistoryPoint struct {
	TestID int64
	Value  float64
}

// KPIHistory returns, oldest first, each finished test's mean of a KPI on
// the baseline branch (or marked as baseline) with the same framework and
// parameter values as the given test, up to it, and the test itself if it
// is one of them (finished or still being judged: the judge reads the
// history while the test is collating). A test of another branch is not
// part of the history it is judged against.
func (s *Store) KPIHistory(ctx context.Context, testID int64, baselineBranch, kpi string) ([]HistoryPoint, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT b.id, avg(k.value) FROM tests b
		JOIN tests t ON t.id = $1
		JOIN test_kpis k ON k.test_id = b.id AND k.name = $3
		WHERE b.framework_id = t.framework_id AND b.id <= t.id AND (b.state = 'finished' OR b.id = t.id) AND (b.confirmation_arm = '' OR b.id = t.id)
		  AND b.params = t.params AND (b.branch = $2 OR b.baseline)
		GROUP BY b.id ORDER BY b.id`, testID, baselineBranch, kpi)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[HistoryPoint])
}

// SeriesHeads returns, for each set of parameter values a team's
// framework was tested with, its latest finished test on the baseline
// branch (or marked as baseline): one test that names each KPI history.
func (s *Store) SeriesHeads(ctx context.Context, team, framework, baselineBranch string) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (t.params) t.id FROM tests t JOIN frameworks f ON f.id = t.framework_id
		WHERE f.team = $1 AND f.name = $2 AND t.state = 'finished' AND t.confirmation_arm = '' AND (t.branch = $3 OR t.baseline)
		ORDER BY t.params, t.id DESC`, team, framework, baselineBranch)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// ChangePoint is a stored change in a KPI's history.
type ChangePoint struct {
	ID        int64   `json:"id"`
	Framework string  `json:"framework"`
	KPI       string  `json:"kpi"`
	TestID    int64   `json:"test_id"`
	Before    float64 `json:"before"`
	After     float64 `json:"after"`
	DeltaPct  float64 `json:"delta_pct"`
	PValue    float64 `json:"p_value"`
	// Weak marks a significant change smaller than the KPI's threshold.
	Weak       bool       `json:"weak"`
	AcceptedBy string     `json:"accepted_by"`
	AcceptedAt *time.Time `json:"accepted_at"`
	CreatedAt  time.Time  `json:"created_at"`
	Team       string     `json:"-"`
	// Params are the parameter values of the tests the series is made of.
	Params []framework.Param `json:"-"`
}

const changePointSelect = `
	SELECT c.id, f.name, c.kpi, c.test_id, c.before_mean, c.after_mean, c.delta_pct, c.p_value, c.weak, c.accepted_by,
	       c.accepted_at, c.created_at, f.team, c.params
	FROM change_points c JOIN frameworks f ON f.id = c.framework_id`

// ChangePointsOf returns the change points of one KPI series of a test
// (same framework and parameters), oldest first.
func (s *Store) ChangePointsOf(ctx context.Context, testID int64, kpi string) ([]ChangePoint, error) {
	rows, err := s.pool.Query(ctx, changePointSelect+`
		JOIN tests t ON t.id = $1
		WHERE c.framework_id = t.framework_id AND c.params = t.params AND c.kpi = $2 ORDER BY c.test_id`, testID, kpi)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ChangePoint])
}

// ChangePointsReplaceFrom stores the change points of a series: from test
// fromTest on, stored ones no longer found go (accepted ones stand); the
// rest are updated in place, so a change point keeps its ID.
func (s *Store) ChangePointsReplaceFrom(ctx context.Context, testID int64, kpi string, fromTest int64, pts []ChangePoint) error {
	found := make([]int64, 0, len(pts))
	for _, p := range pts {
		found = append(found, p.TestID)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM change_points c USING tests t
			WHERE t.id = $1 AND c.framework_id = t.framework_id AND c.params = t.params AND c.kpi = $2
			  AND c.test_id >= $3 AND c.accepted_at IS NULL AND c.test_id <> ALL($4)`, testID, kpi, fromTest, found); err != nil {
			return err
		}
		for _, p := range pts {
			if _, err := tx.Exec(ctx, `INSERT INTO change_points (framework_id, kpi, params, test_id, before_mean, after_mean, delta_pct, p_value, weak)
				SELECT t.framework_id, $2, t.params, $3, $4, $5, $6, $7, $8 FROM tests t WHERE t.id = $1
				ON CONFLICT (framework_id, kpi, params, test_id) DO UPDATE SET before_mean = EXCLUDED.before_mean,
					after_mean = EXCLUDED.after_mean, delta_pct = EXCLUDED.delta_pct, p_value = EXCLUDED.p_value,
					weak = EXCLUDED.weak`,
				testID, kpi, p.TestID, p.Before, p.After, p.DeltaPct, p.PValue, p.Weak); err != nil {
				return fmt.Errorf("change point: %w", err)
			}
		}
		return nil
	})
}

// ChangePointList lists a framework's change points, newest first.
func (s *Store) ChangePointList(ctx context.Context, team, framework string) ([]ChangePoint, error) {
	rows, err := s.pool.Query(ctx, changePointSelect+` WHERE f.team = $1 AND f.name = $2 ORDER BY c.test_id DESC, c.kpi`, team, framework)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ChangePoint])
}

// ChangePointGet returns one change point.
func (s *Store) ChangePointGet(ctx context.Context, id int64) (*ChangePoint, error) {
	rows, err := s.pool.Query(ctx, changePointSelect+` WHERE c.id = $1`, id)
	if err != nil {
		return nil, err
	}
	cp, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[ChangePoint])
	if err != nil {
		return nil, notFound(err)
	}
	return &cp, nil
}

// ChangePointAccept marks a change as intended.
func (s *Store) ChangePointAccept(ctx context.Context, id int64, by string) error {
	_, err := s.pool.Exec(ctx, `UPDATE change_points SET accepted_by = $2, accepted_at = now() WHERE id = $1`, id, by)
	return err
}

// ChangePointsOpen lists the newest change points nobody accepted that
// are not weak, of the teams given (all teams when all), at most limit.
func (s *Store) ChangePointsOpen(ctx context.Context, teams []string, all bool, limit int) ([]ChangePoint, error) {
	if teams == nil {
		teams = []string{}
	}
	rows, err := s.pool.Query(ctx, changePointSelect+`
		WHERE c.accepted_at IS NULL AND NOT c.weak AND ($1::boolean OR f.team = ANY($2::text[]))
		ORDER BY c.id DESC LIMIT $3`, all, teams, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ChangePoint])
}
