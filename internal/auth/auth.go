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
	"unicode/utf8"

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
	// Session is the login session's hash when the request came with one,
	// so a password change can end every session but this one.
	Session string
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

// Password lengths, in characters (MaxPassword in bytes).
const (
	MinPassword = 12
	MaxPassword = 1024
)

func checkLength(password string) error {
	if n := utf8.RuneCountInString(password); n < MinPassword {
		return fmt.Errorf("passwords must be at least %d characters (this one has %d)", MinPassword, n)
	}
	if len(password) > MaxPassword {
		return fmt.Errorf("passwords must be at most %d bytes", MaxPassword)
	}
	return nil
}

// common are passwords long enough to pass the length rule that
// guessing lists try first.
var common = map[string]bool{
	"123456789012": true, "1234567890123": true, "12345678901234": true, "123456123456": true,
	"password1234": true, "password12345": true, "password123456": true, "passwordpassword": true,
	"qwertyuiop12": true, "qwertyuiopasdf": true, "qwerty123456": true, "1q2w3e4r5t6y": true,
	"iloveyou1234": true, "letmein12345": true, "changeme1234": true, "administrator": true,
	"welcome12345": true, "abcdefghijkl": true, "abc123abc123": true, "trustno1trustno1": true,
}

// CheckPasswordStrength is the rule every password a person chooses must
// meet: at least MinPassword characters (at most MaxPassword bytes), five
// or more different characters, not the user's name nor holding it, and
// not one of the passwords guessing lists try first. Its error says which
// part failed.
func CheckPasswordStrength(user, password string) error {
	if err := checkLength(password); err != nil {
		return err
	}
	distinct := map[rune]bool{}
	for _, r := range password {
		distinct[r] = true
	}
	if len(distinct) < 5 {
		return errors.New("passwords must use at least 5 different characters")
	}
	lower := strings.ToLower(password)
	if user != "" && len(user) >= 3 && strings.Contains(lower, strings.ToLower(user)) {
		return errors.New("passwords must not contain the user name")
	}
	if common[lower] || common[strings.Join(strings.Fields(lower), "")] {
		return errors.New("that password is one of the first that guessers try; choose another")
	}
	return nil
}

// HashPassword hashes a password with argon2id into a PHC string; it
// refuses one shorter than MinPassword (CheckPasswordStrength says
// more about the passwords people choose).
func HashPassword(password string) (string, error) {
	if err := checkLength(password); err != nil {
		return "", err
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
