package frameworks_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/service/servicetest"
)

func TestMain(m *testing.M) { os.Exit(servicetest.Main(m)) }

// bundle is what a test needs: the service, a team of its own and a
// framework file for it.
type bundle struct {
	svc  *frameworks.Service
	team string
	name string
}

func setup(t *testing.T) bundle {
	t.Helper()
	return bundle{svc: &frameworks.Service{Store: servicetest.Store, Log: servicetest.Log},
		team: servicetest.Team(t), name: servicetest.Name("fw")}
}

// file is a valid framework file of the bundle's framework, with an extra line.
func (b bundle) file(extra string) []byte {
	return fmt.Appendf(nil, "name: %s\nteam: %s\nexecution:\n  script: |\n    #!/bin/sh\n    echo ok\n%s", b.name, b.team, extra)
}

func (b bundle) as(t *testing.T, role auth.Role) context.Context {
	return servicetest.As(t, map[string]auth.Role{b.team: role})
}

func TestApplyCreatesThenVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner := b.as(t, auth.Member)
	res, err := b.svc.Apply(owner, b.file(""))
	require.NoError(t, err)
	require.True(t, res.Changed)
	require.Equal(t, 1, res.Framework.Version)
	require.Equal(t, service.Principal(owner).Name, res.Framework.Owner)

	same, err := b.svc.Apply(owner, b.file(""))
	require.NoError(t, err)
	require.False(t, same.Changed, "the same file is no new version")

	next, err := b.svc.Apply(owner, b.file("repeat: 2\n"))
	require.NoError(t, err)
	require.Equal(t, 2, next.Framework.Version)
}

func TestApplyRefusesBadFilesNamingTheField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	member := b.as(t, auth.Member)
	_, err := b.svc.Apply(member, b.file("  timeout: 1ms\n"))
	servicetest.Kind(t, err, service.Invalid, "execution.timeout")

	b.name = "Not A Name"
	_, err = b.svc.Apply(member, b.file(""))
	servicetest.Kind(t, err, service.Invalid, "name")
}

// A framework may not hold its hosts longer than the site allows: 8760h
// was accepted before the site-wide maximum.
func TestApplyRefusesATimeoutOverTheSitesMaximum(t *testing.T) {
	t.Parallel()
	b := setup(t)
	member := b.as(t, auth.Member)
	_, err := b.svc.Apply(member, b.file("  timeout: 8760h\n"))
	servicetest.Kind(t, err, service.Invalid, "execution.timeout")
	require.Contains(t, err.Error(), "execution.timeout 8760h0m0s is over this site's maximum of 24h0m0s")

	_, err = b.svc.Apply(member, b.file("  timeout: 24h\n"))
	require.NoError(t, err)
	b.svc.MaxTimeout = time.Hour
	_, err = b.svc.Clone(member, frameworks.Ref{Team: b.team, Name: b.name}, b.name+"-copy")
	servicetest.Kind(t, err, service.Invalid, "execution.timeout")
}

func TestApplyNeedsMemberAndOwnerOrAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.Apply(b.as(t, auth.Viewer), b.file(""))
	servicetest.Kind(t, err, service.Forbidden, "")

	_, err = b.svc.Apply(b.as(t, auth.Member), b.file(""))
	require.NoError(t, err)
	_, err = b.svc.Apply(b.as(t, auth.Member), b.file("repeat: 3\n"))
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = b.svc.Apply(b.as(t, auth.Admin), b.file("repeat: 3\n"))
	require.NoError(t, err, "the team's admins change anyone's framework")
}

func TestOtherTeamsSeeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.Apply(b.as(t, auth.Member), b.file(""))
	require.NoError(t, err)

	stranger := servicetest.As(t, map[string]auth.Role{servicetest.Team(t): auth.Admin})
	ref := frameworks.Ref{Team: b.team, Name: b.name}
	_, err = b.svc.Get(stranger, ref)
	servicetest.Kind(t, err, service.NotFound, "name")
	_, err = b.svc.Versions(stranger, ref)
	servicetest.Kind(t, err, service.NotFound, "name")
	_, err = b.svc.Clone(stranger, ref, servicetest.Name("copy"))
	servicetest.Kind(t, err, service.NotFound, "name")
	list, err := b.svc.List(stranger)
	require.NoError(t, err)
	for _, f := range list {
		require.NotEqual(t, b.team, f.Team)
	}

	info, err := b.svc.Get(b.as(t, auth.Viewer), ref)
	require.NoError(t, err, "a viewer of the team sees it")
	require.Equal(t, b.name, info.Name)
}

func TestClone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.Apply(b.as(t, auth.Member), b.file(""))
	require.NoError(t, err)
	ref := frameworks.Ref{Team: b.team, Name: b.name}

	_, err = b.svc.Clone(b.as(t, auth.Viewer), ref, servicetest.Name("copy"))
	servicetest.Kind(t, err, service.Forbidden, "")

	member := b.as(t, auth.Member)
	_, err = b.svc.Clone(member, ref, b.name)
	servicetest.Kind(t, err, service.Conflict, "name")
	_, err = b.svc.Clone(member, ref, "Bad Name")
	servicetest.Kind(t, err, service.Invalid, "name")

	copyName := servicetest.Name("copy")
	res, err := b.svc.Clone(member, ref, copyName)
	require.NoError(t, err)
	require.Equal(t, copyName, res.Framework.Name)
	require.Equal(t, service.Principal(member).Name, res.Framework.Owner, "the clone is the cloner's")
}

func TestVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	viewer := b.as(t, auth.Viewer)
	_, err := b.svc.Apply(b.as(t, auth.Member), b.file(""))
	require.NoError(t, err)
	ref := frameworks.Ref{Team: b.team, Name: b.name}
	_, err = b.svc.Version(viewer, ref, 0)
	servicetest.Kind(t, err, service.Invalid, "version")
	_, err = b.svc.Version(viewer, ref, 9)
	servicetest.Kind(t, err, service.NotFound, "version")
	info, err := b.svc.Version(viewer, ref, 1)
	require.NoError(t, err)
	require.Equal(t, 1, info.Version)
}

// A framework file's owner key is kept when it names the framework's owner
// and refused, naming the field and the owner, when it names anyone else
// (issue 23: "owner: perf-team" used to be replaced without a word).
func TestApplyOwnerKeyRespectedOrRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := b.as(t, auth.Member)
	me := service.Principal(ctx).Name
	_, err := b.svc.Apply(ctx, b.file("owner: perf-team\n"))
	e := service.As(err)
	require.NotNil(t, e, "refused: %v", err)
	require.Equal(t, service.Invalid, e.Kind)
	require.Equal(t, "owner", e.Field)
	require.Contains(t, e.Msg, `owner "perf-team" cannot be set from the file`)
	require.Contains(t, e.Msg, fmt.Sprintf("set it to %q", me))

	res, err := b.svc.Apply(ctx, b.file(fmt.Sprintf("owner: %s\n", me)))
	require.NoError(t, err)
	require.Equal(t, me, res.Framework.Owner)
	_, err = b.svc.Apply(ctx, b.file("owner: perf-team\nrepeat: 2\n"))
	require.Error(t, err, "a new version may not change the owner either")
}
