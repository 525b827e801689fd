package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pitwall/pitwall/internal/auth"
)

// ErrExists is returned when a unique name is taken.
var ErrExists = errors.New("already exists")

func uniqueExists(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return ErrExists
	}
	return err
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

// Token describes an API token (never its secret).
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Kind       string     `json:"kind"`
	User       string     `json:"user,omitempty"`
	Team       string     `json:"team,omitempty"`
	Role       string     `json:"role,omitempty"`
	SiteAdmin  bool       `json:"site_admin"`
	Agent      string     `json:"agent,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// NewToken is what TokenCreate stores.
type NewToken struct {
	Hash      string
	Name      string
	Kind      auth.Kind
	UserID    int64
	Team      string
	Role      auth.Role
	SiteAdmin bool
	Agent     string
	ExpiresAt *time.Time
}

// TokenCreate stores a token's hash and scope; a token whose hash is
// already stored (a bootstrap token on a later start) is left as it is.
func (s *Store) TokenCreate(ctx context.Context, t NewToken) (int64, error) {
	var userID *int64
	if t.UserID > 0 {
		userID = &t.UserID
	}
	var team, role, agent *string
	if t.Team != "" {
		team = &t.Team
	}
	if t.Role != "" {
		r := string(t.Role)
		role = &r
	}
	if t.Agent != "" {
		agent = &t.Agent
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO api_tokens (hash, name, kind, user_id, team, role, site_admin, agent, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (hash) DO UPDATE SET hash = EXCLUDED.hash RETURNING id`,
		t.Hash, t.Name, string(t.Kind), userID, team, role, t.SiteAdmin, agent, t.ExpiresAt).Scan(&id)
	return id, fkNotFound(err)
}

// TokenPrincipal resolves a token hash to the principal it acts for, and
// records its use. Revoked and expired tokens are ErrNotFound.
func (s *Store) TokenPrincipal(ctx context.Context, hash string) (*auth.Principal, error) {
	var (
		id                int64
		kind              string
		userID            *int64
		team, role, agent *string
		siteAdmin         bool
	)
	err := s.pool.QueryRow(ctx, `
		UPDATE api_tokens SET last_used_at = now()
		WHERE hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
		RETURNING id, kind, user_id, team, role, site_admin, agent`, hash).
		Scan(&id, &kind, &userID, &team, &role, &siteAdmin, &agent)
	if err != nil {
		return nil, notFound(err)
	}
	if kind == string(auth.KindAgent) {
		return &auth.Principal{Kind: auth.KindAgent, Name: deref(agent), TokenID: id}, nil
	}
	p := &auth.Principal{Kind: auth.KindUser, TokenID: id, Teams: map[string]auth.Role{}, Name: "token"}
	if userID != nil {
		u, err := s.UserPrincipal(ctx, *userID)
		if err != nil {
			return nil, err
		}
		p.UserID, p.Name = u.UserID, u.Name
		if !siteAdmin {
			// A token never grants more than its user holds now.
			if r := u.Role(deref(team)); r != "" {
				p.Teams[deref(team)] = minRole(r, auth.Role(deref(role)))
			}
		}
		siteAdmin = siteAdmin && u.SiteAdmin
	} else if team != nil {
		p.Teams[*team] = auth.Role(deref(role))
	}
	p.SiteAdmin = siteAdmin
	return p, nil
}

func minRole(a, b auth.Role) auth.Role {
	if a.AtLeast(b) {
		return b
	}
	return a
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TokenList lists tokens: a team's, or all when team is empty.
func (s *Store) TokenList(ctx context.Context, team string) ([]Token, error) {
	return s.tokens(ctx, `$1 = '' OR t.team = $1`, team)
}

// TokenGet returns one token's description.
func (s *Store) TokenGet(ctx context.Context, id int64) (*Token, error) {
	list, err := s.tokens(ctx, `t.id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotFound
	}
	return &list[0], nil
}

func (s *Store) tokens(ctx context.Context, where string, arg any) ([]Token, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t.id, t.name, t.kind, coalesce(u.name, ''), coalesce(t.team, ''), coalesce(t.role, ''), t.site_admin,
		       coalesce(t.agent, ''), t.created_at, t.expires_at, t.last_used_at, t.revoked_at
		FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
		WHERE `+where+` ORDER BY t.id`, arg)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) {
		var t Token
		err := r.Scan(&t.ID, &t.Name, &t.Kind, &t.User, &t.Team, &t.Role, &t.SiteAdmin, &t.Agent, &t.CreatedAt,
			&t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt)
		return t, err
	})
}

// TokenRevoke revokes a token at once.
func (s *Store) TokenRevoke(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

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

// UserByName returns a user's ID.
func (s *Store) UserByName(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM users WHERE name = $1`, name).Scan(&id)
	return id, notFound(err)
}
