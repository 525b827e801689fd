package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/wire"
)

// Reading one test: its row alone (TestRow) or with everything shown with it (TestGet).

// TestGet returns a test with its notes, verdicts, KPIs and timeline: five
// queries sent as one batch (one round trip; every test page, API read
// and start answers with one).
func (s *Store) TestGet(ctx context.Context, id int64) (*wire.Test, error) {
	var t *wire.Test
	b := &pgx.Batch{}
	b.Queue(testRowSQL, id).QueryRow(func(row pgx.Row) (err error) {
		t, err = scanTestRow(row, id)
		return err
	})
	var notes []string
	var verdicts []wire.KPIVerdict
	var kpis []wire.KPI
	var timeline []wire.Stage
	b.Queue(testNotesSQL, id).Query(func(rows pgx.Rows) (err error) {
		notes, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	b.Queue(testVerdictsSQL, id).Query(func(rows pgx.Rows) (err error) {
		verdicts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[wire.KPIVerdict])
		return err
	})
	b.Queue(testKPIsSQL, id).Query(func(rows pgx.Rows) (err error) {
		kpis, err = pgx.CollectRows(rows, scanKPI)
		return err
	})
	b.Queue(testTimelineSQL, id).Query(func(rows pgx.Rows) (err error) {
		timeline, err = pgx.CollectRows(rows, scanStage)
		return err
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, notFound(err)
	}
	t.Notes, t.Verdicts, t.KPIs, t.Timeline = notes, verdicts, kpis, timeline
	return t, nil
}

// TestRow is TestGet without the notes, verdicts, KPIs and timeline (one
// query, not five): for the steps of a test's ending that read only its
// own fields.
func (s *Store) TestRow(ctx context.Context, id int64) (*wire.Test, error) {
	t, err := scanTestRow(s.pool.QueryRow(ctx, testRowSQL, id), id)
	if err != nil {
		return nil, notFound(err)
	}
	return t, nil
}

const testRowSQL = `
	SELECT t.id, f.name, f.team, t.framework_version, t.state, t.reason, t.params, t.commit_sha, t.branch,
	       t.pr, t.tags, t.baseline, t.owner, t.host, t.exit_code, t.notes, t.created_at, t.ended_at,
	       t.hosts, t.waiting_for, COALESCE(l.test_id, 0), t.fingerprint, t.verdict, t.baseline_tests, t.compare_to,
	       t.priority
	FROM tests t JOIN frameworks f ON f.id = t.framework_id
	LEFT JOIN host_leases l ON l.host = t.waiting_for AND t.state = 'waiting'
	WHERE t.id = $1`

// scanTestRow reads a row of testRowSQL.
func scanTestRow(row pgx.Row, id int64) (*wire.Test, error) {
	var (
		t                                wire.Test
		params, tags, notes, fingerprint []byte
	)
	err := row.Scan(&t.ID, &t.Framework, &t.Team, &t.FrameworkVersion, &t.State, &t.Reason,
		&params, &t.Commit, &t.Branch, &t.PR, &tags, &t.Baseline, &t.Owner, &t.Host, &t.ExitCode, &notes,
		&t.CreatedAt, &t.EndedAt, &t.Hosts, &t.WaitingFor, &t.HeldBy, &fingerprint, &t.Verdict, &t.BaselineTests, &t.CompareTo,
		&t.Priority)
	if err != nil {
		return nil, err
	}
	for _, j := range []struct {
		b []byte
		v any
	}{{params, &t.Params}, {tags, &t.Tags}, {fingerprint, &t.Fingerprint}} {
		if err := json.Unmarshal(j.b, j.v); err != nil {
			return nil, fmt.Errorf("decode test %d: %w", id, err)
		}
	}
	_ = notes // the old tests.notes column; notes live in test_notes now
	return &t, nil
}

const testKPIsSQL = `SELECT name, iteration, value, unit, raw FROM test_kpis WHERE test_id = $1 ORDER BY iteration, name`

func scanKPI(r pgx.CollectableRow) (wire.KPI, error) {
	var k wire.KPI
	err := r.Scan(&k.Name, &k.Iteration, &k.Value, &k.Unit, &k.Raw)
	return k, err
}

const testTimelineSQL = `
	SELECT state, at, reason, 'state' FROM test_transitions WHERE test_id = $1
	UNION ALL
	SELECT name, at, detail, 'stage' FROM test_stages WHERE test_id = $1
	ORDER BY 2, 4 DESC`

func scanStage(r pgx.CollectableRow) (wire.Stage, error) {
	var st wire.Stage
	err := r.Scan(&st.Stage, &st.At, &st.Reason, &st.Kind)
	return st, err
}

// TestFilter narrows a test listing; empty fields match everything.
type TestFilter struct {
	Framework, State, Branch, Commit, Owner string
	// Verdict is a test verdict (regressed, improved, …), "" for any.
	Verdict string
	// Tag is "key" (the tag is set) or "key=value".
	Tag      string
	From, To time.Time
	// Before is the cursor of the default order (newest first): only
	// tests with a smaller ID.
	Before int64
	// Sort is a column of TestSortColumns ("" is the default order,
	// newest first, paged by Before); Desc reverses it. A sorted listing
	// pages by Offset.
	Sort   string
	Desc   bool
	Offset int
	Limit  int
	// Teams limits the listing to these teams unless AllTeams.
	Teams    []string
	AllTeams bool
}

// TestSortColumns are the columns a test listing sorts by, each with its
// SQL expression (the only text of a sort that reaches SQL). Ties are
// broken by the test ID in the same direction.
var TestSortColumns = map[string]string{
	"test":      "t.id",
	"framework": "f.name",
	"state":     "t.state",
	"verdict":   "t.verdict",
	"branch":    "t.branch",
	"commit":    "t.commit_sha",
	"owner":     "t.owner",
	"created":   "t.created_at",
}
