package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LeaseSet records that test holds host (or, with testID 0, that host is free).
func (s *Store) LeaseSet(ctx context.Context, host string, testID int64, since time.Time) error {
	if testID == 0 {
		_, err := s.pool.Exec(ctx, `DELETE FROM host_leases WHERE host = $1`, host)
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO host_leases (host, test_id, since) VALUES ($1, $2, $3)
		ON CONFLICT (host) DO UPDATE SET test_id = EXCLUDED.test_id, since = EXCLUDED.since`, host, testID, since)
	return err
}

// hostClaimLock is the advisory lock that makes host picks one at a time.
const hostClaimLock = 0x7069_7477_616c // "pitwal"

// HostClaim chooses among candidates the host the fewest unended tests
// have claimed (by name on a tie) and claims it for the test, so tests
// submitted together spread over the hosts instead of queueing on the
// first free one. Picks are serialized by an advisory lock, so two tests
// choosing at the same instant see each other's claims. A test's own
// earlier claim does not count against a host (a retried pick is stable
// enough).
func (s *Store) HostClaim(ctx context.Context, testID int64, candidates []string) (string, error) {
	var host string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(hostClaimLock)); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			SELECT c.name
			FROM unnest($1::text[]) AS c(name)
			LEFT JOIN tests t ON t.host = c.name AND t.ended_at IS NULL AND t.id <> $2
			GROUP BY c.name
			ORDER BY count(t.id), c.name
			LIMIT 1`, candidates, testID).Scan(&host)
		if err != nil {
			return fmt.Errorf("choose among %d host(s): %w", len(candidates), err)
		}
		_, err = tx.Exec(ctx, `UPDATE tests SET host = $2 WHERE id = $1 AND ended_at IS NULL`, testID, host)
		return err
	})
	return host, err
}

// TestHeldHost reports whether a test ever held a host (ErrNotFound: no
// such test): the check on every ingest batch, so one light query.
func (s *Store) TestHeldHost(ctx context.Context, testID int64, host string) (bool, error) {
	var held bool
	err := s.pool.QueryRow(ctx, `SELECT $2 = ANY (hosts) FROM tests WHERE id = $1`, testID, host).Scan(&held)
	return held, notFound(err)
}
