package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// A host's lease: who holds it (host_leases) and who waits for it, in
// order (lease_requests). Every change of one host's lease runs under that
// host's transaction-scoped advisory lock, so a request and a release
// never miss each other.

// LeaseRequest is a test (or a confirmation, under its first test's ID)
// asking for a host.
type LeaseRequest struct {
	TestID     int64
	WorkflowID string
	// Priority is the test's rank: higher is served first.
	Priority int
	// MaxWait is how long the request may wait behind higher-priority
	// ones before it is served ahead of them; 0 never.
	MaxWait time.Duration
}

// LeaseGrant is a holder that has not been told of its grant yet.
type LeaseGrant struct {
	Host       string
	TestID     int64
	WorkflowID string
	// Promoted says the host went to this request ahead of higher-priority
	// ones because it had waited its MaxWait; Waited is how long it waited.
	Promoted bool
	Waited   time.Duration
}

// lockLease takes host's lease lock for the transaction.
func lockLease(ctx context.Context, tx pgx.Tx, host string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('lease ' || $1, 0))`, host)
	return err
}

// LeaseTake gives host to r when nobody holds it, else queues r behind
// the holder (once: a request already queued keeps its place). It returns
// the holder: r's own TestID when r holds the host (also when it already
// did), another test's when r waits.
func (s *Store) LeaseTake(ctx context.Context, host string, r LeaseRequest) (holder int64, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLease(ctx, tx, host); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			WITH h AS (SELECT test_id FROM host_leases WHERE host = $1),
			took AS (
				INSERT INTO host_leases (host, test_id, since, workflow_id, told)
				SELECT $1, $2, now(), $3, true WHERE NOT EXISTS (SELECT 1 FROM h)),
			queued AS (
				INSERT INTO lease_requests (host, test_id, workflow_id, priority, max_wait_ms)
				SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM h WHERE test_id <> $2)
				ON CONFLICT (host, test_id) DO NOTHING)
			SELECT COALESCE((SELECT test_id FROM h), $2)`,
			host, r.TestID, r.WorkflowID, r.Priority, r.MaxWait.Milliseconds()).Scan(&holder)
	})
	if err != nil {
		return 0, fmt.Errorf("take lease of %s for test %d: %w", host, r.TestID, err)
	}
	return holder, nil
}

// LeaseGiveBack takes testID off host: out of its queue, and, when it held
// the host, hands the host to the next request (nextLeaseRequest) in the
// same transaction. It returns the holder still to be told of its grant,
// if any (the one just chosen, or one an earlier call chose and nobody
// told), which the caller tells and then marks with LeaseTold. Called
// again, it takes nothing more off and returns the same untold holder.
func (s *Store) LeaseGiveBack(ctx context.Context, host string, testID int64) (*LeaseGrant, error) {
	var g *LeaseGrant
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLease(ctx, tx, host); err != nil {
			return err
		}
		var held bool
		err := tx.QueryRow(ctx, `
			WITH q AS (DELETE FROM lease_requests WHERE host = $1 AND test_id = $2),
			h AS (DELETE FROM host_leases WHERE host = $1 AND test_id = $2 RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM h)`, host, testID).Scan(&held)
		if err != nil {
			return err
		}
		if held {
			if g, err = nextLeaseHolder(ctx, tx, host); err != nil || g != nil {
				return err
			}
		}
		g, err = untoldHolder(ctx, tx, host)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("give back %s for test %d: %w", host, testID, err)
	}
	return g, nil
}

// nextLeaseHolder moves the next request for the free host into its
// holder row, untold; nil when nobody waits. The next request is the
// oldest of the highest priority, unless a request of lower priority has
// waited its max_wait: then the oldest such request is served first
// (promoted). A promotion only jumps higher priorities; within one
// priority the order is first come, first served.
func nextLeaseHolder(ctx context.Context, tx pgx.Tx, host string) (*LeaseGrant, error) {
	g := LeaseGrant{Host: host}
	var waitedMS float64
	err := tx.QueryRow(ctx, `
		WITH top AS (SELECT max(priority) AS p FROM lease_requests WHERE host = $1),
		waiting AS (
			SELECT r.test_id, r.workflow_id, r.queued_at, r.priority, r.seq,
				(r.max_wait_ms > 0 AND r.priority < top.p
					AND now() - r.queued_at >= r.max_wait_ms * interval '1 millisecond') AS promoted
			FROM lease_requests r, top WHERE r.host = $1),
		next AS (
			SELECT * FROM waiting
			ORDER BY promoted DESC, CASE WHEN promoted THEN seq END, priority DESC, seq
			LIMIT 1),
		gone AS (DELETE FROM lease_requests r USING next WHERE r.host = $1 AND r.test_id = next.test_id),
		took AS (
			INSERT INTO host_leases (host, test_id, since, workflow_id, told)
			SELECT $1, test_id, now(), workflow_id, false FROM next)
		SELECT test_id, workflow_id, promoted, extract(epoch FROM now() - queued_at) * 1000 FROM next`,
		host).Scan(&g.TestID, &g.WorkflowID, &g.Promoted, &waitedMS)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hand %s to the next request: %w", host, err)
	}
	g.Waited = time.Duration(waitedMS * float64(time.Millisecond))
	return &g, nil
}

// untoldHolder is host's holder when it has not been told of its grant.
func untoldHolder(ctx context.Context, tx pgx.Tx, host string) (*LeaseGrant, error) {
	g := LeaseGrant{Host: host}
	err := tx.QueryRow(ctx, `SELECT test_id, workflow_id FROM host_leases WHERE host = $1 AND NOT told`, host).
		Scan(&g.TestID, &g.WorkflowID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return &g, err
}

// LeaseTold records that host's holder testID has been told of its grant.
func (s *Store) LeaseTold(ctx context.Context, host string, testID int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE host_leases SET told = true WHERE host = $1 AND test_id = $2`, host, testID)
	return err
}

// LeaseHolder is a host's holder, as the lease sweep sees it.
type LeaseHolder struct {
	Host       string
	TestID     int64
	WorkflowID string
	Since      time.Time
	Told       bool
}

// LeaseHolders lists the holders that took their host before cutoff.
func (s *Store) LeaseHolders(ctx context.Context, cutoff time.Time) ([]LeaseHolder, error) {
	rows, err := s.pool.Query(ctx, `SELECT host, test_id, workflow_id, since, told FROM host_leases
		WHERE since < $1 ORDER BY host`, cutoff)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LeaseHolder, error) {
		var h LeaseHolder
		return h, r.Scan(&h.Host, &h.TestID, &h.WorkflowID, &h.Since, &h.Told)
	})
}

// LeaseSet records that test holds host (or, with testID 0, that host is
// free): what a HostLease workflow, from before the lease moved here,
// records of its own decisions.
func (s *Store) LeaseSet(ctx context.Context, host string, testID int64, since time.Time) error {
	if testID == 0 {
		_, err := s.pool.Exec(ctx, `DELETE FROM host_leases WHERE host = $1`, host)
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO host_leases (host, test_id, since) VALUES ($1, $2, $3)
		ON CONFLICT (host) DO UPDATE SET test_id = EXCLUDED.test_id, since = EXCLUDED.since`, host, testID, since)
	return err
}
