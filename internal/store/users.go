package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/auth"
)

// User is a user as site admins see them (never their password hash).
type User struct {
	ID                int64             `json:"id"`
	Name              string            `json:"name"`
	SiteAdmin         bool              `json:"site_admin"`
	Disabled          bool              `json:"disabled"`
	CreatedAt         time.Time         `json:"created_at"`
	PasswordChangedAt *time.Time        `json:"password_changed_at"`
	Teams             map[string]string `json:"teams"`
}

// userSelect reads Users, each with their roles per team.
const userSelect = `SELECT u.id, u.name, u.site_admin, u.disabled_at IS NOT NULL, u.created_at, u.password_changed_at,
		coalesce((SELECT jsonb_object_agg(m.team, m.role) FROM memberships m WHERE m.user_id = u.id), '{}')
	FROM users u`

func (s *Store) users(ctx context.Context, where string, args ...any) ([]User, error) {
	rows, err := s.pool.Query(ctx, userSelect+" "+where+" ORDER BY u.name", args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[User])
}

// UserList lists every user by name.
func (s *Store) UserList(ctx context.Context) ([]User, error) { return s.users(ctx, "") }

// UserGet returns one user by name.
func (s *Store) UserGet(ctx context.Context, name string) (*User, error) {
	list, err := s.users(ctx, "WHERE u.name = $1", name)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotFound
	}
	return &list[0], nil
}

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

// Credentials are what signing in and changing a password check.
type Credentials struct {
	ID           int64
	Name         string
	PasswordHash string
	Disabled     bool
}

// UserCredentials returns a user's credentials by name.
func (s *Store) UserCredentials(ctx context.Context, name string) (*Credentials, error) {
	return s.credentials(ctx, `name = $1`, name)
}

// UserCredentialsByID returns a user's credentials by ID.
func (s *Store) UserCredentialsByID(ctx context.Context, id int64) (*Credentials, error) {
	return s.credentials(ctx, `id = $1`, id)
}

func (s *Store) credentials(ctx context.Context, where string, arg any) (*Credentials, error) {
	var c Credentials
	err := s.pool.QueryRow(ctx, `SELECT id, name, password_hash, disabled_at IS NOT NULL FROM users WHERE `+where, arg).
		Scan(&c.ID, &c.Name, &c.PasswordHash, &c.Disabled)
	if err != nil {
		return nil, notFound(err)
	}
	return &c, nil
}

// ErrChanged is returned when a row changed since it was read.
var ErrChanged = errors.New("changed meanwhile")

// UserSetPassword replaces a user's password hash and ends their
// sessions but keep (a session hash, or ""), returning how many it ended.
// With was set, the hash is replaced only if it still is was
// (ErrChanged otherwise), so two changes at once cannot both pass the
// check of the current password.
func (s *Store) UserSetPassword(ctx context.Context, id int64, hash, was, keep string) (int64, error) {
	var ended int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, password_changed_at = now()
			WHERE id = $1 AND ($3 = '' OR password_hash = $3)`, id, hash, was)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if was != "" {
				return ErrChanged
			}
			return ErrNotFound
		}
		tag, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND hash <> $2`, id, keep)
		ended = tag.RowsAffected()
		return err
	})
	return ended, err
}

// UserChange is what UserUpdate changes; a nil field stays as it is.
type UserChange struct {
	Disabled, SiteAdmin *bool
}

// ErrLastAdmin is returned for a change that would leave no enabled site admin.
var ErrLastAdmin = errors.New("no enabled site admin would be left")

// UserUpdate disables or enables a user and grants or revokes site
// admin, ending every session of a user it disables, and returns the user
// as they were before. It refuses (ErrLastAdmin) a change that would
// leave no enabled site admin: it holds the rows of the user and of every
// enabled site admin until it commits, so two admins demoting each other
// at once cannot both succeed.
func (s *Store) UserUpdate(ctx context.Context, id int64, c UserChange) (*User, error) {
	var before User
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT id FROM users WHERE id = $1 OR (site_admin AND disabled_at IS NULL)
			ORDER BY id FOR UPDATE`, id); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT id, name, site_admin, disabled_at IS NOT NULL FROM users WHERE id = $1`, id).
			Scan(&before.ID, &before.Name, &before.SiteAdmin, &before.Disabled)
		if err != nil {
			return notFound(err)
		}
		_, err = tx.Exec(ctx, `UPDATE users SET site_admin = coalesce($2::boolean, site_admin),
			disabled_at = CASE WHEN $3::boolean IS NULL THEN disabled_at WHEN $3 THEN coalesce(disabled_at, now()) END
			WHERE id = $1`, id, c.SiteAdmin, c.Disabled)
		if err != nil {
			return err
		}
		var admins int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE site_admin AND disabled_at IS NULL`).Scan(&admins); err != nil {
			return err
		}
		if admins == 0 && before.SiteAdmin && !before.Disabled {
			return ErrLastAdmin
		}
		if c.Disabled != nil && *c.Disabled {
			_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &before, nil
}

// UserPrincipal loads a user with their team roles; a disabled user is
// ErrNotFound, so neither their sessions nor their tokens act.
func (s *Store) UserPrincipal(ctx context.Context, userID int64) (*auth.Principal, error) {
	p := &auth.Principal{Kind: auth.KindUser, UserID: userID, Teams: map[string]auth.Role{}}
	err := s.pool.QueryRow(ctx, `SELECT name, site_admin FROM users WHERE id = $1 AND disabled_at IS NULL`, userID).
		Scan(&p.Name, &p.SiteAdmin)
	if err != nil {
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
