package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/wire"
)

// SeriesQuery picks a test's samples: by host and metric (exact, or a
// prefix ending in *), within a time range, at most Points per series.
type SeriesQuery struct {
	TestID   int64
	Host     string
	Metric   string
	From, To time.Time
	Step     time.Duration
	Points   int
}

// SeriesRange returns the first and last sample time of a test (of its
// roll-ups' buckets once its raw samples are gone).
func (s *Store) SeriesRange(ctx context.Context, testID int64) (time.Time, time.Time, bool, error) {
	var from, to *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(first_ts), max(last_ts) FROM sample_chunks WHERE test_id = $1`, testID).Scan(&from, &to)
	if err == nil && from == nil {
		err = s.pool.QueryRow(ctx, `SELECT min(first_ts), max(`+rollupLastTS+`) FROM sample_rollups WHERE test_id = $1
			AND step_ms = (SELECT min(step_ms) FROM sample_rollups WHERE test_id = $1)`, testID).Scan(&from, &to)
	}
	if err != nil || from == nil {
		return time.Time{}, time.Time{}, false, err
	}
	return *from, *to, true, nil
}

// rollupLastTS is a roll-up row's last bucket's start: its buckets' index
// times the step after first_ts (00031 keeps no column for it).
const rollupLastTS = `(first_ts + coalesce(idx[cardinality(avg)], cardinality(avg) - 1) * step_ms * interval '1 millisecond')`

// SeriesRollup is the roll-up step (milliseconds) a test's series are read
// from: 0 while its raw samples are there, else its finest roll-up's step
// (0 too when it has none).
func (s *Store) SeriesRollup(ctx context.Context, testID int64) (int64, error) {
	var step int64
	err := s.pool.QueryRow(ctx, `SELECT CASE WHEN EXISTS (SELECT FROM sample_chunks WHERE test_id = $1) THEN 0
		ELSE coalesce((SELECT min(step_ms) FROM sample_rollups WHERE test_id = $1), 0) END`, testID).Scan(&step)
	return step, err
}

// seriesSource is the relation series are read from for a roll-up step:
// sample_chunks, or the roll-ups of that step as chunks of their buckets'
// means stamped with each bucket's start. Either way a row has base (the
// first time, Unix ms), dts (deltas from it, as sample_chunks keeps them)
// and vals, which seriesMerge reads. $1 is the test.
func seriesSource(rollup int64) string {
	if rollup == 0 {
		return `(SELECT test_id, host, metric, first_ts, last_ts, (extract(epoch FROM first_ts) * 1000)::bigint AS base, dts, vals
		FROM sample_chunks WHERE test_id = $1) AS c`
	}
	return fmt.Sprintf(`(SELECT test_id, host, metric, first_ts, `+rollupLastTS+` AS last_ts, (extract(epoch FROM first_ts) * 1000)::bigint AS base,
			ARRAY(SELECT ((coalesce(idx[i], i - 1) - CASE WHEN i = 1 THEN 0 ELSE coalesce(idx[i - 1], i - 2) END) * step_ms)::integer
			      FROM generate_subscripts(avg, 1) AS i ORDER BY i) AS dts,
			avg AS vals
		FROM sample_rollups WHERE test_id = $1 AND step_ms = %d) AS r`, rollup)
}

// SeriesGet returns the matching series, averaged into buckets of Step
// counted from From (the server picks Step so each series has at most
// Points points); each point is stamped with its bucket's start.
func (s *Store) SeriesGet(ctx context.Context, q SeriesQuery) ([]wire.Series, error) {
	metric, prefix := q.Metric, false
	if strings.HasSuffix(metric, "*") {
		metric, prefix = escapeLike(strings.TrimSuffix(metric, "*"))+"%", true
	}
	stepMS := max(q.Step.Milliseconds(), 1)
	rollup, err := s.SeriesRollup(ctx, q.TestID)
	if err != nil {
		return nil, err
	}
	// Chunks come in index order (host, metric, first_ts); their points are
	// merged by time and averaged into buckets here, which is cheaper than
	// unnesting and grouping in SQL.
	rows, err := s.pool.Query(ctx, `
		SELECT host, metric, base, dts, vals
		FROM `+seriesSource(rollup)+`
		WHERE test_id = $1 AND ($2 = '' OR host = $2)
		  AND ($3 = '' OR (CASE WHEN $6 THEN metric LIKE $3 ELSE metric = $3 END))
		  AND last_ts >= $4 AND first_ts <= $5
		ORDER BY host, metric, first_ts`,
		q.TestID, q.Host, metric, q.From, q.To, prefix)
	if err != nil {
		return nil, err
	}
	// The bounds in microseconds, as PostgreSQL compared them when samples
	// were rows.
	fromUS, toUS := q.From.UnixMicro(), q.To.UnixMicro()
	inRange := func(ts int64) bool { return ts*1000 >= fromUS && ts*1000 <= toUS }
	from := q.From.UnixMilli()
	var out []wire.Series
	err = seriesMerge(rows, inRange, func(ser wire.Series) {
		if len(ser.TS) == 0 {
			return
		}
		// Buckets are averaged in place: bucket k never lands after point k.
		k, bucket, sum, n := 0, int64(-1), 0.0, 0
		flush := func() {
			if n > 0 {
				ser.TS[k], ser.Values[k] = from+bucket*stepMS, sum/float64(n)
				k++
			}
			sum, n = 0, 0
		}
		for i, ts := range ser.TS {
			if b := (ts - from) / stepMS; b != bucket {
				flush()
				bucket = b
			}
			sum += ser.Values[i]
			n++
		}
		flush()
		ser.TS, ser.Values = ser.TS[:k:k], ser.Values[:k:k]
		ser.Rollup = rollup
		out = append(out, ser)
	})
	return out, err
}

// SeriesAll returns every sample of a test at full resolution (its finest
// roll-up once the raw samples are gone).
func (s *Store) SeriesAll(ctx context.Context, testID int64) ([]wire.Series, error) {
	rollup, err := s.SeriesRollup(ctx, testID)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT host, metric, base, dts, vals FROM `+seriesSource(rollup)+`
		WHERE test_id = $1 ORDER BY host, metric, first_ts`, testID)
	if err != nil {
		return nil, err
	}
	var out []wire.Series
	err = seriesMerge(rows, nil, func(ser wire.Series) { out = append(out, ser) })
	return out, err
}

// SeriesKey names one series of a test.
type SeriesKey struct {
	Host, Metric string
}

// SeriesKeys lists the series a test has.
func (s *Store) SeriesKeys(ctx context.Context, testID int64) ([]SeriesKey, error) {
	rollup, err := s.SeriesRollup(ctx, testID)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT host, metric FROM `+seriesSource(rollup)+` WHERE test_id = $1
		ORDER BY host, metric`, testID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[SeriesKey])
}

// SeriesFull returns one series of a test at full resolution (its finest
// roll-up once the raw samples are gone).
func (s *Store) SeriesFull(ctx context.Context, testID int64, k SeriesKey) (wire.Series, error) {
	rollup, err := s.SeriesRollup(ctx, testID)
	if err != nil {
		return wire.Series{}, err
	}
	rows, err := s.pool.Query(ctx, `SELECT host, metric, base, dts, vals FROM `+seriesSource(rollup)+`
		WHERE test_id = $1 AND host = $2 AND metric = $3 ORDER BY first_ts`, testID, k.Host, k.Metric)
	if err != nil {
		return wire.Series{}, err
	}
	out := wire.Series{Host: k.Host, Metric: k.Metric, TS: []int64{}, Values: []float64{}}
	err = seriesMerge(rows, nil, func(ser wire.Series) { out = ser })
	return out, err
}
