package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

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
