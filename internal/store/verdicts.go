package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/verdict"
	"github.com/pitwall/pitwall/internal/wire"
)

// BaselineMax is how many baseline tests a KPI's verdict looks at.
const BaselineMax = 20

// CompareTo is the test a test was asked to be compared to, 0 when none.
func (s *Store) CompareTo(ctx context.Context, testID int64) (int64, error) {
	var compareTo *int64
	if err := s.pool.QueryRow(ctx, `SELECT compare_to FROM tests WHERE id = $1`, testID).Scan(&compareTo); err != nil {
		return 0, notFound(err)
	}
	if compareTo == nil {
		return 0, nil
	}
	return *compareTo, nil
}

// Level bounds a KPI's accepted level by test ID: tests from Since (0: the
// start) up to, not including, Until (0: no bound). AnyHardware lets in
// tests whose execution host had other hardware than the test's (a
// framework's baseline_hardware: any); without it only tests of the same
// hardware fingerprint count, unless the test has none recorded.
type Level struct {
	Since, Until int64
	AnyHardware  bool
}

// BaselineFor picks the tests a test's KPI is judged against: the most
// recent max finished tests older than it, of the same framework with the
// same parameter values, on the baseline branch (or marked as baselines),
// that have a value of the KPI in the given unit (a value in another unit
// is not comparable) and lie within the KPI's accepted level.
// They are fetched within the level, not filtered from the most recent,
// so a level that ended long ago still has its tests. A test whose KPI
// was judged regressed or improved against tests of this same level is
// left out: it is a change under suspicion, not the level (a second test
// of a regression would otherwise widen the baseline enough to pass); a
// test judged so against an earlier level counts once that level's end
// is accepted. Unless level.AnyHardware, only tests with the test's
// hardware fingerprint count (tests.hardware; any when it has none).
func (s *Store) BaselineFor(ctx context.Context, testID int64, baselineBranch, kpi, unit string, level Level, max int) ([]int64, error) {
	return s.baseline(ctx, testID, 0, baselineBranch, kpi, unit, level, max)
}

// BaselineAfter picks the tests a next test of testID's history would be
// judged against, by BaselineFor's rules: testID itself is one of them
// when it qualifies. It is the accepted level a trend draws.
func (s *Store) BaselineAfter(ctx context.Context, testID int64, baselineBranch, kpi, unit string, level Level, max int) ([]int64, error) {
	return s.baseline(ctx, testID, 1, baselineBranch, kpi, unit, level, max)
}

// baselineWindow is how many of a history's newest tests, times the
// baseline's size, baseline reads first.
const baselineWindow = 3

// baseline is BaselineFor's query: the tests before testID (with 0), or
// up to and including it (with 1). It reads the newest baselineWindow ×
// max finished tests of the framework in the level first (a few index
// pages, from tests_trend_idx); only when fewer than max of those
// qualify does it read the whole level, so a long history costs what a
// short one does and the answer is the same either way. The window's
// floor is found once (MATERIALIZED) by the framework's ID: joined to the
// test, it was planned as a sort of every test of the framework, and
// inlined twice (the seeded year's 365 tests read twice: about 0.3 ms of
// a trend page's level, and of every test's verdict on a long history).
// A candidate's verdict on the KPI is read from the framework's verdict
// index (00034), which holds the verdict: no heap page a candidate.
func (s *Store) baseline(ctx context.Context, testID, with int64, baselineBranch, kpi, unit string, level Level, max int) ([]int64, error) {
	until := level.Until
	if until == 0 {
		until = testID + with
	}
	query := func(window int) ([]int64, bool, error) {
		rows, err := s.pool.Query(ctx, `
			WITH w AS MATERIALIZED (SELECT coalesce((SELECT b.id FROM tests b
				WHERE $10 > 0 AND b.framework_id = (SELECT framework_id FROM tests WHERE id = $1)
				  AND b.state = 'finished' AND b.confirmation_arm = '' AND b.id >= $4 AND b.id < $5 AND b.id < $1 + $8
				ORDER BY b.id DESC OFFSET greatest($10 - 1, 0) LIMIT 1), $4) AS floor)
			SELECT b.id, (SELECT floor FROM w) > $4 FROM tests b JOIN tests t ON t.id = $1
			WHERE b.framework_id = t.framework_id AND b.id < t.id + $8 AND b.state = 'finished' AND b.confirmation_arm = ''
			  AND b.params = t.params AND (b.branch = $2 OR b.baseline)
			  AND b.id >= (SELECT floor FROM w) AND b.id < $5
			  AND ($9 OR t.hardware = '' OR b.hardware = t.hardware)
			  AND EXISTS (SELECT 1 FROM test_kpis k WHERE k.test_id = b.id AND k.name = $3 AND k.unit = $7)
			  AND NOT EXISTS (SELECT 1 FROM test_kpi_verdicts v WHERE v.framework_id = b.framework_id AND v.kpi = $3 AND v.test_id = b.id
			      AND v.verdict IN ('regressed', 'improved')
			      AND (SELECT min(x) FROM unnest(b.baseline_tests) x) >= $4)
			ORDER BY b.id DESC LIMIT $6`, testID, baselineBranch, kpi, level.Since, until, max, unit, with, level.AnyHardware, window)
		if err != nil {
			return nil, false, err
		}
		var (
			ids      []int64
			id       int64
			windowed bool
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &windowed}, func() error {
			ids = append(ids, id)
			return nil
		})
		return ids, windowed, err
	}
	ids, windowed, err := query(baselineWindow * max)
	if err != nil || len(ids) == max || (len(ids) > 0 && !windowed) {
		return ids, err
	}
	// Too few in the window (or none, so it is not known whether the
	// window was narrower than the level): the whole level.
	ids, _, err = query(0)
	return ids, err
}

// TestHardware is a test's hardware fingerprint ("" when none was
// recorded).
func (s *Store) TestHardware(ctx context.Context, testID int64) (string, error) {
	var hw string
	if err := s.pool.QueryRow(ctx, `SELECT hardware FROM tests WHERE id = $1`, testID).Scan(&hw); err != nil {
		return "", notFound(err)
	}
	return hw, nil
}

// KPIUnits returns the unit of each of a test's KPIs, by name.
func (s *Store) KPIUnits(ctx context.Context, testID int64) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (name) name, unit FROM test_kpis WHERE test_id = $1 ORDER BY name, iteration`, testID)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var name, unit string
	_, err = pgx.ForEachRow(rows, []any{&name, &unit}, func() error {
		out[name] = unit
		return nil
	})
	return out, err
}

// KPIValues returns each test's KPI values, by test and KPI name, one per iteration.
func (s *Store) KPIValues(ctx context.Context, ids []int64) (map[int64]map[string][]float64, error) {
	cond, arg := anyOf("test_id", 1, ids)
	rows, err := s.pool.Query(ctx, `SELECT test_id, name, value FROM test_kpis WHERE `+cond+` ORDER BY test_id, iteration`, arg)
	if err != nil {
		return nil, err
	}
	out := map[int64]map[string][]float64{}
	var (
		id   int64
		name string
		v    float64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &name, &v}, func() error {
		if out[id] == nil {
			out[id] = map[string][]float64{}
		}
		out[id][name] = append(out[id][name], v)
		return nil
	})
	return out, err
}

// VerdictStore records a test's verdicts (replacing earlier ones):
// baseline is every test any KPI was judged against, bases each KPI's own.
func (s *Store) VerdictStore(ctx context.Context, testID int64, overall string, baseline []int64, results map[string]verdict.Result, bases map[string][]int64) error {
	if baseline == nil {
		baseline = []int64{}
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE tests SET verdict = $2, baseline_tests = $3 WHERE id = $1`, testID, overall, baseline); err != nil {
			return fmt.Errorf("test verdict: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM test_kpi_verdicts WHERE test_id = $1`, testID); err != nil {
			return err
		}
		for name, r := range results {
			if _, err := tx.Exec(ctx, `INSERT INTO test_kpi_verdicts (test_id, kpi, verdict, delta_pct, ci_low_pct, ci_high_pct,
				p_value, method, baseline_n, candidate_n, evidence, baseline_tests) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				testID, name, r.Verdict, r.DeltaPct, r.CILowPct, r.CIHighPct, r.PValue, r.Method, r.BaselineN, r.CandidateN, r.Evidence,
				orEmpty(bases[name])); err != nil {
				return fmt.Errorf("KPI verdict %s: %w", name, err)
			}
		}
		return nil
	})
}

const testVerdictsSQL = `SELECT kpi, verdict, delta_pct, ci_low_pct, ci_high_pct, p_value, method, baseline_n,
	candidate_n, evidence, baseline_tests FROM test_kpi_verdicts WHERE test_id = $1 ORDER BY kpi`

func (s *Store) testVerdicts(ctx context.Context, id int64) ([]wire.KPIVerdict, error) {
	rows, err := s.pool.Query(ctx, testVerdictsSQL, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[wire.KPIVerdict])
}

// orEmpty stores a missing list as an empty array, not NULL.
func orEmpty(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// TypicalDuration is the median time from creation to end of the newest
// n finished tests before testID of its framework with the same
// parameter values, and how many there were (0: no estimate).
func (s *Store) TypicalDuration(ctx context.Context, testID int64, n int) (time.Duration, int, error) {
	var secs float64
	var count int
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY d), 0), count(*) FROM (
			SELECT extract(epoch FROM b.ended_at - b.created_at)::float8 AS d
			FROM tests b
			WHERE b.framework_id = (SELECT framework_id FROM tests WHERE id = $1) AND b.id < $1
			  AND b.params = (SELECT params FROM tests WHERE id = $1)
			  AND b.state = 'finished' AND b.ended_at IS NOT NULL
			ORDER BY b.id DESC LIMIT $2) x`, testID, n).Scan(&secs, &count)
	if err != nil {
		return 0, 0, err
	}
	return time.Duration(secs * float64(time.Second)), count, nil
}

// MigrationRates are the CPU migrations per second of the most recent n
// finished tests before testID of its framework, with its parameters, on
// the given hardware, that recorded them (newest first).
func (s *Store) MigrationRates(ctx context.Context, testID int64, hardware string, n int) ([]float64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT (b.fingerprint->'cpu_migrations'->>'per_second')::float8 FROM tests b
		WHERE b.framework_id = (SELECT framework_id FROM tests WHERE id = $1) AND b.id < $1
		  AND b.params = (SELECT params FROM tests WHERE id = $1) AND b.state = 'finished'
		  AND b.hardware = $2 AND b.fingerprint ? 'cpu_migrations'
		ORDER BY b.id DESC LIMIT $3`, testID, hardware, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[float64])
}
