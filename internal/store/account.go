package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Member is a user's role in a team.
type Member struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// TeamMembers lists a team's members by name.
func (s *Store) TeamMembers(ctx context.Context, team string) ([]Member, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.team = $1 ORDER BY u.name`, team)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Member])
}

// TeamList lists every team's name.
func (s *Store) TeamList(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM teams ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// TokenListByUser lists one user's tokens, revoked and expired ones included.
func (s *Store) TokenListByUser(ctx context.Context, userID int64) ([]Token, error) {
	return s.tokens(ctx, `t.user_id = $1`, userID)
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
