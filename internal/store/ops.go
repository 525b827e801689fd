package store

import (
	"context"
	"time"
)

// OpsStats is what Pitwall's own metrics report about its work: tests by
// state, agents' heartbeats, and how long recent tests waited and spent
// in each state.
type OpsStats struct {
	TestsByState map[string]int
	// HeartbeatAge is how long ago each agent last reported.
	HeartbeatAge map[string]time.Duration
	// QueueWait are the 0.5, 0.9 and 0.99 quantiles, in seconds, of the
	// time from creation to set-up of the tests created since the window's
	// start; QueueWaitN how many there were.
	QueueWait  [3]float64
	QueueWaitN int
	// StateSeconds are the same quantiles of the time spent in each state
	// by the tests that ended since the window's start.
	StateSeconds map[string][3]float64
}

// OpsStatsGet reads OpsStats over the tests since since.
func (s *Store) OpsStatsGet(ctx context.Context, since time.Time) (*OpsStats, error) {
	out := &OpsStats{TestsByState: map[string]int{}, HeartbeatAge: map[string]time.Duration{}, StateSeconds: map[string][3]float64{}}
	rows, err := s.pool.Query(ctx, `SELECT state, count(*) FROM tests GROUP BY state`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out.TestsByState[st] = n
	}
	rows.Close()
	rows, err = s.pool.Query(ctx, `SELECT name, extract(epoch FROM now() - last_seen) FROM agents`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name string
		var age float64
		if err := rows.Scan(&name, &age); err != nil {
			rows.Close()
			return nil, err
		}
		out.HeartbeatAge[name] = time.Duration(age * float64(time.Second))
	}
	rows.Close()
	var q []float64
	err = s.pool.QueryRow(ctx, `
		SELECT count(*), COALESCE(percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY wait), ARRAY[0, 0, 0]::float8[])
		FROM (SELECT extract(epoch FROM min(tr.at) - t.created_at) AS wait
		      FROM tests t JOIN test_transitions tr ON tr.test_id = t.id AND tr.state IN ('setup', 'running')
		      WHERE t.created_at >= $1 GROUP BY t.id, t.created_at) w`, since).Scan(&out.QueueWaitN, &q)
	if err != nil {
		return nil, err
	}
	copy(out.QueueWait[:], q)
	rows, err = s.pool.Query(ctx, `
		SELECT state, percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY d)
		FROM (SELECT tr.state, extract(epoch FROM lead(tr.at) OVER (PARTITION BY tr.test_id ORDER BY tr.at) - tr.at) AS d
		      FROM test_transitions tr JOIN tests t ON t.id = tr.test_id
		      WHERE t.ended_at >= $1) x
		WHERE d IS NOT NULL GROUP BY state`, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var qs []float64
		if err := rows.Scan(&st, &qs); err != nil {
			return nil, err
		}
		var v [3]float64
		copy(v[:], qs)
		out.StateSeconds[st] = v
	}
	return out, rows.Err()
}
