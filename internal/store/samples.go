package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/wire"
)

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
