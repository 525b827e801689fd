package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
)

// NewNoiseMeasurement is what NoiseCreate records.
type NewNoiseMeasurement struct {
	Host             string
	Team, Framework  string
	FrameworkVersion int
	Params           []framework.Param
	Commit           string
	Runs             int
	StartedBy        string
}

// ErrMeasuring is returned when the host already has a running noise
// measurement of the framework.
var ErrMeasuring = fmt.Errorf("a noise measurement of the framework on the host is running: %w", ErrExists)

// NoiseCreate records a running noise measurement.
func (s *Store) NoiseCreate(ctx context.Context, m NewNoiseMeasurement, at time.Time) (int64, error) {
	params, err := json.Marshal(m.Params)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.pool.QueryRow(ctx, `
		INSERT INTO noise_measurements (host, framework_id, framework_version, params, commit_sha, runs, started_by, created_at)
		SELECT $1, f.id, $4, $5, $6, $7, $8, $9 FROM frameworks f WHERE f.team = $2 AND f.name = $3
		RETURNING id`, m.Host, m.Team, m.Framework, m.FrameworkVersion, params, m.Commit, m.Runs, m.StartedBy, at).Scan(&id)
	if err = uniqueExists(err); errors.Is(err, ErrExists) {
		return 0, ErrMeasuring
	}
	return id, notFound(err)
}

const noiseColumns = `m.id, m.host, f.name, f.team, m.commit_sha, m.runs, m.state, m.reason, m.started_by, m.created_at, m.ended_at,
	COALESCE((SELECT array_agg(t.id ORDER BY t.id) FROM tests t WHERE t.noise_id = m.id), '{}')`

func scanNoise(row pgx.Row) (*wire.NoiseMeasurement, error) {
	var m wire.NoiseMeasurement
	err := row.Scan(&m.ID, &m.Host, &m.Framework, &m.Team, &m.Commit, &m.Runs, &m.State, &m.Reason, &m.StartedBy,
		&m.CreatedAt, &m.EndedAt, &m.Tests)
	return &m, notFound(err)
}

// NoiseGet loads a noise measurement with its floors.
func (s *Store) NoiseGet(ctx context.Context, id int64) (*wire.NoiseMeasurement, error) {
	m, err := scanNoise(s.pool.QueryRow(ctx, `SELECT `+noiseColumns+`
		FROM noise_measurements m JOIN frameworks f ON f.id = m.framework_id WHERE m.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("noise measurement %d: %w", id, err)
	}
	if m.Floors, err = s.noiseFloors(ctx, `nf.measurement_id = $1`, id); err != nil {
		return nil, err
	}
	return m, nil
}

// NoiseOfHost lists a host's measurements, newest first (at most limit),
// each with its floors.
func (s *Store) NoiseOfHost(ctx context.Context, host string, limit int) ([]wire.NoiseMeasurement, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+noiseColumns+`
		FROM noise_measurements m JOIN frameworks f ON f.id = m.framework_id WHERE m.host = $1
		ORDER BY m.id DESC LIMIT $2`, host, limit)
	if err != nil {
		return nil, err
	}
	var out []wire.NoiseMeasurement
	for rows.Next() {
		m, err := scanNoise(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, *m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Floors, err = s.noiseFloors(ctx, `nf.measurement_id = $1`, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// NoiseLatest lists the latest floor of each (host, framework, KPI),
// of one host (host set) or of one team's framework (team and name set).
func (s *Store) NoiseLatest(ctx context.Context, host, team, name string) ([]wire.NoiseKPI, error) {
	return s.noiseFloors(ctx, `($1 = '' OR nf.host = $1) AND ($2 = '' OR (f.team = $2 AND f.name = $3))
		AND nf.measurement_id = (SELECT max(n2.measurement_id) FROM noise_floors n2
		    WHERE n2.host = nf.host AND n2.framework_id = nf.framework_id AND n2.kpi = nf.kpi)`, host, team, name)
}

func (s *Store) noiseFloors(ctx context.Context, where string, args ...any) ([]wire.NoiseKPI, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT nf.measurement_id, nf.host, f.name, f.team, nf.kpi, nf.cv, nf.cv_low, nf.cv_high, nf.confidence,
		       cardinality(nf.run_values), nf.jumped, nf.evidence, nf.measured_at
		FROM noise_floors nf JOIN frameworks f ON f.id = nf.framework_id
		WHERE `+where+` ORDER BY nf.host, f.team, f.name, nf.kpi`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (wire.NoiseKPI, error) {
		var k wire.NoiseKPI
		err := r.Scan(&k.MeasurementID, &k.Host, &k.Framework, &k.Team, &k.KPI, &k.CV, &k.CVLow, &k.CVHigh, &k.Confidence,
			&k.N, &k.Jumped, &k.Evidence, &k.MeasuredAt)
		return k, err
	})
}

// NoiseFloorOf is the latest CV of a framework's KPI on a host (ok false
// when it was never measured there).
func (s *Store) NoiseFloorOf(ctx context.Context, host, team, name, kpi string) (cv float64, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT nf.cv FROM noise_floors nf JOIN frameworks f ON f.id = nf.framework_id
		WHERE nf.host = $1 AND f.team = $2 AND f.name = $3 AND nf.kpi = $4
		ORDER BY nf.measurement_id DESC LIMIT 1`, host, team, name, kpi).Scan(&cv)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return cv, err == nil, err
}

// NoiseHistory gives the run values of a KPI's earlier measurements of the
// framework on the host (before measurement id), oldest first.
func (s *Store) NoiseHistory(ctx context.Context, id int64, kpi string) ([][]float64, error) {
	rows, err := s.pool.Query(ctx, `SELECT nf.run_values FROM noise_floors nf JOIN noise_measurements m ON m.id = $1
		WHERE nf.host = m.host AND nf.framework_id = m.framework_id AND nf.kpi = $2 AND nf.measurement_id < $1
		ORDER BY nf.measurement_id`, id, kpi)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[[]float64])
}

// NoiseFloorRecord is one KPI's floor as a measurement ends.
type NoiseFloorRecord struct {
	KPI                       string
	CV, Low, High, Confidence float64
	Values                    []float64
	Jumped                    bool
	Evidence                  string
}

// NoiseEnd records a measurement's ending and, when it finished, its
// floors. Ending an ended measurement again (a retry) changes nothing.
func (s *Store) NoiseEnd(ctx context.Context, id int64, state, reason string, floors []NoiseFloorRecord, at time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE noise_measurements SET state = $2, reason = $3, ended_at = $4
			WHERE id = $1 AND state = 'running'`, id, state, reason, at)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		for _, f := range floors {
			_, err := tx.Exec(ctx, `INSERT INTO noise_floors (measurement_id, host, framework_id, kpi, cv, cv_low, cv_high,
				confidence, run_values, jumped, evidence, measured_at)
				SELECT m.id, m.host, m.framework_id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM noise_measurements m WHERE m.id = $1`,
				id, f.KPI, f.CV, f.Low, f.High, f.Confidence, f.Values, f.Jumped, f.Evidence, at)
			if err != nil {
				return fmt.Errorf("noise floor %s: %w", f.KPI, err)
			}
		}
		return nil
	})
}

// NoiseRunCreate records a queued run of a noise measurement: a test of
// its framework version, parameters and commit, marked arm AA.
func (s *Store) NoiseRunCreate(ctx context.Context, id int64, at time.Time) (int64, error) {
	var testID int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO tests (framework_id, framework_version, params, commit_sha, owner, created_at, updated_at,
			                   noise_id, confirmation_arm, tags)
			SELECT m.framework_id, m.framework_version, m.params, m.commit_sha, m.started_by, $2, $2, m.id, 'AA',
			       jsonb_build_object('noise', m.id::text)
			FROM noise_measurements m WHERE m.id = $1 AND m.state = 'running'
			RETURNING id`, id, at).Scan(&testID)
		if err != nil {
			return notFound(err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO test_transitions (test_id, state, at) VALUES ($1, 'queued', $2)`, testID, at)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("noise measurement %d: create run: %w", id, err)
	}
	return testID, nil
}

// NoisePlanOf loads what a measurement runs: the host, the framework's
// spec at its version, and the runs.
func (s *Store) NoisePlanOf(ctx context.Context, id int64) (host string, f framework.Framework, runs int, state string, err error) {
	var spec []byte
	err = s.pool.QueryRow(ctx, `SELECT m.host, v.spec, m.runs, m.state FROM noise_measurements m
		JOIN framework_versions v ON v.framework_id = m.framework_id AND v.version = m.framework_version
		WHERE m.id = $1`, id).Scan(&host, &spec, &runs, &state)
	if err != nil {
		return "", f, 0, "", fmt.Errorf("noise measurement %d: %w", id, notFound(err))
	}
	err = json.Unmarshal(spec, &f)
	return host, f, runs, state, err
}

// AgentExclude sets whether host picking leaves a host out.
func (s *Store) AgentExclude(ctx context.Context, name string, excluded bool, reason string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE agents SET excluded = $2, excluded_reason = $3 WHERE name = $1`, name, excluded, reason)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return err
}

// Throttling is how much one container of a test was CPU-throttled, from
// its container stats samples (container.NAME.cpu.throttled_ms, throttled
// milliseconds per second).
type Throttling struct {
	Host, Container      string
	TotalMs, MaxMsPerSec float64
}

// Throttled lists the containers of a test that were CPU-throttled at
// some sample, by host and container.
func (s *Store) Throttled(ctx context.Context, testID int64) ([]Throttling, error) {
	rows, err := s.pool.Query(ctx, `
		WITH pts AS (
			SELECT c.host, c.metric, p.t, p.v FROM sample_chunks c, unnest(sample_ts(c.first_ts, c.dts), c.vals) AS p (t, v)
			WHERE c.test_id = $1 AND c.metric LIKE 'container.%.cpu.throttled_ms'
		), steps AS (
			SELECT host, metric, v, (t - lag(t) OVER (PARTITION BY host, metric ORDER BY t)) / 1000.0 AS dt FROM pts
		)
		SELECT host, substring(metric FROM 11 FOR length(metric) - 10 - length('.cpu.throttled_ms')),
		       coalesce(sum(v * dt), 0), max(v)
		FROM steps GROUP BY host, metric HAVING max(v) > 0 ORDER BY host, metric`, testID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Throttling, error) {
		var th Throttling
		err := r.Scan(&th.Host, &th.Container, &th.TotalMs, &th.MaxMsPerSec)
		return th, err
	})
}

// NoiseFloorOfTest is the latest noise floor (CV) of a KPI of a test's
// framework on the host the test ran on; 0 when it was never measured.
func (s *Store) NoiseFloorOfTest(ctx context.Context, testID int64, kpi string) (float64, error) {
	var cv float64
	err := s.pool.QueryRow(ctx, `SELECT nf.cv FROM tests t JOIN noise_floors nf
		ON nf.host = t.host AND nf.framework_id = t.framework_id AND nf.kpi = $2
		WHERE t.id = $1 ORDER BY nf.measurement_id DESC LIMIT 1`, testID, kpi).Scan(&cv)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return cv, err
}

// NoiseRunning is the running noise measurement of a team's framework on
// host, 0 when none runs.
func (s *Store) NoiseRunning(ctx context.Context, host, team, name string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT m.id FROM noise_measurements m JOIN frameworks f ON f.id = m.framework_id
		WHERE m.host = $1 AND f.team = $2 AND f.name = $3 AND m.state = 'running'`, host, team, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return id, err
}
