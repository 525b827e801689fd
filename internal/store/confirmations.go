package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/wire"
)

// NewConfirmation is what ConfirmationCreate records.
type NewConfirmation struct {
	TestID     int64
	BaseTest   int64
	BaseCommit string
	CandCommit string
	KPIs       []wire.ConfirmKPI
	Budget     int
	Order      string
	StartedBy  string
	Auto       bool
	// Kind is wire.KindConfirm or wire.KindBisect; a bisection has its
	// commits (good end first) and may follow a confirmation (Parent).
	Kind    string
	Commits []string
	Parent  int64
	// CommitsSource is where the commits come from (wire.CommitsGit: to be
	// listed by the bisection's workflow, Commits the history's meanwhile).
	CommitsSource string
}

// ErrConfirming is returned when a test already has a running confirmation.
var ErrConfirming = fmt.Errorf("a confirmation of the test is running: %w", ErrExists)

// ConfirmationCreate records a running confirmation of a test.
func (s *Store) ConfirmationCreate(ctx context.Context, c NewConfirmation, at time.Time) (int64, error) {
	kpis, err := json.Marshal(c.KPIs)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.pool.QueryRow(ctx, `
		INSERT INTO confirmations (test_id, base_test, base_commit, cand_commit, kpis, budget, run_order, started_by, auto,
		                           created_at, kind, commits, parent_id, commits_source)
		VALUES ($1, NULLIF($2, 0), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULLIF($13, 0), $14) RETURNING id`,
		c.TestID, c.BaseTest, c.BaseCommit, c.CandCommit, kpis, c.Budget, c.Order, c.StartedBy, c.Auto, at,
		cmp.Or(c.Kind, wire.KindConfirm), append([]string{}, c.Commits...), c.Parent, c.CommitsSource).Scan(&id)
	if err = uniqueExists(err); errors.Is(err, ErrExists) {
		return 0, ErrConfirming
	}
	return id, err
}

// confirmationColumns are what scanConfirmation reads, from confirmations
// c joined with the confirmed test t and its framework f.
const confirmationColumns = `c.id, c.test_id, f.name, f.team, c.base_test, c.base_commit, c.cand_commit, c.host, c.kpis,
	c.budget, c.run_order, c.state, c.result, c.reason, c.started_by, c.auto, c.created_at, c.ended_at,
	c.kind, c.parent_id, c.commits, c.bisect, c.commits_source`

func scanConfirmation(row pgx.Row) (*wire.Confirmation, error) {
	var (
		c             wire.Confirmation
		kpis, outcome []byte
	)
	err := row.Scan(&c.ID, &c.TestID, &c.Framework, &c.Team, &c.BaseTest, &c.BaseCommit, &c.CandCommit, &c.Host, &kpis,
		&c.Budget, &c.Order, &c.State, &outcome, &c.Reason, &c.StartedBy, &c.Auto, &c.CreatedAt, &c.EndedAt,
		&c.Kind, &c.Parent, &c.Commits, &c.Bisect, &c.CommitsSource)
	if err != nil {
		return nil, notFound(err)
	}
	if err := json.Unmarshal(kpis, &c.KPIs); err != nil {
		return nil, fmt.Errorf("decode KPIs of confirmation %d: %w", c.ID, err)
	}
	if err := json.Unmarshal(outcome, &c.Outcomes); err != nil {
		return nil, fmt.Errorf("decode outcome of confirmation %d: %w", c.ID, err)
	}
	return &c, nil
}

// ConfirmationGet loads a confirmation and its runs.
func (s *Store) ConfirmationGet(ctx context.Context, id int64) (*wire.Confirmation, error) {
	c, err := scanConfirmation(s.pool.QueryRow(ctx, `SELECT `+confirmationColumns+`
		FROM confirmations c JOIN tests t ON t.id = c.test_id JOIN frameworks f ON f.id = t.framework_id
		WHERE c.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("confirmation %d: %w", id, err)
	}
	if c.Runs, err = s.confirmationRuns(ctx, id); err != nil {
		return nil, err
	}
	return c, nil
}

// ConfirmationsOf lists a test's confirmations, newest first, without
// their runs.
func (s *Store) ConfirmationsOf(ctx context.Context, testID int64) ([]wire.Confirmation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+confirmationColumns+`
		FROM confirmations c JOIN tests t ON t.id = c.test_id JOIN frameworks f ON f.id = t.framework_id
		WHERE c.test_id = $1 ORDER BY c.id DESC`, testID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []wire.Confirmation
	for rows.Next() {
		c, err := scanConfirmation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// confirmationRuns lists a confirmation's runs in the order they were
// made, each with its KPIs' means.
func (s *Store) confirmationRuns(ctx context.Context, id int64) ([]wire.ConfirmationRun, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t.id, t.confirmation_arm, t.commit_sha, t.state, t.created_at, t.ended_at,
		       COALESCE((SELECT jsonb_object_agg(name, v) FROM (SELECT name, avg(value) v FROM test_kpis
		                 WHERE test_id = t.id GROUP BY name) k), '{}')
		FROM tests t WHERE t.confirmation_id = $1 ORDER BY t.id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []wire.ConfirmationRun
	for rows.Next() {
		var r wire.ConfirmationRun
		if err := rows.Scan(&r.TestID, &r.Arm, &r.Commit, &r.State, &r.CreatedAt, &r.EndedAt, &r.Values); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ConfirmationRunCreate records a queued run of a confirmation: a test
// like the confirmed one (framework version, parameters, branch, tags,
// owner, priority) at the arm's commit. It returns the run's test ID.
func (s *Store) ConfirmationRunCreate(ctx context.Context, confirmationID int64, arm, commit string, at time.Time) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO tests (framework_id, framework_version, params, commit_sha, branch, tags, owner, priority,
			                   created_at, updated_at, confirmation_id, confirmation_arm)
			SELECT t.framework_id, t.framework_version, t.params, $3, t.branch, t.tags, t.owner, t.priority, $4, $4, c.id, $2
			FROM confirmations c JOIN tests t ON t.id = c.test_id WHERE c.id = $1
			RETURNING id`, confirmationID, arm, commit, at).Scan(&id)
		if err != nil {
			return notFound(err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO test_transitions (test_id, state, at) VALUES ($1, 'queued', $2)`, id, at)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("confirmation %d: create run: %w", confirmationID, err)
	}
	return id, nil
}

// ConfirmationRunValues are a run's KPI values (the mean over its
// iterations) and its state.
func (s *Store) ConfirmationRunValues(ctx context.Context, testID int64) (map[string]float64, string, error) {
	var (
		values map[string]float64
		state  string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT t.state, COALESCE((SELECT jsonb_object_agg(name, v) FROM (SELECT name, avg(value) v FROM test_kpis
		                 WHERE test_id = t.id GROUP BY name) k), '{}')
		FROM tests t WHERE t.id = $1`, testID).Scan(&state, &values)
	if err != nil {
		return nil, "", fmt.Errorf("run %d: %w", testID, notFound(err))
	}
	return values, state, nil
}

// ConfirmationUpdate records where a confirmation stands: its host once
// known, its outcomes so far, and its state (ended unless running).
func (s *Store) ConfirmationUpdate(ctx context.Context, id int64, host, state, reason string, outcomes []wire.ConfirmOutcome, at time.Time) error {
	return s.SeriesUpdate(ctx, id, host, state, reason, outcomes, nil, at)
}

// SeriesUpdate is ConfirmationUpdate with a bisection's standing (kept
// as it is when nil).
func (s *Store) SeriesUpdate(ctx context.Context, id int64, host, state, reason string, outcomes []wire.ConfirmOutcome,
	bisect *confirm.BisectResult, at time.Time) error {
	if outcomes == nil {
		outcomes = []wire.ConfirmOutcome{}
	}
	result, err := json.Marshal(outcomes)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE confirmations SET host = CASE WHEN $2 = '' THEN host ELSE $2 END, state = $3, reason = $4, result = $5,
		       ended_at = CASE WHEN $3 = 'running' THEN NULL ELSE $6::timestamptz END, bisect = coalesce($7, bisect)
		WHERE id = $1 AND state = 'running'`, id, host, state, reason, result, at, bisect)
	if err != nil {
		return fmt.Errorf("confirmation %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.ConfirmationGet(ctx, id); err != nil {
			return err
		}
		// Already ended: a retry of the activity that ended it.
	}
	return nil
}

// BisectCommits lists the commits a bisection of a test may go through:
// the commits of its framework's tests on its branch (confirmation and
// bisection runs aside), in the order each was first tested, from good's
// first test to the test's own commit, both included. It is empty when
// good was never tested on the branch before the test.
func (s *Store) BisectCommits(ctx context.Context, testID int64, good string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		WITH me AS (SELECT framework_id, branch, commit_sha, created_at FROM tests WHERE id = $1),
		firsts AS (
			SELECT t.commit_sha, min(t.created_at) AS first
			FROM tests t, me
			WHERE t.framework_id = me.framework_id AND t.branch = me.branch AND t.confirmation_arm = ''
			  AND t.commit_sha <> '' AND t.created_at <= me.created_at
			GROUP BY t.commit_sha)
		SELECT f.commit_sha FROM firsts f, me
		WHERE f.first >= (SELECT first FROM firsts WHERE commit_sha = $2)
		  AND f.first <= (SELECT first FROM firsts WHERE commit_sha = me.commit_sha)
		ORDER BY f.first, f.commit_sha`, testID, good)
	if err != nil {
		return nil, err
	}
	commits, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("commits of test %d since %s: %w", testID, good, err)
	}
	return commits, nil
}

// SeriesAlertEvent records, on every alert a test opened or was attached
// to, that a confirmation or bisection of the test ended: kind confirmed,
// not-confirmed or bisected, with a note that says what it found. Once
// per alert, kind and test.
func (s *Store) SeriesAlertEvent(ctx context.Context, testID int64, kind, note string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO alert_events (alert_id, kind, test_id, actor, note, at)
		SELECT DISTINCT e.alert_id, $2::text, $1::bigint, 'pitwall', $3::text, $4::timestamptz
		FROM alert_events e WHERE e.test_id = $1
		ON CONFLICT (alert_id, kind, test_id) WHERE test_id IS NOT NULL DO NOTHING`, testID, kind, note, at)
	return err
}

// BisectCommitsSet records the commits a running bisection goes through
// and where they came from.
func (s *Store) BisectCommitsSet(ctx context.Context, id int64, commits []string, source string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE confirmations SET commits = $2, commits_source = $3
		WHERE id = $1 AND kind = 'bisect' AND state = 'running'`, id, append([]string{}, commits...), source)
	if err != nil {
		return fmt.Errorf("bisection %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("bisection %d: %w", id, ErrNotFound)
	}
	return nil
}

// AnnounceClaim claims the announcement of a series' ending inside an
// alert transaction: true the first time, false once it was claimed.
func (q AlertQ) AnnounceClaim(ctx context.Context, id int64, at time.Time) (bool, error) {
	tag, err := q.tx.Exec(ctx, `UPDATE confirmations SET announced_at = $2 WHERE id = $1 AND announced_at IS NULL`, id, at)
	if err != nil {
		return false, fmt.Errorf("confirmation %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeliveriesOfChannelSuffix lists a test's deliveries whose channel ends
// with suffix (an announcement's), by ID.
func (s *Store) DeliveriesOfChannelSuffix(ctx context.Context, testID int64, suffix string) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM notify_deliveries WHERE test_id = $1 AND right(channel, length($2)) = $2 ORDER BY id`,
		testID, suffix)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
