package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/wire"
)

// maxChunk bounds the points of one sample_chunks row: big enough that a
// row and its index entry are spread over many points, small enough that
// a reader asking for a short range does not decode much it will drop.
const maxChunk = 2000

// SmallChunk is the size under which a chunk is merged with its
// neighbours by SampleCompact. Agents ship every second, so a monitor's
// batches hold a point or two of each series.
const SmallChunk = 50

// sampleChunkColumns are the columns chunkRows fills, in order.
var sampleChunkColumns = []string{"test_id", "host", "metric", "first_ts", "last_ts", "n", "ts", "vals", "batch"}

// sampleChunksCopy writes series as sample_chunks rows of a test with COPY:
// each series sorted by time and cut into chunks of at most maxChunk
// points. It returns the points written.
func sampleChunksCopy(ctx context.Context, tx pgx.Tx, testID int64, batch string, series []wire.Series) (int, error) {
	points := 0
	si, off := 0, 0
	row := make([]any, len(sampleChunkColumns))
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"sample_chunks"}, sampleChunkColumns,
		pgx.CopyFromFunc(func() ([]any, error) {
			for si < len(series) && off >= len(series[si].TS) {
				si, off = si+1, 0
			}
			if si >= len(series) {
				return nil, nil
			}
			s := &series[si]
			if off == 0 {
				sortSeries(s)
			}
			end := min(off+maxChunk, len(s.TS))
			ts, vals := s.TS[off:end], s.Values[off:end]
			row[0], row[1], row[2] = testID, s.Host, s.Metric
			row[3], row[4], row[5] = time.UnixMilli(ts[0]), time.UnixMilli(ts[len(ts)-1]), len(ts)
			row[6], row[7], row[8] = ts, vals, batch
			points += len(ts)
			off = end
			return row, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("sample chunk copy: %w", err)
	}
	return points, nil
}

// sortSeries puts a series' points in time order, keeping the order of
// points at the same instant. Agents send them in order, so this is a check.
func sortSeries(s *wire.Series) {
	if slices.IsSorted(s.TS) {
		return
	}
	idx := make([]int, len(s.TS))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(s.TS[a], s.TS[b]) })
	ts, vals := make([]int64, len(idx)), make([]float64, len(idx))
	for i, j := range idx {
		ts[i], vals[i] = s.TS[j], s.Values[j]
	}
	s.TS, s.Values = ts, vals
}

// seriesMerge reads sample_chunks rows (host, metric, ts, vals) ordered by
// host, metric and first_ts, and calls emit once per series with its points
// in time order: chunks that overlap (a late batch) are merged. keep, when
// not nil, picks the points to return; the slices passed to emit are its
// to keep.
func seriesMerge(rows pgx.Rows, keep func(ts int64) bool, emit func(s wire.Series)) error {
	defer rows.Close()
	var (
		cur        wire.Series
		started    bool
		sorted     = true
		host, name string
		ts         []int64
		vals       []float64
	)
	flush := func() {
		if !started {
			return
		}
		if !sorted {
			sortSeries(&cur)
		}
		emit(cur)
		cur, sorted = wire.Series{}, true
	}
	_, err := pgx.ForEachRow(rows, []any{&host, &name, &ts, &vals}, func() error {
		if !started || cur.Host != host || cur.Metric != name {
			flush()
			cur, started = wire.Series{Host: host, Metric: name}, true
		}
		if len(ts) != len(vals) {
			return fmt.Errorf("sample chunk of %s %s: %d times but %d values", host, name, len(ts), len(vals))
		}
		if keep == nil && cur.TS == nil {
			// The first chunk of a series: its arrays are fresh, so take them.
			cur.TS, cur.Values = ts, vals
			ts, vals = nil, nil
			return nil
		}
		for i, t := range ts {
			if keep != nil && !keep(t) {
				continue
			}
			if n := len(cur.TS); n > 0 && t < cur.TS[n-1] {
				sorted = false
			}
			cur.TS = append(cur.TS, t)
			cur.Values = append(cur.Values, vals[i])
		}
		return nil
	})
	if err != nil {
		return err
	}
	flush()
	return nil
}

// SampleCompact merges the small chunks (under SmallChunk points) that a
// host sent for a test into chunks of up to maxChunk points in time order.
// Each small chunk costs a row and an index entry, as much as the
// one-row-per-sample layout did, and readers decode them one by one; a
// monitor sends one a second for each of its series.
func (s *Store) SampleCompact(ctx context.Context, testID int64, host string) error {
	_, err := s.pool.Exec(ctx, `
		WITH small AS (
			DELETE FROM sample_chunks WHERE test_id = $1 AND host = $2 AND n < $3
			RETURNING metric, first_ts, ts, vals
		), points AS (
			SELECT metric, p.t, p.v, row_number() OVER (PARTITION BY metric ORDER BY p.t, first_ts, p.o) - 1 AS i
			FROM small, unnest(small.ts, small.vals) WITH ORDINALITY AS p (t, v, o)
		)
		INSERT INTO sample_chunks (test_id, host, metric, first_ts, last_ts, n, ts, vals, batch)
		SELECT $1, $2, metric, 'epoch'::timestamptz + min(t) * interval '1 millisecond',
		       'epoch'::timestamptz + max(t) * interval '1 millisecond', count(*),
		       array_agg(t ORDER BY i), array_agg(v ORDER BY i), 'compacted'
		FROM points GROUP BY metric, i / $4`, testID, host, SmallChunk, maxChunk)
	if err != nil {
		return fmt.Errorf("sample compact: %w", err)
	}
	return nil
}
