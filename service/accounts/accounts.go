// Package accounts is the service for who may do what: users, teams and
// their members, API and agent tokens, and the audit log. It holds who
// may manage each of them.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service"
)

// Service runs the operations on accounts.
type Service struct {
	Store *store.Store
	Log   *slog.Logger
}

var accountName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$`)

// NewUser is a user to create.
type NewUser struct {
	Name      string `json:"name"`
	Password  string `json:"password"`
	SiteAdmin bool   `json:"site_admin"`
}

// UserCreated is a user just created.
type UserCreated struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	SiteAdmin bool   `json:"site_admin"`
}

// CreateUser creates a user, for site admins.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (*UserCreated, error) {
	if !service.Principal(ctx).SiteAdmin {
		return nil, service.NotAllowed("only site admins create users")
	}
	if !accountName.MatchString(in.Name) {
		return nil, service.InvalidField("name", "name must be 1-64 characters of a-z, 0-9, '.', '_' and '-'")
	}
	if err := auth.CheckPasswordStrength(in.Name, in.Password); err != nil {
		return nil, service.InvalidField("password", err.Error())
	}
	hash, err := hashPassword(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	id, err := s.Store.UserCreate(ctx, in.Name, hash, in.SiteAdmin)
	if errors.Is(err, store.ErrExists) {
		return nil, service.Errorf(service.Conflict, "name", "user %q exists", in.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("create user %s: %w", in.Name, err)
	}
	service.Audit(ctx, s.Store, s.Log, "user created", "", in.Name, fmt.Sprintf("site_admin=%v", in.SiteAdmin))
	return &UserCreated{ID: id, Name: in.Name, SiteAdmin: in.SiteAdmin}, nil
}

// CreateTeam creates a team, for site admins.
func (s *Service) CreateTeam(ctx context.Context, name string) error {
	if !service.Principal(ctx).SiteAdmin {
		return service.NotAllowed("only site admins create teams")
	}
	if !accountName.MatchString(name) {
		return service.InvalidField("name", "team names are 1-64 characters of a-z, 0-9, '.', '_' and '-'")
	}
	if err := s.Store.TeamCreate(ctx, name); errors.Is(err, store.ErrExists) {
		return service.Errorf(service.Conflict, "name", "team %q exists", name)
	} else if err != nil {
		return fmt.Errorf("create team %s: %w", name, err)
	}
	service.Audit(ctx, s.Store, s.Log, "team created", name, name, "")
	return nil
}

// Teams lists every team, for site admins.
func (s *Service) Teams(ctx context.Context) ([]string, error) {
	if !service.Principal(ctx).SiteAdmin {
		return nil, service.NotAllowed("only site admins list every team")
	}
	list, err := s.Store.TeamList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	return list, nil
}

// MayManage reports whether the principal of ctx may manage team's
// members and read its audit log: its admins (and site admins).
func MayManage(ctx context.Context, team string) bool {
	return service.Principal(ctx).Can(team, auth.Admin)
}

// mayManage refuses anyone but team's admins (and site admins).
func mayManage(ctx context.Context, team string) error {
	if !MayManage(ctx, team) {
		return service.NotAllowed("only the team's admins manage its members")
	}
	return nil
}

// Membership gives User a Role in Team, or removes them from it.
type Membership struct {
	Team, User, Role string
	Remove           bool
}

// SetMember changes a membership, for the team's admins, and audits it.
func (s *Service) SetMember(ctx context.Context, m Membership) error {
	if err := mayManage(ctx, m.Team); err != nil {
		return err
	}
	var role auth.Role
	if !m.Remove {
		var err error
		if role, err = auth.ParseRole(m.Role); err != nil {
			return service.InvalidField("role", err.Error())
		}
	}
	uid, err := s.Store.UserByName(ctx, m.User)
	if errors.Is(err, store.ErrNotFound) {
		return service.Errorf(service.NotFound, "user", "user %q not found", m.User)
	}
	if err != nil {
		return fmt.Errorf("find user %s: %w", m.User, err)
	}
	if err := s.Store.MembershipSet(ctx, m.Team, uid, role); errors.Is(err, store.ErrNotFound) {
		return service.Errorf(service.NotFound, "team", "team %q not found", m.Team)
	} else if err != nil {
		return fmt.Errorf("set membership of %s in %s: %w", m.User, m.Team, err)
	}
	service.Audit(ctx, s.Store, s.Log, "role changed", m.Team, m.User, "role="+string(role))
	return nil
}

// Members lists a team's members and roles, for its admins.
func (s *Service) Members(ctx context.Context, team string) ([]store.Member, error) {
	if err := mayManage(ctx, team); err != nil {
		return nil, err
	}
	if ok, err := s.Store.TeamExists(ctx, team); err != nil {
		return nil, fmt.Errorf("find team %s: %w", team, err)
	} else if !ok {
		return nil, service.Errorf(service.NotFound, "team", "team %q not found", team)
	}
	list, err := s.Store.TeamMembers(ctx, team)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", team, err)
	}
	return list, nil
}

// AuditInput pages through the audit log: Team's (empty: everything),
// Limit entries older than entry Before (0: the newest).
type AuditInput struct {
	Team   string
	Before int64
	Limit  int
}

// Audit reads the audit log newest first: a team's for its admins,
// everything for site admins.
func (s *Service) Audit(ctx context.Context, in AuditInput) ([]store.AuditEntry, error) {
	p := service.Principal(ctx)
	if in.Team == "" && !p.SiteAdmin || in.Team != "" && !MayManage(ctx, in.Team) {
		return nil, service.NotAllowed("team admins read their team's audit log (?team=); site admins all")
	}
	list, err := s.Store.AuditPage(ctx, in.Team, in.Before, in.Limit)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return list, nil
}

// TokenRequest asks for an API token.
type TokenRequest struct {
	Name      string `json:"name"`
	Team      string `json:"team"`
	Role      string `json:"role"`
	ExpiresIn string `json:"expires_in"`
}

// TokenCreated is a new token with its secret, shown this once.
type TokenCreated struct {
	ID        int64      `json:"id"`
	Token     string     `json:"token"`
	Name      string     `json:"name"`
	Team      string     `json:"team"`
	Role      auth.Role  `json:"role"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// CreateToken makes an API token for the principal's user account, scoped
// to a team and a role no higher than theirs there, and audits it. Made
// with a token, the new one is that token's child: its scope is within
// the parent's (the principal's rights are the parent's), it expires no
// later than the parent (so it must expire when the parent does), and
// it stops working when the parent is revoked or expires.
func (s *Service) CreateToken(ctx context.Context, req TokenRequest) (*TokenCreated, error) {
	p := service.Principal(ctx)
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		return nil, service.InvalidField("role", err.Error())
	}
	if req.Name == "" || len(req.Name) > 100 {
		return nil, service.InvalidField("name", "name must be 1-100 bytes")
	}
	if p.UserID == 0 || !p.Can(req.Team, role) {
		return nil, service.NotAllowed(fmt.Sprintf("a %s token for team %q needs that role there (and a user account)", role, req.Team))
	}
	var expires *time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return nil, service.InvalidField("expires_in", "expires_in must be a duration such as 720h")
		}
		t := time.Now().Add(d)
		expires = &t
	}
	limit, err := s.parentExpiry(ctx)
	if err != nil {
		return nil, err
	}
	if limit != nil && (expires == nil || expires.After(*limit)) {
		return nil, service.InvalidField("expires_in", fmt.Sprintf(
			"a token made with a token must expire no later than it: at %s, so expires_in at most %s",
			limit.UTC().Format(time.RFC3339), time.Until(*limit).Truncate(time.Second)))
	}
	plain, hash := auth.NewToken(auth.UserTokenPrefix)
	id, err := s.Store.TokenCreate(ctx, store.NewToken{Hash: hash, Name: req.Name, Kind: auth.KindUser,
		UserID: p.UserID, Team: req.Team, Role: role, ExpiresAt: expires, ParentID: p.TokenID})
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "team", "team %q not found", req.Team)
	}
	if err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	service.Audit(ctx, s.Store, s.Log, "token created", req.Team, req.Name, "role="+string(role)+madeWith(p))
	return &TokenCreated{ID: id, Token: plain, Name: req.Name, Team: req.Team, Role: role, ExpiresAt: expires}, nil
}

// parentExpiry is when the token the principal acts with stops working
// at the latest (nil: never, or no token).
func (s *Service) parentExpiry(ctx context.Context) (*time.Time, error) {
	p := service.Principal(ctx)
	if p.TokenID == 0 {
		return nil, nil
	}
	t, err := s.Store.TokenExpiry(ctx, p.TokenID)
	if err != nil {
		return nil, fmt.Errorf("expiry of token %d: %w", p.TokenID, err)
	}
	return t, nil
}

// madeWith is an audit detail naming the token a new one was made with.
func madeWith(p *auth.Principal) string {
	if p.TokenID == 0 {
		return ""
	}
	return fmt.Sprintf(" parent=%d", p.TokenID)
}

// AgentTokenCreated is a new agent token with its secret, shown this once.
type AgentTokenCreated struct {
	ID        int64      `json:"id"`
	Token     string     `json:"token"`
	Agent     string     `json:"agent"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// CreateAgentToken makes the token an agent uses, bound to its host name,
// for site admins. Made with a token, it is that token's child: it
// expires when the parent does and stops working when the parent is
// revoked (an agent meant to outlive the token is given one made signed
// in).
func (s *Service) CreateAgentToken(ctx context.Context, agent string) (*AgentTokenCreated, error) {
	p := service.Principal(ctx)
	if !p.SiteAdmin {
		return nil, service.NotAllowed("only site admins create agent tokens")
	}
	if agent == "" || len(agent) > 128 {
		return nil, service.InvalidField("agent", "agent must be the agent's host name")
	}
	expires, err := s.parentExpiry(ctx)
	if err != nil {
		return nil, err
	}
	plain, hash := auth.NewToken(auth.AgentTokenPrefix)
	id, err := s.Store.TokenCreate(ctx, store.NewToken{Hash: hash, Name: "agent " + agent,
		Kind: auth.KindAgent, Agent: agent, ExpiresAt: expires, ParentID: p.TokenID})
	if err != nil {
		return nil, fmt.Errorf("create agent token: %w", err)
	}
	service.Audit(ctx, s.Store, s.Log, "token created", "", "agent "+agent, "kind=agent"+madeWith(p))
	return &AgentTokenCreated{ID: id, Token: plain, Agent: agent, ExpiresAt: expires}, nil
}

// OwnTokens lists the tokens of the principal's user account (none
// without one).
func (s *Service) OwnTokens(ctx context.Context) ([]store.Token, error) {
	p := service.Principal(ctx)
	if p.UserID == 0 {
		return nil, nil
	}
	list, err := s.Store.TokenListByUser(ctx, p.UserID)
	if err != nil {
		return nil, fmt.Errorf("list own tokens: %w", err)
	}
	return list, nil
}

// Tokens lists a team's tokens for its admins, or every token (team
// empty) for site admins.
func (s *Service) Tokens(ctx context.Context, team string) ([]store.Token, error) {
	p := service.Principal(ctx)
	if team == "" && !p.SiteAdmin || team != "" && !MayManage(ctx, team) {
		return nil, service.NotAllowed("team admins list their team's tokens (?team=); site admins all")
	}
	list, err := s.Store.TokenList(ctx, team)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return list, nil
}

// RevokeToken revokes a token, and every token made with it, for its
// owner, its team's admins or a site admin (anyone else is told it does
// not exist), and audits it. Revoking a bootstrap token retires the
// bootstrap token for good (RetireBootstrap).
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	if id <= 0 {
		return service.InvalidField("id", "token ID must be a positive number")
	}
	p := service.Principal(ctx)
	t, err := s.Store.TokenGet(ctx, id)
	if err == nil {
		own := t.User != "" && t.User == p.Name && p.UserID != 0
		if !own && !p.SiteAdmin && !(t.Team != "" && MayManage(ctx, t.Team)) {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return service.Errorf(service.NotFound, "id", "no such token")
	}
	if err != nil {
		return fmt.Errorf("load token %d: %w", id, err)
	}
	if t.Bootstrap {
		return s.RetireBootstrap(ctx)
	}
	n, err := s.Store.TokenRevokeTree(ctx, id)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	service.Audit(ctx, s.Store, s.Log, "token revoked", t.Team, t.Name, fmt.Sprintf("id=%d revoked=%d", id, n))
	return nil
}

// RetireBootstrap retires the installation's bootstrap token, for site
// admins: every bootstrap token stops working, with every token made with
// one (agent tokens included), and the server never makes one again,
// whatever PITWALL_BOOTSTRAP_TOKEN holds at its next start.
func (s *Service) RetireBootstrap(ctx context.Context) error {
	p := service.Principal(ctx)
	if !p.SiteAdmin {
		return service.NotAllowed("only site admins retire the bootstrap token")
	}
	n, err := s.Store.BootstrapRetire(ctx, p.Name)
	if err != nil {
		return fmt.Errorf("retire the bootstrap token: %w", err)
	}
	service.Audit(ctx, s.Store, s.Log, "bootstrap token retired", "", "bootstrap", fmt.Sprintf("revoked=%d", n))
	return nil
}
