package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one security-relevant action.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Team   string    `json:"team"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
	Remote string    `json:"remote"`
}

// AuditAdd records an action.
func (s *Store) AuditAdd(ctx context.Context, e AuditEntry) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (actor, action, team, target, detail, remote) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.Actor, e.Action, e.Team, e.Target, e.Detail, e.Remote)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// AuditList returns the newest entries first: a team's, or all when team is empty.
func (s *Store) AuditList(ctx context.Context, team string, limit int) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, action, team, target, detail, remote FROM audit_log
		WHERE $1 = '' OR team = $1 ORDER BY id DESC LIMIT $2`, team, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[AuditEntry])
}

// AuditPage returns up to limit entries older than entry before (0: from
// the newest), newest first: a team's, or all when team is empty.
func (s *Store) AuditPage(ctx context.Context, team string, before int64, limit int) ([]AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, action, team, target, detail, remote FROM audit_log
		WHERE ($1 = '' OR team = $1) AND id < $2 ORDER BY id DESC LIMIT $3`, team, before, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[AuditEntry])
}
