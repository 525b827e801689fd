package accounts_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/accounts"
	"github.com/pitwall/pitwall/service/servicetest"
)

const password = "the first password"

// person is a user with a real password, signed in twice: ctx acts in
// the first session, other is the second session's hash.
type person struct {
	name  string
	id    int64
	ctx   context.Context
	other string
	s     *store.Store
}

func newPerson(t *testing.T, s *store.Store, siteAdmin bool) *person {
	t.Helper()
	ctx := context.Background()
	hash, err := auth.HashPassword(password)
	require.NoError(t, err)
	p := &person{name: servicetest.Name("user"), s: s}
	p.id, err = s.UserCreate(ctx, p.name, hash, siteAdmin)
	require.NoError(t, err)
	first := p.session(t)
	p.other = p.session(t)
	pr, _, err := s.SessionPrincipal(ctx, first)
	require.NoError(t, err)
	pr.Session = first
	p.ctx = service.WithPrincipal(ctx, pr)
	return p
}

// session signs the person in once more and returns the session's hash.
func (p *person) session(t *testing.T) string {
	t.Helper()
	_, hash := auth.NewToken("")
	require.NoError(t, p.s.SessionCreate(context.Background(), hash, p.id, "csrf", time.Now().Add(time.Hour)))
	return hash
}

// sessionWorks reports whether a session still signs its user in.
func sessionWorks(t *testing.T, s *store.Store, hash string) bool {
	t.Helper()
	_, _, err := s.SessionPrincipal(context.Background(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

// tokenWorks reports whether a token authenticates, and its principal.
func tokenWorks(t *testing.T, s *store.Store, plain string) (*auth.Principal, bool) {
	t.Helper()
	p, err := s.TokenPrincipal(context.Background(), auth.HashToken(plain))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false
	}
	require.NoError(t, err)
	return p, true
}

// actions lists the audit log's actions about target, oldest first.
func actions(t *testing.T, s *store.Store, target string) []string {
	t.Helper()
	list, err := s.AuditList(context.Background(), "", 1000)
	require.NoError(t, err)
	var out []string
	for _, e := range slices.Backward(list) {
		if e.Target == target {
			out = append(out, e.Action)
		}
	}
	return out
}

func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	s := servicetest.Store
	p := newPerson(t, s, false)

	servicetest.Kind(t, svc.ChangePassword(p.ctx, accounts.PasswordChange{Current: "not the password", New: "a second password"}),
		service.Invalid, "current_password")
	servicetest.Kind(t, svc.ChangePassword(p.ctx, accounts.PasswordChange{Current: password, New: "short"}),
		service.Invalid, "new_password")
	servicetest.Kind(t, svc.ChangePassword(p.ctx, accounts.PasswordChange{Current: password, New: "x" + p.name + "x"}),
		service.Invalid, "new_password")
	servicetest.Kind(t, svc.ChangePassword(p.ctx, accounts.PasswordChange{Current: password, New: password}),
		service.Invalid, "new_password")
	require.True(t, sessionWorks(t, s, p.other), "refused changes end nothing")

	require.NoError(t, svc.ChangePassword(p.ctx, accounts.PasswordChange{Current: password, New: "a second password"}))
	require.False(t, sessionWorks(t, s, p.other), "the other session ended")
	require.True(t, sessionWorks(t, s, service.Principal(p.ctx).Session), "the session that changed it goes on")
	c, err := s.UserCredentials(context.Background(), p.name)
	require.NoError(t, err)
	require.True(t, auth.CheckPassword(c.PasswordHash, "a second password"))
	require.Equal(t, []string{"password change refused", "password changed"}, actions(t, s, p.name))

	// A token with no user (the bootstrap token) has no password to change.
	boot := service.WithPrincipal(context.Background(), &auth.Principal{Kind: auth.KindUser, Name: "token", SiteAdmin: true, TokenID: 1})
	servicetest.Kind(t, svc.ChangePassword(boot, accounts.PasswordChange{Current: "x", New: "a third password"}), service.Forbidden, "")
}

func TestSiteAdminsManageUsers(t *testing.T) {
	t.Parallel()
	svc, team := setup(t)
	s := servicetest.Store
	ctx := context.Background()
	admin := newPerson(t, s, true)
	u := newPerson(t, s, false)
	require.NoError(t, s.MembershipSet(ctx, team, u.id, auth.Member))
	service.Principal(u.ctx).Teams[team] = auth.Member
	tok, err := svc.CreateToken(u.ctx, accounts.TokenRequest{Name: "ci", Team: team, Role: "member"})
	require.NoError(t, err)

	// Nobody but site admins.
	member := servicetest.As(t, map[string]auth.Role{team: auth.Admin})
	_, err = svc.Users(member)
	servicetest.Kind(t, err, service.Forbidden, "")
	yes, no := true, false
	_, err = svc.UpdateUser(member, u.name, accounts.UserUpdate{SiteAdmin: &yes})
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = svc.ResetPassword(member, u.name, accounts.PasswordReset{})
	servicetest.Kind(t, err, service.Forbidden, "")

	list, err := svc.Users(admin.ctx)
	require.NoError(t, err)
	i := slices.IndexFunc(list, func(x store.User) bool { return x.Name == u.name })
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, map[string]string{team: "member"}, list[i].Teams)

	_, err = svc.UpdateUser(admin.ctx, u.name, accounts.UserUpdate{})
	servicetest.Kind(t, err, service.Invalid, "")
	_, err = svc.UpdateUser(admin.ctx, "nobody-at-all", accounts.UserUpdate{Disabled: &yes})
	servicetest.Kind(t, err, service.NotFound, "name")

	// Disabled: sessions end at once, tokens stop, until enabled again.
	got, err := svc.UpdateUser(admin.ctx, u.name, accounts.UserUpdate{Disabled: &yes})
	require.NoError(t, err)
	require.True(t, got.Disabled)
	require.False(t, sessionWorks(t, s, service.Principal(u.ctx).Session))
	require.False(t, sessionWorks(t, s, u.other))
	_, ok := tokenWorks(t, s, tok.Token)
	require.False(t, ok, "a disabled user's token stops")
	// A session made while disabled (as a sign-in racing the change
	// could) does not act either.
	require.False(t, sessionWorks(t, s, u.session(t)))
	_, err = svc.UpdateUser(admin.ctx, u.name, accounts.UserUpdate{Disabled: &no})
	require.NoError(t, err)
	_, ok = tokenWorks(t, s, tok.Token)
	require.True(t, ok, "enabled again, the token works again")
	require.False(t, sessionWorks(t, s, u.other), "ended sessions stay ended")

	// Site admin, granted and revoked, acts at once.
	_, err = svc.UpdateUser(admin.ctx, u.name, accounts.UserUpdate{SiteAdmin: &yes})
	require.NoError(t, err)
	fresh := u.session(t)
	pr, _, err := s.SessionPrincipal(ctx, fresh)
	require.NoError(t, err)
	require.True(t, pr.SiteAdmin)
	_, err = svc.UpdateUser(admin.ctx, u.name, accounts.UserUpdate{SiteAdmin: &no})
	require.NoError(t, err)
	pr, _, err = s.SessionPrincipal(ctx, fresh)
	require.NoError(t, err)
	require.False(t, pr.SiteAdmin)

	// Reset: a made-up password shown once, or the admin's; sessions end.
	_, err = svc.ResetPassword(admin.ctx, u.name, accounts.PasswordReset{Password: "weak"})
	servicetest.Kind(t, err, service.Invalid, "password")
	set, err := svc.ResetPassword(admin.ctx, u.name, accounts.PasswordReset{})
	require.NoError(t, err)
	require.Len(t, set.Password, 24)
	require.EqualValues(t, 2, set.SessionsEnded, "fresh, and the one made while disabled")
	require.False(t, sessionWorks(t, s, fresh))
	c, err := s.UserCredentials(ctx, u.name)
	require.NoError(t, err)
	require.True(t, auth.CheckPassword(c.PasswordHash, set.Password))
	set, err = svc.ResetPassword(admin.ctx, u.name, accounts.PasswordReset{Password: "chosen by the admin"})
	require.NoError(t, err)
	require.Empty(t, set.Password, "a password the admin chose is not sent back")

	// An admin cannot lock themself out, nor reset their own password
	// without the current one.
	_, err = svc.UpdateUser(admin.ctx, admin.name, accounts.UserUpdate{Disabled: &yes})
	servicetest.Kind(t, err, service.Conflict, "disabled")
	_, err = svc.ResetPassword(admin.ctx, admin.name, accounts.PasswordReset{})
	servicetest.Kind(t, err, service.Forbidden, "")

	require.Equal(t, []string{"user disabled", "user enabled", "site admin granted", "site admin revoked",
		"password reset", "password reset"}, actions(t, s, u.name))
}

// The last enabled site admin can be neither demoted nor disabled, even
// by two admins demoting each other at the same moment.
func TestLastSiteAdminStays(t *testing.T) {
	t.Parallel()
	s := servicetest.FreshStore(t)
	svc := &accounts.Service{Store: s, Log: servicetest.Log}
	a, b := newPerson(t, s, true), newPerson(t, s, true)
	yes, no := true, false

	_, err := svc.UpdateUser(a.ctx, b.name, accounts.UserUpdate{SiteAdmin: &no})
	require.NoError(t, err)
	_, err = svc.UpdateUser(a.ctx, a.name, accounts.UserUpdate{SiteAdmin: &no})
	servicetest.Kind(t, err, service.Conflict, "site_admin")
	c := newPerson(t, s, false)
	_, err = svc.UpdateUser(a.ctx, c.name, accounts.UserUpdate{SiteAdmin: &yes})
	require.NoError(t, err)
	_, err = svc.UpdateUser(a.ctx, c.name, accounts.UserUpdate{Disabled: &yes})
	require.NoError(t, err, "a disabled site admin does not count")
	_, err = svc.UpdateUser(a.ctx, a.name, accounts.UserUpdate{SiteAdmin: &no})
	servicetest.Kind(t, err, service.Conflict, "site_admin")
	_, err = svc.UpdateUser(a.ctx, c.name, accounts.UserUpdate{Disabled: &no})
	require.NoError(t, err)
	service.Principal(c.ctx).SiteAdmin = true // as c's next request would find

	// a and c demote each other at once, again and again: one of them
	// always stays.
	for range 20 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { _, errs[0] = svc.UpdateUser(a.ctx, c.name, accounts.UserUpdate{SiteAdmin: &no}) })
		wg.Go(func() { _, errs[1] = svc.UpdateUser(c.ctx, a.name, accounts.UserUpdate{SiteAdmin: &no}) })
		wg.Wait()
		list, err := s.UserList(context.Background())
		require.NoError(t, err)
		admins := 0
		for _, u := range list {
			if u.SiteAdmin && !u.Disabled {
				admins++
			}
		}
		require.Equal(t, 1, admins, "errors %v", errs)
		require.True(t, errs[0] == nil != (errs[1] == nil), "exactly one succeeds: %v", errs)
		for _, p := range []*person{a, c} {
			_, err := s.UserUpdate(context.Background(), p.id, store.UserChange{SiteAdmin: &yes})
			require.NoError(t, err)
		}
	}
}
