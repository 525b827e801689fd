package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/auth"
)

// UserCreate adds a user with an argon2id password hash.
func (s *Store) UserCreate(ctx context.Context, name, passwordHash string, siteAdmin bool) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO users (name, password_hash, site_admin) VALUES ($1, $2, $3) RETURNING id`,
		name, passwordHash, siteAdmin).Scan(&id)
	return id, uniqueExists(err)
}

// UserCount counts users, to tell a first start.
func (s *Store) UserCount(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// UserPassword returns a user's ID and password hash by name.
func (s *Store) UserPassword(ctx context.Context, name string) (int64, string, error) {
	var (
		id   int64
		hash string
	)
	err := s.pool.QueryRow(ctx, `SELECT id, password_hash FROM users WHERE name = $1`, name).Scan(&id, &hash)
	return id, hash, notFound(err)
}

// UserPrincipal loads a user with their team roles.
func (s *Store) UserPrincipal(ctx context.Context, userID int64) (*auth.Principal, error) {
	p := &auth.Principal{Kind: auth.KindUser, UserID: userID, Teams: map[string]auth.Role{}}
	if err := s.pool.QueryRow(ctx, `SELECT name, site_admin FROM users WHERE id = $1`, userID).Scan(&p.Name, &p.SiteAdmin); err != nil {
		return nil, notFound(err)
	}
	rows, err := s.pool.Query(ctx, `SELECT team, role FROM memberships WHERE user_id = $1`, userID)
	if err != nil {
		return nil, err
	}
	var team, role string
	_, err = pgx.ForEachRow(rows, []any{&team, &role}, func() error {
		p.Teams[team] = auth.Role(role)
		return nil
	})
	return p, err
}

// UserByName returns a user's ID.
func (s *Store) UserByName(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM users WHERE name = $1`, name).Scan(&id)
	return id, notFound(err)
}
