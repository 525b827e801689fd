package accounts_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/accounts"
	"github.com/pitwall/pitwall/service/servicetest"
)

func TestMain(m *testing.M) { os.Exit(servicetest.Main(m)) }

func setup(t *testing.T) (*accounts.Service, string) {
	t.Helper()
	return &accounts.Service{Store: servicetest.Store, Log: servicetest.Log}, servicetest.Team(t)
}

func TestMembersAreForTheTeamsAdmins(t *testing.T) {
	t.Parallel()
	svc, team := setup(t)
	member := servicetest.As(t, map[string]auth.Role{team: auth.Member})
	admin := servicetest.As(t, map[string]auth.Role{team: auth.Admin})
	user := service.Principal(member).Name

	_, err := svc.Members(member, team)
	servicetest.Kind(t, err, service.Forbidden, "")
	servicetest.Kind(t, svc.SetMember(member, accounts.Membership{Team: team, User: user, Role: "admin"}), service.Forbidden, "")
	servicetest.Kind(t, svc.SetMember(admin, accounts.Membership{Team: team, User: user, Role: "boss"}), service.Invalid, "role")
	servicetest.Kind(t, svc.SetMember(admin, accounts.Membership{Team: team, User: "nobody-at-all"}), service.Invalid, "role")
	servicetest.Kind(t, svc.SetMember(admin, accounts.Membership{Team: team, User: "nobody-at-all", Role: "viewer"}), service.NotFound, "user")

	require.NoError(t, svc.SetMember(admin, accounts.Membership{Team: team, User: user, Role: "member"}))
	list, err := svc.Members(admin, team)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NoError(t, svc.SetMember(admin, accounts.Membership{Team: team, User: user, Remove: true}))
	list, err = svc.Members(admin, team)
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestTokens(t *testing.T) {
	t.Parallel()
	svc, team := setup(t)
	member := servicetest.As(t, map[string]auth.Role{team: auth.Member})

	_, err := svc.CreateToken(member, accounts.TokenRequest{Name: "ci", Team: team, Role: "admin"})
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = svc.CreateToken(member, accounts.TokenRequest{Name: "ci", Team: team, Role: "member", ExpiresIn: "soon"})
	servicetest.Kind(t, err, service.Invalid, "expires_in")
	tok, err := svc.CreateToken(member, accounts.TokenRequest{Name: "ci", Team: team, Role: "member"})
	require.NoError(t, err)
	require.NotEmpty(t, tok.Token)

	other := servicetest.As(t, map[string]auth.Role{team: auth.Member})
	servicetest.Kind(t, svc.RevokeToken(other, tok.ID), service.NotFound, "id")
	_, err = svc.Tokens(other, team)
	servicetest.Kind(t, err, service.Forbidden, "")
	require.NoError(t, svc.RevokeToken(servicetest.As(t, map[string]auth.Role{team: auth.Admin}), tok.ID),
		"the team's admins revoke its tokens")
}

func TestOnlySiteAdminsCreateUsersTeamsAndAgentTokens(t *testing.T) {
	t.Parallel()
	svc, team := setup(t)
	admin := servicetest.As(t, map[string]auth.Role{team: auth.Admin})
	_, err := svc.CreateUser(admin, accounts.NewUser{Name: servicetest.Name("u"), Password: "long enough password"})
	servicetest.Kind(t, err, service.Forbidden, "")
	servicetest.Kind(t, svc.CreateTeam(admin, servicetest.Name("t")), service.Forbidden, "")
	_, err = svc.CreateAgentToken(admin, "host")
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = svc.Audit(admin, accounts.AuditInput{Limit: 10})
	servicetest.Kind(t, err, service.Forbidden, "")

	site := servicetest.As(t, nil)
	service.Principal(site).SiteAdmin = true
	_, err = svc.CreateUser(site, accounts.NewUser{Name: "Not Valid", Password: "long enough password"})
	servicetest.Kind(t, err, service.Invalid, "name")
	servicetest.Kind(t, svc.CreateTeam(site, team), service.Conflict, "name")
	name := servicetest.Name("t")
	require.NoError(t, svc.CreateTeam(site, name))
	entries, err := svc.Audit(site, accounts.AuditInput{Team: name, Limit: 10})
	require.NoError(t, err)
	require.Len(t, entries, 1, "creating the team is audited")
}
