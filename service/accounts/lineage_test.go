package accounts_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/accounts"
	"github.com/pitwall/pitwall/service/servicetest"
)

// asToken is the context a request made with the token acts in.
func asToken(t *testing.T, plain string) context.Context {
	t.Helper()
	p, ok := tokenWorks(t, servicetest.Store, plain)
	require.True(t, ok, "the token works")
	return service.WithPrincipal(context.Background(), p)
}

// A token made with a token is its child: no wider scope, no later
// expiry (and one whenever the parent has one), and it stops working with
// its parent, however deep.
func TestTokenLineage(t *testing.T) {
	t.Parallel()
	svc, team := setup(t)
	s := servicetest.Store
	ctx := context.Background()
	u := newPerson(t, s, false)
	require.NoError(t, s.MembershipSet(ctx, team, u.id, auth.Member))
	service.Principal(u.ctx).Teams[team] = auth.Member

	a, err := svc.CreateToken(u.ctx, accounts.TokenRequest{Name: "a", Team: team, Role: "member", ExpiresIn: "1h"})
	require.NoError(t, err)
	asA := asToken(t, a.Token)
	_, err = svc.CreateToken(asA, accounts.TokenRequest{Name: "forever", Team: team, Role: "member"})
	servicetest.Kind(t, err, service.Invalid, "expires_in")
	_, err = svc.CreateToken(asA, accounts.TokenRequest{Name: "later", Team: team, Role: "member", ExpiresIn: "2h"})
	servicetest.Kind(t, err, service.Invalid, "expires_in")
	_, err = svc.CreateToken(asA, accounts.TokenRequest{Name: "up", Team: team, Role: "admin", ExpiresIn: "10m"})
	servicetest.Kind(t, err, service.Forbidden, "")
	other := servicetest.Team(t)
	_, err = svc.CreateToken(asA, accounts.TokenRequest{Name: "across", Team: other, Role: "viewer", ExpiresIn: "10m"})
	servicetest.Kind(t, err, service.Forbidden, "")

	b, err := svc.CreateToken(asA, accounts.TokenRequest{Name: "b", Team: team, Role: "member", ExpiresIn: "30m"})
	require.NoError(t, err)
	c, err := svc.CreateToken(asToken(t, b.Token), accounts.TokenRequest{Name: "c", Team: team, Role: "viewer", ExpiresIn: "10m"})
	require.NoError(t, err)
	listed, err := s.TokenGet(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, &b.ID, listed.ParentID)

	require.NoError(t, svc.RevokeToken(u.ctx, a.ID))
	for _, tok := range []*accounts.TokenCreated{a, b, c} {
		_, ok := tokenWorks(t, s, tok.Token)
		require.False(t, ok, "%s after its ancestor a is revoked", tok.Name)
		got, err := s.TokenGet(ctx, tok.ID)
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt, "%s is listed as revoked", tok.Name)
	}
	entries, err := s.AuditList(ctx, team, 50)
	require.NoError(t, err)
	require.Equal(t, "token revoked", entries[0].Action)
	require.Contains(t, entries[0].Detail, "revoked=3")
}

// Authentication checks a token's whole ancestry, whatever the rows say:
// a child written as never expiring, or left unrevoked (as a child made
// while its parent was being revoked could be), does not outlive it.
func TestTokenAncestryIsCheckedAtAuthentication(t *testing.T) {
	t.Parallel()
	_, team := setup(t)
	s := servicetest.Store
	ctx := context.Background()
	u := newPerson(t, s, false)
	require.NoError(t, s.MembershipSet(ctx, team, u.id, auth.Member))
	token := func(parent int64, expires *time.Time) (string, int64) {
		plain, hash := auth.NewToken(auth.UserTokenPrefix)
		id, err := s.TokenCreate(ctx, store.NewToken{Hash: hash, Name: "t", Kind: auth.KindUser, UserID: u.id,
			Team: team, Role: auth.Member, ExpiresAt: expires, ParentID: parent})
		require.NoError(t, err)
		return plain, id
	}
	past := time.Now().Add(-time.Second)
	_, expired := token(0, &past)
	orphan, _ := token(expired, nil)
	_, ok := tokenWorks(t, s, orphan)
	require.False(t, ok, "the parent expired")

	_, revoked := token(0, nil)
	_, err := s.Pool().Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, revoked)
	require.NoError(t, err)
	child, _ := token(revoked, nil)
	grandchild, _ := token(func() int64 { _, id := token(revoked, nil); return id }(), nil)
	for _, tok := range []string{child, grandchild} {
		_, ok := tokenWorks(t, s, tok)
		require.False(t, ok, "an ancestor is revoked")
	}
}

// An agent token made with a token expires with it and stops when it is
// revoked.
func TestAgentTokenMadeWithATokenIsItsChild(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	s := servicetest.Store
	ctx := context.Background()
	plain, hash := auth.NewToken(auth.UserTokenPrefix)
	soon := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	id, err := s.TokenCreate(ctx, store.NewToken{Hash: hash, Name: "site", Kind: auth.KindUser, SiteAdmin: true, ExpiresAt: &soon})
	require.NoError(t, err)
	site := asToken(t, plain)
	agent, err := svc.CreateAgentToken(site, "lineage-host")
	require.NoError(t, err)
	require.NotNil(t, agent.ExpiresAt)
	require.True(t, agent.ExpiresAt.Equal(soon), "expires with its parent: %v", agent.ExpiresAt)
	p, ok := tokenWorks(t, s, agent.Token)
	require.True(t, ok)
	require.Equal(t, auth.KindAgent, p.Kind)
	require.NoError(t, svc.RevokeToken(site, id))
	_, ok = tokenWorks(t, s, agent.Token)
	require.False(t, ok)
}

// Revoking the bootstrap token retires it: every bootstrap token and
// every token made with one stops, and the installation remembers it.
func TestRevokingTheBootstrapTokenRetiresIt(t *testing.T) {
	t.Parallel()
	s := servicetest.FreshStore(t)
	svc := &accounts.Service{Store: s, Log: servicetest.Log}
	ctx := context.Background()
	boot := func() (string, int64) {
		plain, hash := auth.NewToken(auth.UserTokenPrefix)
		id, err := s.TokenCreate(ctx, store.NewToken{Hash: hash, Name: "bootstrap", Kind: auth.KindUser, SiteAdmin: true, Bootstrap: true})
		require.NoError(t, err)
		return plain, id
	}
	first, firstID := boot()
	second, _ := boot() // a value PITWALL_BOOTSTRAP_TOKEN held before
	p, err := s.TokenPrincipal(ctx, auth.HashToken(first))
	require.NoError(t, err)
	asBoot := service.WithPrincipal(ctx, p)
	agent, err := svc.CreateAgentToken(asBoot, "boot-host")
	require.NoError(t, err)
	retired, err := s.BootstrapRetired(ctx)
	require.NoError(t, err)
	require.False(t, retired)

	servicetest.Kind(t, svc.RetireBootstrap(servicetest.As(t, map[string]auth.Role{"default": auth.Admin})), service.Forbidden, "")
	require.NoError(t, svc.RevokeToken(asBoot, firstID))
	for _, tok := range []string{first, second, agent.Token} {
		_, err := s.TokenPrincipal(ctx, auth.HashToken(tok))
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	retired, err = s.BootstrapRetired(ctx)
	require.NoError(t, err)
	require.True(t, retired)
	entries, err := s.AuditList(ctx, "", 10)
	require.NoError(t, err)
	require.Equal(t, "bootstrap token retired", entries[0].Action)
	require.Equal(t, "revoked=3", entries[0].Detail)
}
