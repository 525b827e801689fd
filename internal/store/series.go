package store

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/api"
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

// SeriesRange returns the first and last sample time of a test.
func (s *Store) SeriesRange(ctx context.Context, testID int64) (time.Time, time.Time, bool, error) {
	var from, to *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(ts), max(ts) FROM samples WHERE test_id = $1`, testID).Scan(&from, &to)
	if err != nil || from == nil {
		return time.Time{}, time.Time{}, false, err
	}
	return *from, *to, true, nil
}

// SeriesGet returns the matching series, averaged into buckets of Step
// counted from From (the server picks Step so each series has at most
// Points points); each point is stamped with its bucket's start.
func (s *Store) SeriesGet(ctx context.Context, q SeriesQuery) ([]api.Series, error) {
	metric, prefix := q.Metric, false
	if strings.HasSuffix(metric, "*") {
		metric, prefix = escapeLike(strings.TrimSuffix(metric, "*"))+"%", true
	}
	stepMS := max(q.Step.Milliseconds(), 1)
	// Rows come in index order (host, metric, ts) and are averaged into
	// buckets here, as they stream: cheaper than grouping in SQL.
	rows, err := s.pool.Query(ctx, `
		SELECT host, metric, ts, value
		FROM samples
		WHERE test_id = $1 AND ($2 = '' OR host = $2)
		  AND ($3 = '' OR (CASE WHEN $6 THEN metric LIKE $3 ELSE metric = $3 END))
		  AND ts >= $4 AND ts <= $5
		ORDER BY host, metric, ts`,
		q.TestID, q.Host, metric, q.From, q.To, prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out    []api.Series
		host   string
		name   string
		ts     time.Time
		val    float64
		bucket int64 = -1
		sum    float64
		n      int
	)
	from := q.From.UnixMilli()
	flush := func() {
		if n > 0 {
			cur := &out[len(out)-1]
			cur.TS = append(cur.TS, from+bucket*stepMS)
			cur.Values = append(cur.Values, sum/float64(n))
		}
		sum, n = 0, 0
	}
	_, err = pgx.ForEachRow(rows, []any{&host, &name, &ts, &val}, func() error {
		if k := len(out); k == 0 || out[k-1].Host != host || out[k-1].Metric != name {
			flush()
			out = append(out, api.Series{Host: host, Metric: name})
			bucket = -1
		}
		b := (ts.UnixMilli() - from) / stepMS
		if b != bucket {
			flush()
			bucket = b
		}
		sum += val
		n++
		return nil
	})
	flush()
	return out, err
}
