package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/wire"
)

// NewTest is what TestCreate needs: the framework version and the resolved
// parameter values the test will run with.
type NewTest struct {
	Team      string
	Framework string
	Params    []framework.Param
	Commit    string
	Branch    string
	PR        *int
	Tags      map[string]string
	Baseline  bool
	Owner     string
	// FrameworkVersion pins a version (a rerun); 0 means the current one.
	FrameworkVersion int
	// CompareTo is a chosen baseline test.
	CompareTo *int64
	// Priority is low, normal or high; empty is normal.
	Priority string
}

// TestCreate records a queued test of the framework's current version and
// its first transition. It returns the new test's ID.
func (s *Store) TestCreate(ctx context.Context, t NewTest, at time.Time) (int64, error) {
	params, err := json.Marshal(t.Params)
	if err != nil {
		return 0, err
	}
	if t.Tags == nil {
		t.Tags = map[string]string{}
	}
	tags, err := json.Marshal(t.Tags)
	if err != nil {
		return 0, err
	}
	// One statement, the test and its first transition (atomic without a
	// transaction: every test starts here).
	var id int64
	err = s.pool.QueryRow(ctx, `
		WITH t AS (
			INSERT INTO tests (framework_id, framework_version, params, commit_sha, branch, pr, tags, baseline, owner, created_at, updated_at, compare_to, priority)
			SELECT f.id, CASE WHEN $11::int > 0 THEN $11::int ELSE f.current_version END, $3, $4, $5, $6, $7, $8, $9, $10, $10, $12, $13
			FROM frameworks f WHERE f.team = $1 AND f.name = $2
			RETURNING id)
		INSERT INTO test_transitions (test_id, state, at) SELECT id, 'queued', $10 FROM t
		RETURNING test_id`,
		t.Team, t.Framework, params, t.Commit, t.Branch, t.PR, tags, t.Baseline, t.Owner, at, t.FrameworkVersion, t.CompareTo,
		cmp.Or(t.Priority, wire.PriorityNormal)).Scan(&id)
	err = notFound(err)
	if err != nil {
		return 0, fmt.Errorf("test create: %w", err)
	}
	return id, nil
}

// TestPlan is everything the workflow needs to run a test.
type TestPlan struct {
	ID        int64
	Framework framework.Framework
	Params    []framework.Param
	State     string
	Commit    string
	Branch    string
	Priority  string
	// ConfirmationArm is A or B for a run of a confirmation (such runs
	// open no alerts and move no change points), else empty.
	ConfirmationArm string
	// Hosts are the hosts the test leased (none recorded yet: empty).
	Hosts []string
}

// TestPlanGet loads the framework version and parameters a test runs with.
func (s *Store) TestPlanGet(ctx context.Context, id int64) (*TestPlan, error) {
	var (
		p            TestPlan
		spec, params []byte
	)
	err := s.pool.QueryRow(ctx, `
		SELECT v.spec, t.params, t.state, t.commit_sha, t.branch, t.priority, t.confirmation_arm, t.hosts
		FROM tests t JOIN framework_versions v ON v.framework_id = t.framework_id AND v.version = t.framework_version
		WHERE t.id = $1`, id).Scan(&spec, &params, &p.State, &p.Commit, &p.Branch, &p.Priority, &p.ConfirmationArm, &p.Hosts)
	if err != nil {
		return nil, fmt.Errorf("test plan %d: %w", id, notFound(err))
	}
	if err := json.Unmarshal(spec, &p.Framework); err != nil {
		return nil, fmt.Errorf("decode framework of test %d: %w", id, err)
	}
	if err := json.Unmarshal(params, &p.Params); err != nil {
		return nil, fmt.Errorf("decode params of test %d: %w", id, err)
	}
	p.ID = id
	return &p, nil
}

// Transition moves a test into a state, once: repeating the same
// transition (an activity retry) changes nothing, and an ended test stays
// ended. With State empty it records only its stages.
type Transition struct {
	TestID   int64
	State    string
	At       time.Time
	Reason   string
	Host     string
	ExitCode *int
	// Hosts are all the hosts the test holds: execution and statistics.
	Hosts []string
	// WaitingFor names the host a waiting test waits for.
	WaitingFor string
	Stages     []Stage
}

// Stage is one named step of a test, stored once.
type Stage struct {
	Name   string
	At     time.Time
	Detail string
}

// TestTransition records a state change and its stages, and updates the
// test row: one statement (atomic without a transaction), because every
// test makes several.
func (s *Store) TestTransition(ctx context.Context, tr Transition) error {
	_, err := s.transition(ctx, tr, nil, false)
	if errors.Is(err, ErrNotFound) {
		return nil // as an UPDATE of no row
	}
	return err
}

// TestMove is TestTransition for a test that has not ended, moving only
// forward in order (the same state again, or a later one; a state not in
// order ranks after all of those that are): the state is read and moved
// in the same statement, so the checks cost no round trip of their own.
// It returns the state the test was in, and records the transition and
// its stages only when both checks pass (ErrNotFound: no such test).
func (s *Store) TestMove(ctx context.Context, tr Transition, order []string) (from string, err error) {
	return s.transition(ctx, tr, order, true)
}

// transition is TestTransition's statement, and TestMove's when guarded.
func (s *Store) transition(ctx context.Context, tr Transition, order []string, guarded bool) (string, error) {
	names := make([]string, len(tr.Stages))
	ats := make([]time.Time, len(tr.Stages))
	details := make([]string, len(tr.Stages))
	for i, st := range tr.Stages {
		names[i], ats[i], details[i] = st.Name, st.At, st.Detail
	}
	var from string
	err := s.pool.QueryRow(ctx, `
		WITH cur AS (
			SELECT state, ended_at IS NULL AS open FROM tests WHERE id = $1
		), ok AS (
			SELECT 1 FROM cur WHERE NOT $14::boolean OR (open AND
				coalesce(array_position($13::text[], $2::text), cardinality($13::text[]) + 1) >=
				coalesce(array_position($13::text[], cur.state), cardinality($13::text[]) + 1))
		), stages AS (
			INSERT INTO test_stages (test_id, name, at, detail)
			SELECT $1, s.name, s.at, s.detail FROM unnest($10::text[], $11::timestamptz[], $12::text[]) AS s (name, at, detail)
			WHERE EXISTS (SELECT 1 FROM ok)
			ON CONFLICT (test_id, name) DO NOTHING
		), moved AS (
			UPDATE tests SET state = $2, updated_at = $3::timestamptz,
				reason      = $4::text,
				host        = CASE WHEN $5::text <> '' THEN $5::text ELSE host END,
				exit_code   = COALESCE($6::integer, exit_code),
				ended_at    = CASE WHEN $7::boolean THEN $3::timestamptz ELSE NULL END,
				hosts       = CASE WHEN cardinality($8::text[]) > 0 THEN $8::text[] ELSE hosts END,
				waiting_for = $9::text
			WHERE id = $1 AND ended_at IS NULL AND $2::text <> '' AND EXISTS (SELECT 1 FROM ok)
			RETURNING id
		), recorded AS (
			INSERT INTO test_transitions (test_id, state, at, reason)
			SELECT id, $2, $3, $4 FROM moved
			ON CONFLICT (test_id, state) DO NOTHING
		)
		SELECT state FROM cur`,
		tr.TestID, tr.State, tr.At, tr.Reason, tr.Host, tr.ExitCode, wire.Ended(tr.State), tr.Hosts, tr.WaitingFor,
		names, ats, details, order, guarded).Scan(&from)
	if err != nil {
		err = notFound(err)
		if errors.Is(err, ErrNotFound) {
			return "", err
		}
		if tr.State == "" {
			return "", fmt.Errorf("test %d stages: %w", tr.TestID, err)
		}
		return "", fmt.Errorf("test %d to %s: %w", tr.TestID, tr.State, err)
	}
	return from, nil
}

// IterationResults are the KPIs one run of the script reported.
type IterationResults struct {
	Iteration int
	KPIs      []results.KPI
}

// TestResultsStore replaces the KPIs and notes of a test, so a retried
// collation leaves exactly one copy. Iterations count from 1.
func (s *Store) TestResultsStore(ctx context.Context, testID int64, iterations []IterationResults, notes []string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM test_kpis WHERE test_id = $1`, testID); err != nil {
			return err
		}
		var rows [][]any
		for _, it := range iterations {
			for _, k := range it.KPIs {
				rows = append(rows, []any{testID, it.Iteration, k.Name, k.Value, k.Unit, k.Raw})
			}
		}
		// A test without KPIs (one that failed, or reported none) copies
		// nothing: an empty COPY still fires the framework_kpis trigger.
		if len(rows) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"test_kpis"},
				[]string{"test_id", "iteration", "name", "value", "unit", "raw"}, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("kpi copy: %w", err)
			}
		}
		return notesReplace(ctx, tx, testID, "kpis", notes)
	})
}

// TestList returns the tests that match the filter, newest first or in
// the filter's sort order.
func (s *Store) TestList(ctx context.Context, f TestFilter) ([]wire.Test, error) {
	order := "t.id DESC"
	if f.Sort != "" {
		expr, ok := TestSortColumns[f.Sort]
		if !ok {
			return nil, fmt.Errorf("unknown sort column %q", f.Sort)
		}
		dir := "ASC"
		if f.Desc {
			dir = "DESC"
		}
		order = expr + " " + dir + " NULLS LAST, t.id " + dir
		f.Before = 0
	} else {
		f.Offset = 0
	}
	if f.Before <= 0 {
		f.Before = 1<<63 - 1
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	// Only the filters given reach the statement. With a catch-all
	// "($3 = '' OR f.name = $3)" for each, the planner planned every
	// execution anew (a custom plan: 0.25 ms a search page on a year's
	// tests, more than the page's other statements together).
	args := []any{f.Before, f.Limit, f.Offset}
	var where strings.Builder
	cond := func(sql string, vs ...any) {
		for _, v := range vs {
			args = append(args, v)
			sql = strings.Replace(sql, "$?", "$"+strconv.Itoa(len(args)), 1)
		}
		where.WriteString(" AND " + sql)
	}
	// A framework's tests come from tests_framework_idx, newest first, by
	// the framework's ID: filtered by name only, the newest tests of
	// every framework were read until the page filled (a page of one of
	// 20 frameworks read about 1,000 tests).
	if f.Framework != "" {
		ids, err := s.frameworkIDs(ctx, f.Framework)
		if err != nil {
			return nil, err
		}
		switch len(ids) {
		case 0:
			return []wire.Test{}, nil
		case 1: // one framework of that name: the index's order is the list's
			cond("t.framework_id = $?", ids[0])
		default:
			cond("t.framework_id = ANY($?)", ids)
		}
	}
	for _, c := range []struct{ sql, v string }{{"t.state = $?", f.State}, {"t.branch = $?", f.Branch},
		{"t.commit_sha LIKE $? || '%'", escapeLike(f.Commit)}, {"t.owner = $?", f.Owner}, {"t.verdict = $?", f.Verdict}} {
		if c.v != "" {
			cond(c.sql, c.v)
		}
	}
	if !f.From.IsZero() {
		cond("t.created_at >= $?", f.From)
	}
	if !f.To.IsZero() {
		cond("t.created_at < $?", f.To)
	}
	if !f.AllTeams {
		teams := f.Teams
		if teams == nil {
			teams = []string{}
		}
		cond("f.team = ANY($?::text[])", teams)
	}
	if key, value, hasValue := strings.Cut(f.Tag, "="); hasValue {
		cond("t.tags ->> $? = $?", key, value)
	} else if key != "" {
		cond("t.tags ? $?", key)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT t.id, f.name, f.team, t.framework_version, t.state, t.reason, t.commit_sha, t.branch, t.owner, t.host,
		       t.created_at, t.ended_at, t.verdict, t.priority
		FROM tests t JOIN frameworks f ON f.id = t.framework_id
		WHERE t.id < $1`+where.String()+`
		ORDER BY `+order+` LIMIT $2 OFFSET $3`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (wire.Test, error) {
		var t wire.Test
		err := r.Scan(&t.ID, &t.Framework, &t.Team, &t.FrameworkVersion, &t.State, &t.Reason, &t.Commit, &t.Branch,
			&t.Owner, &t.Host, &t.CreatedAt, &t.EndedAt, &t.Verdict, &t.Priority)
		return t, err
	})
}

// frameworkIDs are the IDs of the frameworks named name (one per team
// that has one).
func (s *Store) frameworkIDs(ctx context.Context, name string) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM frameworks WHERE name = $1 ORDER BY id`, name)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// escapeLike makes a user's text match literally inside a LIKE pattern.
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// TestDelete removes an ended test and everything it produced.
func (s *Store) TestDelete(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tests WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// TestImport stores an exported test as a new test of this installation:
// the framework version it ran with (FrameworkImport: never made current
// over an existing framework), the test with its state and timeline, KPIs, tables and
// series. It returns the new test's ID.
func (s *Store) TestImport(ctx context.Context, ex *wire.Export, origin string) (int64, error) {
	f := ex.Framework.Framework
	version, err := s.FrameworkImport(ctx, &f)
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
			                   state, reason, host, exit_code, created_at, updated_at, ended_at, hosts, fingerprint, hardware)
			SELECT f.id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17, $18, $19
			FROM frameworks f WHERE f.team = $1 AND f.name = $2
			RETURNING id`,
			f.Team, f.Name, version, params, t.Commit, t.Branch, t.PR, tagsJSON, t.Baseline, t.Owner,
			t.State, t.Reason, t.Host, t.ExitCode, t.CreatedAt, t.EndedAt, hosts, fp, t.Fingerprint.HardwareOf(t.Host)).Scan(&id)
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

// FingerprintSet stores the environment a test ran in, and its
// execution host's hardware fingerprint beside it for baselines.
func (s *Store) FingerprintSet(ctx context.Context, testID int64, fp wire.Fingerprint) error {
	b, err := json.Marshal(fp)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `UPDATE tests SET fingerprint = $2, hardware = $3 WHERE id = $1`, testID, b, fp.Hardware)
	return err
}

// TestStep is what the central steps check before they act on a test.
type TestStep struct {
	State string
	// Hosts are the hosts the test leased (none recorded yet: empty).
	Hosts []string
}

// TestStepGet reads a test's state and leased hosts (ErrNotFound: no such test).
func (s *Store) TestStepGet(ctx context.Context, testID int64) (TestStep, error) {
	var st TestStep
	err := s.pool.QueryRow(ctx, `SELECT state, hosts FROM tests WHERE id = $1`, testID).Scan(&st.State, &st.Hosts)
	return st, notFound(err)
}

// HostWrite is what the database says about a host writing for a test.
type HostWrite struct {
	// Listed: the test named the host among its hosts.
	Listed bool
	// State is the test's state; Ended is when it ended (zero while not).
	State string
	Ended time.Time
	// Holder is the test that holds the host now (0: nobody).
	Holder int64
	// Series: the holder is a run of the same confirmation (or noise
	// measurement) as the test, which holds the host for all of its runs under its first run's ID.
	Series bool
}

// TestHostWrite reads what decides whether host may write for a test
// (ErrNotFound: no such test): the check on every ingest batch, so one
// light query.
func (s *Store) TestHostWrite(ctx context.Context, testID int64, host string) (HostWrite, error) {
	var (
		w      HostWrite
		ended  *time.Time
		holder *int64
	)
	err := s.pool.QueryRow(ctx, `SELECT $2 = ANY (t.hosts), t.state, t.ended_at, l.test_id,
			coalesce(h.confirmation_id = t.confirmation_id, false) OR coalesce(h.noise_id = t.noise_id, false)
		FROM tests t LEFT JOIN host_leases l ON l.host = $2 LEFT JOIN tests h ON h.id = l.test_id
		WHERE t.id = $1`, testID, host).
		Scan(&w.Listed, &w.State, &ended, &holder, &w.Series)
	if ended != nil {
		w.Ended = *ended
	}
	if holder != nil {
		w.Holder = *holder
	}
	return w, notFound(err)
}

// TestFacets are the framework names and branches of the tests in teams
// (all teams when all), sorted, for the test list's dropdowns; at most 500
// of each, the most recently used first.
func (s *Store) TestFacets(ctx context.Context, teams []string, all bool) (frameworks, branches []string, err error) {
	if teams == nil {
		teams = []string{}
	}
	// Each name and branch costs an index probe or two, not a read of
	// every test: a framework's newest test from tests_framework_idx; the
	// branches one after the other from tests_branch_idx (a skip scan),
	// each with its newest test the teams may see (migration 00029).
	list := func(q string) ([]string, error) {
		rows, err := s.pool.Query(ctx, q, all, teams)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if frameworks, err = list(`
		SELECT v FROM (
			SELECT f.name AS v, max(l.last) AS last
			FROM frameworks f CROSS JOIN LATERAL (SELECT max(t.id) AS last FROM tests t WHERE t.framework_id = f.id) l
			WHERE ($1::boolean OR f.team = ANY($2::text[])) AND f.name <> '' AND l.last IS NOT NULL
			GROUP BY 1 ORDER BY last DESC LIMIT 500) x
		ORDER BY v`); err != nil {
		return nil, nil, err
	}
	branches, err = list(`
		WITH RECURSIVE b (v) AS (
			SELECT min(branch) FROM tests WHERE branch > ''
			UNION ALL
			SELECT (SELECT min(t.branch) FROM tests t WHERE t.branch > b.v) FROM b WHERE b.v IS NOT NULL)
		SELECT v FROM (
			SELECT b.v, l.last FROM b CROSS JOIN LATERAL (
				SELECT t.id AS last FROM tests t JOIN frameworks f ON f.id = t.framework_id
				WHERE t.branch = b.v AND ($1::boolean OR f.team = ANY($2::text[]))
				ORDER BY t.id DESC LIMIT 1) l
			WHERE b.v IS NOT NULL
			ORDER BY l.last DESC LIMIT 500) x
		ORDER BY v`)
	return frameworks, branches, err
}
