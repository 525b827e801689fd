package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/wire"
)

// LogIngest writes a batch of output lines with COPY, once.
func (s *Store) LogIngest(ctx context.Context, b *ingest.Logs) (int, error) {
	written := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		fresh, err := claimBatch(ctx, tx, b.TestID, b.Host, "logs", b.Batch)
		if err != nil || !fresh {
			return err
		}
		i := 0
		row := make([]any, 4)
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"test_logs"}, []string{"test_id", "ts", "stream", "line"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i >= len(b.Lines) {
					return nil, nil
				}
				l := &b.Lines[i]
				row[0], row[1], row[2], row[3] = b.TestID, time.UnixMilli(l.TS), l.Stream, l.Text
				i++
				return row, nil
			}))
		written = int(n)
		if err != nil {
			return fmt.Errorf("log copy: %w", err)
		}
		return nil
	})
	return written, err
}

// LogList returns a test's output lines after the cursor, oldest first.
func (s *Store) LogList(ctx context.Context, testID, after int64, limit int) ([]wire.LogLine, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, ts, stream, line FROM test_logs
		WHERE test_id = $1 AND id > $2 ORDER BY id LIMIT $3`, testID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanLogLine)
}

// LogTail returns a test's last n output lines, oldest first, for pages
// that show the end of a log without reading all of it.
func (s *Store) LogTail(ctx context.Context, testID int64, n int) ([]wire.LogLine, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, ts, stream, line FROM (
		SELECT id, ts, stream, line FROM test_logs WHERE test_id = $1 ORDER BY id DESC LIMIT $2) t ORDER BY id`, testID, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanLogLine)
}

func scanLogLine(r pgx.CollectableRow) (wire.LogLine, error) {
	var l wire.LogLine
	err := r.Scan(&l.ID, &l.TS, &l.Stream, &l.Line)
	return l, err
}
