package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/auth"
)

// TeamCreate adds a team.
func (s *Store) TeamCreate(ctx context.Context, name string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO teams (name) VALUES ($1)`, name)
	return uniqueExists(err)
}

// TeamExists reports whether a team exists.
func (s *Store) TeamExists(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM teams WHERE name = $1)`, name).Scan(&ok)
	return ok, err
}

// TeamList lists every team's name.
func (s *Store) TeamList(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM teams ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// MembershipSet gives a user a role in a team (replacing any other);
// an empty role removes them.
func (s *Store) MembershipSet(ctx context.Context, team string, userID int64, role auth.Role) error {
	if role == "" {
		_, err := s.pool.Exec(ctx, `DELETE FROM memberships WHERE team = $1 AND user_id = $2`, team, userID)
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO memberships (team, user_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (team, user_id) DO UPDATE SET role = EXCLUDED.role`, team, userID, string(role))
	return fkNotFound(err)
}

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
