package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/api"
)

// LogTail returns a test's last n output lines, oldest first, for pages
// that show the end of a log without reading all of it.
func (s *Store) LogTail(ctx context.Context, testID int64, n int) ([]api.LogLine, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, ts, stream, line FROM (
		SELECT id, ts, stream, line FROM test_logs WHERE test_id = $1 ORDER BY id DESC LIMIT $2) t ORDER BY id`, testID, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (api.LogLine, error) {
		var l api.LogLine
		err := r.Scan(&l.ID, &l.TS, &l.Stream, &l.Line)
		return l, err
	})
}
