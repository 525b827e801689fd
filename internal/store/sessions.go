package store

import (
	"context"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
)

// SessionCreate stores a login session's hash and CSRF token.
func (s *Store) SessionCreate(ctx context.Context, hash string, userID int64, csrf string, expires time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (hash, user_id, csrf, expires_at) VALUES ($1, $2, $3, $4)`,
		hash, userID, csrf, expires)
	return err
}

// SessionPrincipal resolves a session to its user and CSRF token.
func (s *Store) SessionPrincipal(ctx context.Context, hash string) (*auth.Principal, string, error) {
	var (
		userID int64
		csrf   string
	)
	err := s.pool.QueryRow(ctx, `SELECT user_id, csrf FROM sessions WHERE hash = $1 AND expires_at > now()`, hash).
		Scan(&userID, &csrf)
	if err != nil {
		return nil, "", notFound(err)
	}
	p, err := s.UserPrincipal(ctx, userID)
	return p, csrf, err
}

// SessionDelete ends a session.
func (s *Store) SessionDelete(ctx context.Context, hash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}
