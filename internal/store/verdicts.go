package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/verdict"
	"github.com/pitwall/pitwall/internal/wire"
)

// BaselineMax is how many recent baseline tests a verdict looks at.
const BaselineMax = 20

// BaselineFor picks the tests a test is judged against: the one it was
// asked to be compared to, else the most recent finished tests of the same
// framework with the same parameter values on the baseline branch (or
// marked as baselines), older than it.
func (s *Store) BaselineFor(ctx context.Context, testID int64, baselineBranch string) ([]int64, error) {
	var compareTo *int64
	if err := s.pool.QueryRow(ctx, `SELECT compare_to FROM tests WHERE id = $1`, testID).Scan(&compareTo); err != nil {
		return nil, notFound(err)
	}
	if compareTo != nil {
		return []int64{*compareTo}, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT b.id FROM tests b JOIN tests t ON t.id = $1
		WHERE b.framework_id = t.framework_id AND b.id < t.id AND b.state = 'finished'
		  AND b.params = t.params AND (b.branch = $2 OR b.baseline)
		ORDER BY b.id DESC LIMIT $3`, testID, baselineBranch, BaselineMax)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// KPIValues returns each test's KPI values, by test and KPI name, one per iteration.
func (s *Store) KPIValues(ctx context.Context, ids []int64) (map[int64]map[string][]float64, error) {
	rows, err := s.pool.Query(ctx, `SELECT test_id, name, value FROM test_kpis WHERE test_id = ANY($1) ORDER BY test_id, iteration`, ids)
	if err != nil {
		return nil, err
	}
	out := map[int64]map[string][]float64{}
	var (
		id   int64
		name string
		v    float64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &name, &v}, func() error {
		if out[id] == nil {
			out[id] = map[string][]float64{}
		}
		out[id][name] = append(out[id][name], v)
		return nil
	})
	return out, err
}

// VerdictStore records a test's verdicts (replacing earlier ones).
func (s *Store) VerdictStore(ctx context.Context, testID int64, overall string, baseline []int64, results map[string]verdict.Result) error {
	if baseline == nil {
		baseline = []int64{}
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE tests SET verdict = $2, baseline_tests = $3 WHERE id = $1`, testID, overall, baseline); err != nil {
			return fmt.Errorf("test verdict: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM test_kpi_verdicts WHERE test_id = $1`, testID); err != nil {
			return err
		}
		for name, r := range results {
			if _, err := tx.Exec(ctx, `INSERT INTO test_kpi_verdicts (test_id, kpi, verdict, delta_pct, ci_low_pct, ci_high_pct,
				p_value, method, baseline_n, candidate_n, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
				testID, name, r.Verdict, r.DeltaPct, r.CILowPct, r.CIHighPct, r.PValue, r.Method, r.BaselineN, r.CandidateN, r.Evidence); err != nil {
				return fmt.Errorf("KPI verdict %s: %w", name, err)
			}
		}
		return nil
	})
}

func (s *Store) testVerdicts(ctx context.Context, id int64) ([]wire.KPIVerdict, error) {
	rows, err := s.pool.Query(ctx, `SELECT kpi, verdict, delta_pct, ci_low_pct, ci_high_pct, p_value, method, baseline_n,
		candidate_n, evidence FROM test_kpi_verdicts WHERE test_id = $1 ORDER BY kpi`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[wire.KPIVerdict])
}
