package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
)

// AlertTx runs fn in one transaction: a test's alert evaluation is all
// or nothing, so a retried evaluation finds it done (AlertQ.Claim).
func (s *Store) AlertTx(ctx context.Context, fn func(q AlertQ) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(AlertQ{tx}) })
}

// AlertQ holds the alert queries run inside AlertTx.
type AlertQ struct{ tx pgx.Tx }

// Claim marks a test's ending as evaluated; false if it already was.
func (q AlertQ) Claim(ctx context.Context, testID int64) (bool, error) {
	tag, err := q.tx.Exec(ctx, `INSERT INTO alert_evaluations (test_id) VALUES ($1) ON CONFLICT DO NOTHING`, testID)
	return tag.RowsAffected() == 1, err
}

// AlertRow is an alert as the evaluation sees it.
type AlertRow struct {
	ID       int64
	State    string
	Severity string
	DeltaPct float64
	// Before is the KPI's level before the alert's change point, while
	// that change point stands unaccepted; nil otherwise.
	Before *float64
}

// Unresolved returns the unresolved alert of a problem of the test's
// series (framework and parameter values), or nil.
func (q AlertQ) Unresolved(ctx context.Context, testID int64, kind, kpi string) (*AlertRow, error) {
	rows, err := q.tx.Query(ctx, `SELECT a.id, a.state, a.severity, a.delta_pct, c.before_mean FROM alerts a
		JOIN tests t ON t.id = $1
		LEFT JOIN change_points c ON c.id = a.change_point_id AND c.accepted_at IS NULL
		WHERE a.framework_id = t.framework_id AND a.params = t.params AND a.kind = $2 AND a.kpi = $3 AND a.state <> 'resolved'
		FOR UPDATE OF a`, testID, kind, kpi)
	if err != nil {
		return nil, err
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[AlertRow])
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	return &r, err
}

// AlertedChangePoint reports whether any alert, in any state, was raised
// for or attached to a change point.
func (q AlertQ) AlertedChangePoint(ctx context.Context, cpID int64) (bool, error) {
	var ok bool
	err := q.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM alerts WHERE change_point_id = $1)`, cpID).Scan(&ok)
	return ok, err
}

// NewAlert is an alert to open.
type NewAlert struct {
	TestID int64
	// FirstTest is the first test of the problem when it is not TestID:
	// a change point's, found only tests later.
	FirstTest   int64
	Kind, KPI   string
	Severity    string
	DeltaPct    float64
	ChangePoint *int64
	Summary     string
}

// Open opens an alert for the test's series with the test as last, and
// as first unless FirstTest says otherwise.
func (q AlertQ) Open(ctx context.Context, a NewAlert) (int64, error) {
	if a.FirstTest == 0 {
		a.FirstTest = a.TestID
	}
	var id int64
	err := q.tx.QueryRow(ctx, `INSERT INTO alerts (framework_id, kind, kpi, params, severity, delta_pct, first_test, last_test,
			first_commit, change_point_id, summary)
		SELECT t.framework_id, $2, $3, t.params, $4, $5, f.id, t.id, f.commit_sha, $6, $7
		FROM tests t JOIN tests f ON f.id = $8 WHERE t.id = $1
		RETURNING id`, a.TestID, a.Kind, a.KPI, a.Severity, a.DeltaPct, a.ChangePoint, a.Summary, a.FirstTest).Scan(&id)
	return id, err
}

// Attach records a later test of an alert's problem, its severity and size.
func (q AlertQ) Attach(ctx context.Context, id, testID int64, severity string, deltaPct float64, cp *int64, summary string) error {
	_, err := q.tx.Exec(ctx, `UPDATE alerts SET last_test = $2, severity = $3, delta_pct = $4,
		change_point_id = coalesce(change_point_id, $5), summary = $6, updated_at = now() WHERE id = $1`,
		id, testID, severity, deltaPct, cp, summary)
	return err
}

// Resolve resolves an alert.
func (q AlertQ) Resolve(ctx context.Context, id int64) error {
	_, err := q.tx.Exec(ctx, `UPDATE alerts SET state = 'resolved', resolved_at = now(), updated_at = now() WHERE id = $1`, id)
	return err
}

// Event adds an entry to an alert's history (once per alert, kind and test).
func (q AlertQ) Event(ctx context.Context, alertID int64, kind string, testID *int64, actor, note, severity string) error {
	_, err := q.tx.Exec(ctx, `INSERT INTO alert_events (alert_id, kind, test_id, actor, note, severity)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, alertID, kind, testID, actor, note, severity)
	return err
}

// NewDelivery is a message to send to one channel.
type NewDelivery struct {
	TestID              int64
	Team, Channel, Kind string
	Target              string
	AlertIDs            []int64
	Events              []string
	Subject, Body       string
}

// DeliveryInsert stores a message to send; the same test and channel
// make one delivery.
func (q AlertQ) DeliveryInsert(ctx context.Context, d NewDelivery) (int64, error) {
	if d.AlertIDs == nil {
		d.AlertIDs = []int64{}
	}
	var id int64
	err := q.tx.QueryRow(ctx, `INSERT INTO notify_deliveries (test_id, team, channel, kind, target, alert_ids, events, subject, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (test_id, channel) DO UPDATE SET test_id = EXCLUDED.test_id RETURNING id`,
		d.TestID, d.Team, d.Channel, d.Kind, d.Target, d.AlertIDs, d.Events, d.Subject, d.Body).Scan(&id)
	return id, err
}

// DeliveriesOfTest lists the deliveries of a test's ending, by ID.
func (s *Store) DeliveriesOfTest(ctx context.Context, testID int64) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM notify_deliveries WHERE test_id = $1 ORDER BY id`, testID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// StoredDelivery is a delivery with what it sends.
type StoredDelivery struct {
	ID                          int64
	TestID                      int64
	Team, Channel, Kind, Target string
	Subject, Body, Status       string
	Attempts                    int
}

// DeliveryGet returns one delivery.
func (s *Store) DeliveryGet(ctx context.Context, id int64) (*StoredDelivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, test_id, team, channel, kind, target, subject, body, status, attempts
		FROM notify_deliveries WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	d, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[StoredDelivery])
	if err != nil {
		return nil, notFound(err)
	}
	return &d, nil
}

// DeliveryOutcome records an attempt's outcome.
func (s *Store) DeliveryOutcome(ctx context.Context, id int64, status string, attempts int, lastError string) error {
	_, err := s.pool.Exec(ctx, `UPDATE notify_deliveries SET status = $2, attempts = greatest(attempts, $3), last_error = coalesce(nullif($4, ''), last_error),
		updated_at = now() WHERE id = $1`, id, status, attempts, lastError)
	return err
}

// AlertFilter selects alerts; empty fields select all. Teams limits the
// list to those teams (nil: every team). State is a state, or
// AlertUnresolved for the open and acknowledged ones.
type AlertFilter struct {
	Teams           []string
	Team, Framework string
	State           string
	Limit           int
}

// AlertUnresolved is the filter state of the alerts not yet resolved:
// open and acknowledged (the alerts page's default).
const AlertUnresolved = "unresolved"

const alertSelect = `SELECT a.id, f.team, f.name, a.kind, a.kpi, a.params, a.state, a.severity, a.delta_pct, a.first_test,
	a.last_test, a.first_commit, a.change_point_id, a.summary, a.opened_at, a.updated_at, a.acknowledged_by, a.ack_note,
	a.resolved_at FROM alerts a JOIN frameworks f ON f.id = a.framework_id`

func scanAlert(row pgx.CollectableRow) (wire.Alert, error) {
	var (
		a      wire.Alert
		params []byte
	)
	err := row.Scan(&a.ID, &a.Team, &a.Framework, &a.Kind, &a.KPI, &params, &a.State, &a.Severity, &a.DeltaPct,
		&a.FirstTest, &a.LastTest, &a.FirstCommit, &a.ChangePoint, &a.Summary, &a.OpenedAt, &a.UpdatedAt,
		&a.AcknowledgedBy, &a.AckNote, &a.ResolvedAt)
	if err != nil {
		return a, err
	}
	a.Params = []framework.Param{}
	if err := json.Unmarshal(params, &a.Params); err != nil {
		return a, fmt.Errorf("alert %d params: %w", a.ID, err)
	}
	return a, nil
}

// AlertList lists alerts, newest first.
func (s *Store) AlertList(ctx context.Context, f AlertFilter) ([]wire.Alert, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 500
	}
	rows, err := s.pool.Query(ctx, alertSelect+`
		WHERE ($1::text[] IS NULL OR f.team = ANY($1)) AND ($2 = '' OR f.team = $2) AND ($3 = '' OR f.name = $3)
		  AND ($4 = '' OR a.state = $4 OR $4 = '`+AlertUnresolved+`' AND a.state <> 'resolved')
		ORDER BY a.id DESC LIMIT $5`, f.Teams, f.Team, f.Framework, f.State, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanAlert)
}

// AlertCountOpen counts the open (unacknowledged) alerts of the teams
// (nil: every team).
func (s *Store) AlertCountOpen(ctx context.Context, teams []string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM alerts a JOIN frameworks f ON f.id = a.framework_id
		WHERE a.state = 'open' AND ($1::text[] IS NULL OR f.team = ANY($1))`, teams).Scan(&n)
	return n, err
}

// AlertGet returns an alert with its history and deliveries.
func (s *Store) AlertGet(ctx context.Context, id int64) (*wire.Alert, error) {
	rows, err := s.pool.Query(ctx, alertSelect+` WHERE a.id = $1`, id)
	if err != nil {
		return nil, err
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanAlert)
	if err != nil {
		return nil, notFound(err)
	}
	rows, err = s.pool.Query(ctx, `SELECT kind, test_id, actor, note, severity, at FROM alert_events WHERE alert_id = $1 ORDER BY at, id`, id)
	if err != nil {
		return nil, err
	}
	if a.History, err = pgx.CollectRows(rows, pgx.RowToStructByPos[wire.AlertEvent]); err != nil {
		return nil, err
	}
	rows, err = s.pool.Query(ctx, `SELECT id, test_id, channel, kind, target, events, subject, status, attempts, last_error, updated_at
		FROM notify_deliveries WHERE $1 = ANY(alert_ids) ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	if a.Deliveries, err = pgx.CollectRows(rows, pgx.RowToStructByPos[wire.Delivery]); err != nil {
		return nil, err
	}
	return &a, nil
}

// AlertAcknowledge acknowledges an open alert; false if it was not open.
func (s *Store) AlertAcknowledge(ctx context.Context, id int64, by, note string) (bool, error) {
	var ok bool
	err := s.AlertTx(ctx, func(q AlertQ) error {
		tag, err := q.tx.Exec(ctx, `UPDATE alerts SET state = 'acknowledged', acknowledged_by = $2, ack_note = $3, updated_at = now()
			WHERE id = $1 AND state = 'open'`, id, by, note)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		ok = true
		return q.Event(ctx, id, wire.EventAcknowledged, nil, by, note, "")
	})
	return ok, err
}

// AlertResolveByHand resolves an unresolved alert; false if it was resolved.
func (s *Store) AlertResolveByHand(ctx context.Context, id int64, by, note string) (bool, error) {
	var ok bool
	err := s.AlertTx(ctx, func(q AlertQ) error {
		tag, err := q.tx.Exec(ctx, `UPDATE alerts SET state = 'resolved', resolved_at = now(), updated_at = now()
			WHERE id = $1 AND state <> 'resolved'`, id)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		ok = true
		return q.Event(ctx, id, wire.EventResolved, nil, by, note, "")
	})
	return ok, err
}

// AlertResolveChangePoint resolves the unresolved alerts of an accepted
// change point's series and KPI: the shift was intended.
func (s *Store) AlertResolveChangePoint(ctx context.Context, cpID int64, by string) error {
	return s.AlertTx(ctx, func(q AlertQ) error {
		rows, err := q.tx.Query(ctx, `UPDATE alerts a SET state = 'resolved', resolved_at = now(), updated_at = now()
			FROM change_points c WHERE c.id = $1 AND a.framework_id = c.framework_id AND a.params = c.params
			  AND a.kpi = c.kpi AND a.kind = 'regression' AND a.state <> 'resolved' RETURNING a.id`, cpID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := q.Event(ctx, id, wire.EventResolved, nil, by, fmt.Sprintf("change point %d accepted as intended", cpID), ""); err != nil {
				return err
			}
		}
		return nil
	})
}

// AlertTeam returns an alert's team.
func (s *Store) AlertTeam(ctx context.Context, id int64) (string, error) {
	var team string
	err := s.pool.QueryRow(ctx, `SELECT f.team FROM alerts a JOIN frameworks f ON f.id = a.framework_id WHERE a.id = $1`, id).Scan(&team)
	return team, notFound(err)
}

// StoredChannel is a notification channel with its sealed secret.
type StoredChannel struct {
	wire.NotifyChannel
	Sealed []byte
}

// ChannelList lists a team's notification channels by name.
func (s *Store) ChannelList(ctx context.Context, team string) ([]StoredChannel, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, kind, target, secret, events, min_severity, frameworks
		FROM notify_channels WHERE team = $1 ORDER BY name`, team)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (StoredChannel, error) {
		var c StoredChannel
		err := row.Scan(&c.Name, &c.Kind, &c.Target, &c.Sealed, &c.Events, &c.MinSeverity, &c.Frameworks)
		c.HasSecret = len(c.Sealed) > 0
		return c, err
	})
}

// ChannelPut creates or replaces a team's channel; a nil sealed secret
// keeps the stored one.
func (s *Store) ChannelPut(ctx context.Context, team string, c wire.NotifyChannel, sealed []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO notify_channels (team, name, kind, target, secret, events, min_severity, frameworks)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (team, name) DO UPDATE SET kind = EXCLUDED.kind, target = EXCLUDED.target,
			secret = coalesce(EXCLUDED.secret, notify_channels.secret), events = EXCLUDED.events,
			min_severity = EXCLUDED.min_severity, frameworks = EXCLUDED.frameworks`,
		team, c.Name, c.Kind, c.Target, sealed, c.Events, c.MinSeverity, c.Frameworks)
	return err
}

// ChannelDelete removes a team's channel; false if there was none.
func (s *Store) ChannelDelete(ctx context.Context, team, name string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notify_channels WHERE team = $1 AND name = $2`, team, name)
	return tag.RowsAffected() == 1, err
}

// UserEmail returns a user's e-mail address ("" when none or no such user).
func (s *Store) UserEmail(ctx context.Context, name string) (string, error) {
	var email string
	err := s.pool.QueryRow(ctx, `SELECT email FROM users WHERE name = $1`, name).Scan(&email)
	if err == pgx.ErrNoRows {
		return "", nil
	}
	return email, err
}

// UserSetEmail sets a user's e-mail address.
func (s *Store) UserSetEmail(ctx context.Context, userID int64, email string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET email = $2 WHERE id = $1`, userID, email)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// AlertTestInput is what an alert evaluation reads of a test.
type AlertTestInput struct {
	// Test is the test's row with its verdicts (TestRow: no notes, KPIs
	// or timeline; Means has the KPIs).
	Test     *wire.Test
	Plan     *TestPlan
	Verdicts []wire.KPIVerdict
	// ChangePoints are the unaccepted, strong change points found at this
	// test, by KPI.
	ChangePoints map[string]ChangePoint
	// Means are the test's mean value of each KPI, by name.
	Means map[string]float64
}

// AlertInput reads a test, its framework version and verdicts.
func (s *Store) AlertInput(ctx context.Context, testID int64) (*AlertTestInput, error) {
	t, err := s.TestRow(ctx, testID)
	if err != nil {
		return nil, err
	}
	p, err := s.TestPlanGet(ctx, testID)
	if err != nil {
		return nil, err
	}
	v, err := s.testVerdicts(ctx, testID)
	if err != nil {
		return nil, err
	}
	t.Verdicts = v
	rows, err := s.pool.Query(ctx, changePointSelect+`
		JOIN tests t ON t.id = $1
		WHERE c.framework_id = t.framework_id AND c.params = t.params AND c.accepted_at IS NULL AND NOT c.weak
		  AND c.created_at > now() - interval '1 day' AND c.test_id <= $1 ORDER BY c.test_id`, testID)
	if err != nil {
		return nil, err
	}
	cps, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ChangePoint])
	if err != nil {
		return nil, err
	}
	in := &AlertTestInput{Test: t, Plan: p, Verdicts: v, ChangePoints: map[string]ChangePoint{}, Means: map[string]float64{}}
	for _, c := range cps {
		in.ChangePoints[c.KPI] = c
	}
	rows, err = s.pool.Query(ctx, `SELECT name, avg(value) FROM test_kpis WHERE test_id = $1 GROUP BY name`, testID)
	if err != nil {
		return nil, err
	}
	var name string
	var mean float64
	_, err = pgx.ForEachRow(rows, []any{&name, &mean}, func() error {
		in.Means[name] = mean
		return nil
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}
