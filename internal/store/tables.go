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

// TableNames lists a test's tables by name.
func (s *Store) TableNames(ctx context.Context, testID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM test_tables WHERE test_id = $1 ORDER BY name`, testID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// TableJSON returns one table of a test in its JSON form (results.Table)
// as PostgreSQL writes it, without decoding it.
func (s *Store) TableJSON(ctx context.Context, testID int64, name string) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT json_build_object('name', name, 'header', header, 'rows', rows, 'numeric', numeric)::text
		FROM test_tables WHERE test_id = $1 AND name = $2`, testID, name).Scan(&b)
	return b, notFound(err)
}

// TableHead is the start of a table: its first rows and how many it has.
type TableHead struct {
	results.Table
	// RowCount is how many rows the whole table has.
	RowCount int
}

// TableHeads returns a test's tables with at most rows rows each: the
// rest of each table is left in the database, not read.
func (s *Store) TableHeads(ctx context.Context, testID int64, rows int) ([]TableHead, error) {
	r, err := s.pool.Query(ctx, `SELECT name, header, numeric, jsonb_array_length(rows),
			jsonb_path_query_array(rows, ('$[0 to ' || $2::int || ']')::jsonpath)
		FROM test_tables WHERE test_id = $1 ORDER BY name`, testID, max(rows, 1)-1)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(r, func(r pgx.CollectableRow) (TableHead, error) {
		var (
			t                     TableHead
			header, body, numeric []byte
		)
		if err := r.Scan(&t.Name, &header, &numeric, &t.RowCount, &body); err != nil {
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
		if rows <= 0 {
			t.Rows = nil
		}
		return t, nil
	})
}
