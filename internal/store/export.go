package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/wire"
)

// SeriesAll returns every sample of a test at full resolution.
func (s *Store) SeriesAll(ctx context.Context, testID int64) ([]wire.Series, error) {
	rows, err := s.pool.Query(ctx, `SELECT host, metric, ts, vals FROM sample_chunks
		WHERE test_id = $1 ORDER BY host, metric, first_ts`, testID)
	if err != nil {
		return nil, err
	}
	var out []wire.Series
	err = seriesMerge(rows, nil, func(ser wire.Series) { out = append(out, ser) })
	return out, err
}

// TestImport stores an exported test as a new test of this installation:
// the framework version it ran with (applied, so an unchanged framework adds
// no version), the test with its state and timeline, KPIs, tables and
// series. It returns the new test's ID.
func (s *Store) TestImport(ctx context.Context, ex *wire.Export, origin string) (int64, error) {
	f := ex.Framework.Framework
	res, err := s.FrameworkApply(ctx, &f)
	if err != nil {
		return 0, err
	}
	t := ex.Test
	params, _ := json.Marshal(t.Params)
	tags := map[string]string{}
	for k, v := range t.Tags {
		tags[k] = v
	}
	tags["imported_from"] = origin
	tagsJSON, _ := json.Marshal(tags)
	fp, _ := json.Marshal(t.Fingerprint)
	hosts := t.Hosts
	if hosts == nil {
		hosts = []string{}
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO tests (framework_id, framework_version, params, commit_sha, branch, pr, tags, baseline, owner,
			                   state, reason, host, exit_code, created_at, updated_at, ended_at, hosts, fingerprint)
			SELECT f.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17, $18
			FROM frameworks f WHERE f.team = $1 AND f.name = $2
			RETURNING id`,
			f.Team, f.Name, res.Framework.Version, params, t.Commit, t.Branch, t.PR, tagsJSON, t.Baseline, t.Owner,
			t.State, t.Reason, t.Host, t.ExitCode, t.CreatedAt, t.EndedAt, hosts, fp).Scan(&id)
		if err != nil {
			return fmt.Errorf("import test: %w", err)
		}
		for _, st := range t.Timeline {
			q := `INSERT INTO test_stages (test_id, name, at, detail) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`
			if st.Kind == "state" {
				q = `INSERT INTO test_transitions (test_id, state, at, reason) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`
			}
			if _, err := tx.Exec(ctx, q, id, st.Stage, st.At, st.Reason); err != nil {
				return fmt.Errorf("import timeline: %w", err)
			}
		}
		kpis := make([][]any, 0, len(t.KPIs))
		for _, k := range t.KPIs {
			kpis = append(kpis, []any{id, max(k.Iteration, 1), k.Name, k.Value, k.Unit, k.Raw})
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"test_kpis"}, []string{"test_id", "iteration", "name", "value", "unit", "raw"},
			pgx.CopyFromRows(kpis)); err != nil {
			return fmt.Errorf("import KPIs: %w", err)
		}
		if err := notesReplace(ctx, tx, id, "imported", t.Notes); err != nil {
			return err
		}
		for _, tb := range ex.Tables {
			header, _ := json.Marshal(tb.Header)
			rows, _ := json.Marshal(tb.Rows)
			numeric, _ := json.Marshal(tb.Numeric)
			if _, err := tx.Exec(ctx, `INSERT INTO test_tables (test_id, name, header, rows, numeric) VALUES ($1, $2, $3, $4, $5)`,
				id, tb.Name, header, rows, numeric); err != nil {
				return fmt.Errorf("import table %s: %w", tb.Name, err)
			}
		}
		for i, ser := range ex.Series {
			if len(ser.TS) != len(ser.Values) {
				return fmt.Errorf("import series %d (%s %s): %d times but %d values", i, ser.Host, ser.Metric, len(ser.TS), len(ser.Values))
			}
		}
		if _, err := sampleChunksCopy(ctx, tx, id, "import", ex.Series); err != nil {
			return fmt.Errorf("import series: %w", err)
		}
		return nil
	})
	return id, err
}
