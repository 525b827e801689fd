package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
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
var sampleChunkColumns = []string{"test_id", "host", "metric", "first_ts", "last_ts", "n", "dts", "vals", "batch"}

// A chunk keeps its times as deltas (migration 00026): dts[0] is the first
// time's offset from first_ts (0 as Pitwall writes them), dts[i] the
// distance from time i-1, in milliseconds; its values as real.

// chunkEncode returns the deltas and values of the points ts, vals (in
// time order) from ts[0], up to maxChunk of them and no further than a
// delta fits an integer; end is how many it took. dts and v are reused.
func chunkEncode(ts []int64, vals []float64, dts []int32, v []float32) (d []int32, f []float32, end int) {
	d, f = dts[:0], v[:0]
	prev := ts[0]
	for i := 0; i < len(ts) && i < maxChunk; i++ {
		delta := ts[i] - prev
		if delta > math.MaxInt32 {
			break
		}
		d, f = append(d, int32(delta)), append(f, float32(vals[i]))
		prev = ts[i]
	}
	return d, f, len(d)
}

// chunkDecode turns a chunk's first time (Unix ms) and deltas into
// absolute times.
func chunkDecode(first int64, dts []int32) []int64 {
	ts := make([]int64, len(dts))
	t := first
	for i, d := range dts {
		t += int64(d)
		ts[i] = t
	}
	return ts
}

// sampleChunksCopy writes series as sample_chunks rows of a test with COPY:
// each series sorted by time and cut into chunks of at most maxChunk
// points. It returns the points written.
func sampleChunksCopy(ctx context.Context, tx pgx.Tx, testID int64, batch string, series []wire.Series) (int, error) {
	points := 0
	si, off := 0, 0
	row := make([]any, len(sampleChunkColumns))
	var dts []int32
	var vals []float32
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
			var n int
			dts, vals, n = chunkEncode(s.TS[off:], s.Values[off:], dts, vals)
			ts := s.TS[off : off+n]
			row[0], row[1], row[2] = testID, s.Host, s.Metric
			row[3], row[4], row[5] = time.UnixMilli(ts[0]), time.UnixMilli(ts[n-1]), n
			row[6], row[7], row[8] = dts, vals, batch
			points += n
			off += n
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

// seriesMerge reads chunk rows (host, metric, first time in Unix ms,
// deltas, values; seriesSource's columns) ordered by
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
		first      int64
		dts        []int32
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
	_, err := pgx.ForEachRow(rows, []any{&host, &name, &first, &dts, &vals}, func() error {
		ts = chunkDecode(first, dts)
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
// monitor sends one a second for each of its series. A series with one
// small chunk is left as it is: merging it would write the same chunk
// again (every series of a short test: in the throughput bench that
// rewrite was PostgreSQL's costliest statement, 5.8 ms a test).
func (s *Store) SampleCompact(ctx context.Context, testID int64, host string) error {
	_, err := s.pool.Exec(ctx, `
		WITH small AS (
			DELETE FROM sample_chunks WHERE test_id = $1 AND host = $2 AND n < $3
			  AND metric IN (SELECT metric FROM sample_chunks WHERE test_id = $1 AND host = $2 AND n < $3
			                 GROUP BY metric HAVING count(*) > 1)
			RETURNING metric, first_ts, dts, vals
		), points AS (
			SELECT metric, p.t, p.v, row_number() OVER (PARTITION BY metric ORDER BY p.t, first_ts, p.o) - 1 AS i
			FROM small, unnest(sample_ts(small.first_ts, small.dts), small.vals) WITH ORDINALITY AS p (t, v, o)
		), chunked AS (
			SELECT metric, t, v, i, i / $4 AS c,
			       t - coalesce(lag(t) OVER (PARTITION BY metric, i / $4 ORDER BY i), t) AS d
			FROM points
		)
		INSERT INTO sample_chunks (test_id, host, metric, first_ts, last_ts, n, dts, vals, batch)
		SELECT $1, $2, metric, 'epoch'::timestamptz + min(t) * interval '1 millisecond',
		       'epoch'::timestamptz + max(t) * interval '1 millisecond', count(*),
		       array_agg(d::integer ORDER BY i), array_agg(v ORDER BY i), 'compacted'
		FROM chunked GROUP BY metric, c`, testID, host, SmallChunk, maxChunk)
	if err != nil {
		return fmt.Errorf("sample compact: %w", err)
	}
	return nil
}
