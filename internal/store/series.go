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
	rows, err := s.pool.Query(ctx, `
		SELECT host, metric,
		       ($8 + floor((extract(epoch FROM ts) * 1000 - $8) / $6) * $6)::bigint AS bucket, avg(value)
		FROM samples
		WHERE test_id = $1 AND ($2 = '' OR host = $2)
		  AND ($3 = '' OR (CASE WHEN $7 THEN metric LIKE $3 ELSE metric = $3 END))
		  AND ts >= $4 AND ts <= $5
		GROUP BY host, metric, bucket
		ORDER BY host, metric, bucket`,
		q.TestID, q.Host, metric, q.From, q.To, stepMS, prefix, q.From.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out  []api.Series
		host string
		name string
		ts   int64
		val  float64
	)
	_, err = pgx.ForEachRow(rows, []any{&host, &name, &ts, &val}, func() error {
		if n := len(out); n == 0 || out[n-1].Host != host || out[n-1].Metric != name {
			out = append(out, api.Series{Host: host, Metric: name})
		}
		cur := &out[len(out)-1]
		cur.TS = append(cur.TS, ts)
		cur.Values = append(cur.Values, val)
		return nil
	})
	return out, err
}
