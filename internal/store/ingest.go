package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/wire"
)

// fkNotFound turns a foreign-key violation (no such test) into ErrNotFound.
func fkNotFound(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return ErrNotFound
	}
	return err
}

// TestHeldHost reports whether a test ever held a host (ErrNotFound: no
// such test): the check on every ingest batch, so one light query.
func (s *Store) TestHeldHost(ctx context.Context, testID int64, host string) (bool, error) {
	var held bool
	err := s.pool.QueryRow(ctx, `SELECT $2 = ANY (hosts) FROM tests WHERE id = $1`, testID, host).Scan(&held)
	return held, notFound(err)
}

// claimBatch records a batch as delivered; false when it already was.
func claimBatch(ctx context.Context, tx pgx.Tx, testID int64, host, kind, batch string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO ingest_batches (test_id, host, kind, batch) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, testID, host, kind, batch)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign key: no such test
		return false, ErrNotFound
	}
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// SampleIngest writes a batch of samples with COPY, once: a batch that was
// already written (an agent's retry) is skipped. Each series becomes one
// sample_chunks row per maxChunk points. It reports the samples written.
func (s *Store) SampleIngest(ctx context.Context, b *ingest.Samples) (int, error) {
	series := make([]wire.Series, 0, len(b.Series))
	for _, ser := range b.Series {
		if len(ser.TS) > 0 {
			series = append(series, wire.Series{Host: b.Host, Metric: ser.Metric, TS: ser.TS, Values: ser.Values})
		}
	}
	written := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		fresh, err := claimBatch(ctx, tx, b.TestID, b.Host, "samples", b.Batch)
		if err != nil || !fresh {
			return err
		}
		written, err = sampleChunksCopy(ctx, tx, b.TestID, b.Batch, series)
		return err
	})
	return written, err
}

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

// SampleCount counts a test's samples per host, for pages and tests.
func (s *Store) SampleCount(ctx context.Context, testID int64) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT host, sum(n) FROM sample_chunks WHERE test_id = $1 GROUP BY host`, testID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var h string
		var n int
		if err := rows.Scan(&h, &n); err != nil {
			return nil, err
		}
		out[h] = n
	}
	return out, rows.Err()
}
