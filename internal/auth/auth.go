// Package auth holds who is asking and what they may do: principals
// (users, API tokens, agents), team roles, password hashing (argon2id) and
// token generation. It decides nothing by itself about HTTP.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Role is a user's standing in a team.
type Role string

// Roles, weakest first.
const (
	Viewer Role = "viewer"
	Member Role = "member"
	Admin  Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Member:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// AtLeast reports whether r grants what need requires.
func (r Role) AtLeast(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", fmt.Errorf("role %q must be viewer, member or admin", s)
	}
	return r, nil
}

// Kind says what kind of principal is asking.
type Kind string

// Kinds of principal.
const (
	KindUser  Kind = "user"
	KindAgent Kind = "agent"
)

// Principal is whoever a request acts for.
type Principal struct {
	Kind Kind
	// Name is the user's name, or the agent's host name.
	Name      string
	UserID    int64
	SiteAdmin bool
	// Teams maps each team to the principal's role in it.
	Teams map[string]Role
	// TokenID is set when the request came with an API token.
	TokenID int64
	// CSRF is the login session's CSRF token, which pages put in their
	// forms (empty for token principals).
	CSRF string
}

// Role returns the principal's role in a team ("" for none); a site admin
// is an admin everywhere.
func (p *Principal) Role(team string) Role {
	if p == nil {
		return ""
	}
	if p.SiteAdmin {
		return Admin
	}
	return p.Teams[team]
}

// Can reports whether the principal holds at least need in team.
func (p *Principal) Can(team string, need Role) bool {
	return p != nil && p.Kind == KindUser && p.Role(team).AtLeast(need)
}

// CanAny reports whether the principal holds at least need in some team
// (a site admin, everywhere): whether a request that needs need in the
// team its body names can succeed at all.
func (p *Principal) CanAny(need Role) bool {
	if p == nil || p.Kind != KindUser {
		return false
	}
	if p.SiteAdmin {
		return need.rank() > 0
	}
	for _, r := range p.Teams {
		if r.AtLeast(need) {
			return true
		}
	}
	return false
}

// CanModify reports whether the principal may edit, delete, rerun or abort
// something in team that owner created: its owner (a member) or a team admin.
func (p *Principal) CanModify(team, owner string) bool {
	if !p.Can(team, Member) {
		return false
	}
	return p.Role(team) == Admin || owner != "" && owner == p.Name
}

// ViewableTeams lists the teams whose things the principal may see; nil
// with all true for a site admin.
func (p *Principal) ViewableTeams() (teams []string, all bool) {
	if p == nil || p.Kind != KindUser {
		return nil, false
	}
	if p.SiteAdmin {
		return nil, true
	}
	for t, r := range p.Teams {
		if r.AtLeast(Viewer) {
			teams = append(teams, t)
		}
	}
	return teams, false
}

type ctxKey struct{}

// With stores a principal in a context.
func With(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal of a request's context, or nil.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// Token prefixes tell token kinds apart at a glance (and to secret scanners).
const (
	UserTokenPrefix  = "pwt_"
	AgentTokenPrefix = "pwa_"
)

// NewToken returns a fresh random token with the prefix, and its hash.
func NewToken(prefix string) (plain, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	plain = prefix + base64.RawURLEncoding.EncodeToString(b)
	return plain, HashToken(plain)
}

// HashToken is how a token is stored and looked up: SHA-256, hex. Tokens
// are long and random, so a fast hash is enough.
func HashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// argon2id parameters (RFC 9106's second recommendation, lighter memory).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id into a PHC string.
func HashPassword(password string) (string, error) {
	if len(password) < 12 {
		return "", errors.New("passwords must be at least 12 characters")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a PHC string from HashPassword.
func CheckPassword(phc, password string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// RandomPassword makes a password for an account created unattended.
func RandomPassword() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
