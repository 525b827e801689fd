package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/wire"
)

// PromQueriesStore replaces what a test's PromQL queries answered.
func (s *Store) PromQueriesStore(ctx context.Context, testID int64, qs []wire.PromQuery) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM test_prom_queries WHERE test_id = $1`, testID); err != nil {
			return err
		}
		for _, q := range qs {
			warnings, _ := json.Marshal(q.Warnings)
			if q.Warnings == nil {
				warnings = []byte("[]")
			}
			var raw any
			if len(q.Raw) > 0 {
				raw = string(q.Raw)
			}
			_, err := tx.Exec(ctx, `
				INSERT INTO test_prom_queries (test_id, name, kind, query, window_start, window_end, step_ms,
				                               evaluated_at, raw, value, problem, warnings, aggregate, samples)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12::jsonb, $13, $14)`,
				testID, q.Name, q.Kind, q.Query, q.WindowStart, q.WindowEnd, q.StepMS, q.EvaluatedAt, raw, q.Value, q.Problem,
				string(warnings), q.Aggregate, q.Samples)
			if err != nil {
				return fmt.Errorf("store query %s: %w", q.Name, err)
			}
		}
		return nil
	})
}

// PromQueriesGet lists a test's PromQL queries in name order.
func (s *Store) PromQueriesGet(ctx context.Context, testID int64) ([]wire.PromQuery, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT name, kind, query, window_start, window_end, step_ms, evaluated_at, raw::text, value, problem, warnings,
		       aggregate, samples
		FROM test_prom_queries WHERE test_id = $1 ORDER BY name`, testID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []wire.PromQuery{}
	for rows.Next() {
		var (
			q        wire.PromQuery
			raw      *string
			warnings []byte
		)
		if err := rows.Scan(&q.Name, &q.Kind, &q.Query, &q.WindowStart, &q.WindowEnd, &q.StepMS, &q.EvaluatedAt,
			&raw, &q.Value, &q.Problem, &warnings, &q.Aggregate, &q.Samples); err != nil {
			return nil, err
		}
		if raw != nil {
			q.Raw = json.RawMessage(*raw)
		}
		if err := json.Unmarshal(warnings, &q.Warnings); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// KPISamples are the samples of a KPI's PromQL range query in each of the
// tests that has them (a test whose query gave a problem has none).
func (s *Store) KPISamples(ctx context.Context, testIDs []int64, kpi string) (map[int64][]float64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT test_id, samples FROM test_prom_queries
		WHERE test_id = ANY($1) AND name = $2 AND kind = 'kpi' AND samples IS NOT NULL AND problem = ''`, testIDs, kpi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]float64{}
	for rows.Next() {
		var (
			id      int64
			samples []float64
		)
		if err := rows.Scan(&id, &samples); err != nil {
			return nil, err
		}
		if len(samples) > 0 {
			out[id] = samples
		}
	}
	return out, rows.Err()
}
