package store

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/results"
)

// TableList returns a test's tables.
func (s *Store) TableList(ctx context.Context, testID int64) ([]results.Table, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, header, rows, numeric FROM test_tables WHERE test_id = $1 ORDER BY name`, testID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (results.Table, error) {
		var (
			t                     results.Table
			header, body, numeric []byte
		)
		if err := r.Scan(&t.Name, &header, &body, &numeric); err != nil {
			return t, err
		}
		for _, j := range []struct {
			b []byte
			v any
		}{{header, &t.Header}, {body, &t.Rows}, {numeric, &t.Numeric}} {
			if err := json.Unmarshal(j.b, j.v); err != nil {
				return t, err
			}
		}
		return t, nil
	})
}
