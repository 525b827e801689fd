package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/framework"
)

// TrendPoint is one finished test's mean of a KPI, for a KPI's trend.
type TrendPoint struct {
	TestID    int64
	CreatedAt time.Time
	Branch    string
	Commit    string
	Verdict   string
	Value     float64
	Params    []framework.Param
}

// TrendFilter picks the tests of a trend: a framework's KPI, optionally on
// one branch and with some parameter values.
type TrendFilter struct {
	Team, Framework, KPI, Branch string
	Params                       []framework.Param
	// Limit keeps the newest Limit tests (default 500).
	Limit int
}

// KPITrend returns, oldest first, the mean of a KPI over each finished test
// of a framework that matches the filter.
func (s *Store) KPITrend(ctx context.Context, f TrendFilter) ([]TrendPoint, error) {
	if f.Limit <= 0 {
		f.Limit = 500
	}
	params := f.Params
	if params == nil {
		params = []framework.Param{}
	}
	want, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, created_at, branch, commit_sha, verdict, value, params FROM (
			SELECT t.id, t.created_at, t.branch, t.commit_sha, t.verdict, avg(k.value) AS value, t.params
			FROM tests t JOIN frameworks f ON f.id = t.framework_id
			JOIN test_kpis k ON k.test_id = t.id AND k.name = $3
			WHERE f.team = $1 AND f.name = $2 AND t.state = 'finished' AND t.confirmation_arm = ''
			  AND ($4 = '' OR t.branch = $4) AND t.params @> $5::jsonb
			GROUP BY t.id ORDER BY t.id DESC LIMIT $6) newest
		ORDER BY id`, f.Team, f.Framework, f.KPI, f.Branch, string(want), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[TrendPoint])
}

// FrameworkKPINames lists the KPI names a framework's tests have reported.
func (s *Store) FrameworkKPINames(ctx context.Context, team, name string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT k.name FROM test_kpis k JOIN tests t ON t.id = k.test_id
		JOIN frameworks f ON f.id = t.framework_id
		WHERE f.team = $1 AND f.name = $2 ORDER BY k.name`, team, name)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
