package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pitwall/pitwall/internal/auth"
)

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
	// ParentID is the token this one was made with (nil: made signed in,
	// or by the server); Bootstrap marks the server's bootstrap token.
	ParentID  *int64 `json:"parent_id"`
	Bootstrap bool   `json:"bootstrap"`
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
	// ParentID is the token the new one is made with (0: none).
	ParentID  int64
	Bootstrap bool
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
	var parent *int64
	if t.ParentID > 0 {
		parent = &t.ParentID
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO api_tokens (hash, name, kind, user_id, team, role, site_admin, agent, expires_at,
			parent_id, bootstrap)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (hash) DO UPDATE SET hash = EXCLUDED.hash RETURNING id`,
		t.Hash, t.Name, string(t.Kind), userID, team, role, t.SiteAdmin, agent, t.ExpiresAt, parent, t.Bootstrap).Scan(&id)
	return id, fkNotFound(err)
}

// chain is the recursive query of a token (the rows of api_tokens that
// where selects) and every token it descends from, up to the one made
// signed in. A parent is older than its children (a CHECK holds it), so
// the walk ends.
const chain = `WITH RECURSIVE chain AS (
		SELECT id, parent_id, user_id, revoked_at, expires_at FROM api_tokens WHERE %s
		UNION ALL
		SELECT p.id, p.parent_id, p.user_id, p.revoked_at, p.expires_at FROM api_tokens p JOIN chain c ON p.id = c.parent_id
	) `

// TokenUseEvery is how stale a token's recorded last use may get: a
// request writes it only when it is older. Every request of the API and
// of the agents resolves its token, and writing the row each time made
// each a write transaction (a new row version and its WAL).
const TokenUseEvery = time.Minute

// TokenPrincipal resolves a token hash to the principal it acts for, and
// records its use (to within TokenUseEvery). A token is ErrNotFound when
// it, or any token it was made with, is revoked or expired or belongs to
// a disabled user: so no token outlives the one it came from, whatever
// its own row says.
func (s *Store) TokenPrincipal(ctx context.Context, hash string) (*auth.Principal, error) {
	var (
		id                int64
		kind              string
		userID            *int64
		team, role, agent *string
		siteAdmin         bool
	)
	err := s.pool.QueryRow(ctx, fmt.Sprintf(chain, `hash = $1`)+`,
		ok AS (
			SELECT t.id, t.kind, t.user_id, t.team, t.role, t.site_admin, t.agent, t.last_used_at FROM api_tokens t
			WHERE t.hash = $1 AND NOT EXISTS (
				SELECT 1 FROM chain c LEFT JOIN users u ON u.id = c.user_id
				WHERE c.revoked_at IS NOT NULL OR c.expires_at <= now() OR u.disabled_at IS NOT NULL)
		), used AS (
			UPDATE api_tokens t SET last_used_at = now() FROM ok
			WHERE t.id = ok.id AND (ok.last_used_at IS NULL OR ok.last_used_at < now() - $2::interval)
		)
		SELECT id, kind, user_id, team, role, site_admin, agent FROM ok`, hash, TokenUseEvery).
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

// TokenExpiry is when a token stops working at the latest: the earliest
// expiry of it and every token it was made with (nil: never).
func (s *Store) TokenExpiry(ctx context.Context, id int64) (*time.Time, error) {
	var (
		at *time.Time
		n  int
	)
	err := s.pool.QueryRow(ctx, fmt.Sprintf(chain, `id = $1`)+`SELECT min(expires_at), count(*) FROM chain`, id).Scan(&at, &n)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return at, err
}

// TokenList lists tokens: a team's, or all when team is empty.
func (s *Store) TokenList(ctx context.Context, team string) ([]Token, error) {
	return s.tokens(ctx, `$1 = '' OR t.team = $1`, team)
}

// TokenListByUser lists one user's tokens, revoked and expired ones included.
func (s *Store) TokenListByUser(ctx context.Context, userID int64) ([]Token, error) {
	return s.tokens(ctx, `t.user_id = $1`, userID)
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
		       coalesce(t.agent, ''), t.created_at, t.expires_at, t.last_used_at, t.revoked_at, t.parent_id, t.bootstrap
		FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
		WHERE `+where+` ORDER BY t.id`, arg)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) {
		var t Token
		err := r.Scan(&t.ID, &t.Name, &t.Kind, &t.User, &t.Team, &t.Role, &t.SiteAdmin, &t.Agent, &t.CreatedAt,
			&t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt, &t.ParentID, &t.Bootstrap)
		return t, err
	})
}

// TokenRevoke revokes a token and every token made with it at once;
// ErrNotFound when there was nothing left to revoke.
func (s *Store) TokenRevoke(ctx context.Context, id int64) error {
	n, err := s.TokenRevokeTree(ctx, id)
	if err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}

// descendants is the recursive query of the tokens roots selects and
// every token made with them, at any remove.
const descendants = `WITH RECURSIVE tree AS (
		SELECT id FROM api_tokens WHERE %s
		UNION ALL
		SELECT c.id FROM api_tokens c JOIN tree t ON c.parent_id = t.id
	) `

// TokenRevokeTree revokes a token and every token made with it, and
// returns how many it revoked (those revoked before are not counted).
func (s *Store) TokenRevokeTree(ctx context.Context, id int64) (int64, error) {
	return revokeTree(ctx, s.pool, `id = $1`, id)
}

func revokeTree(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, roots string, args ...any) (int64, error) {
	tag, err := db.Exec(ctx, fmt.Sprintf(descendants, roots)+
		`UPDATE api_tokens SET revoked_at = now() WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL`, args...)
	return tag.RowsAffected(), err
}

// BootstrapRetire records that the installation's bootstrap token is
// retired (by actor) and revokes every bootstrap token and every token
// made with one, returning how many it revoked. From then on
// BootstrapRetired is true and the server makes no bootstrap token again.
func (s *Store) BootstrapRetire(ctx context.Context, actor string) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO bootstrap_retired (actor) VALUES ($1) ON CONFLICT DO NOTHING`, actor); err != nil {
			return err
		}
		var err error
		n, err = revokeTree(ctx, tx, `bootstrap`)
		return err
	})
	return n, err
}

// BootstrapRetired reports whether the bootstrap token was retired.
func (s *Store) BootstrapRetired(ctx context.Context) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bootstrap_retired)`).Scan(&ok)
	return ok, err
}
