package changepoints_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/changepoints"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/service/servicetest"
)

func TestMain(m *testing.M) { os.Exit(servicetest.Main(m)) }

func TestOnlyTheTeamsAdminsAcceptAChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	team, name := servicetest.Team(t), servicetest.Name("fw")
	admin := servicetest.As(t, map[string]auth.Role{team: auth.Admin})
	fw := &frameworks.Service{Store: servicetest.Store, Log: servicetest.Log}
	_, err := fw.Apply(admin, fmt.Appendf(nil, "name: %s\nteam: %s\nexecution:\n  script: |\n    #!/bin/sh\n    echo ok\n", name, team))
	require.NoError(t, err)
	id, err := servicetest.Store.TestCreate(ctx, store.NewTest{Team: team, Framework: name, Owner: "x"}, time.Now())
	require.NoError(t, err)
	require.NoError(t, servicetest.Store.ChangePointsReplaceFrom(ctx, id, "Latency", id,
		[]store.ChangePoint{{TestID: id, Before: 10, After: 12, DeltaPct: 20}}))

	svc := &changepoints.Service{Store: servicetest.Store, Log: servicetest.Log}
	stranger := servicetest.As(t, map[string]auth.Role{servicetest.Team(t): auth.Admin})
	_, err = svc.List(stranger, team, name)
	servicetest.Kind(t, err, service.NotFound, "name")
	list, err := svc.List(servicetest.As(t, map[string]auth.Role{team: auth.Viewer}), team, name)
	require.NoError(t, err)
	require.Len(t, list, 1)
	cid := list[0].ID

	_, err = svc.Accept(stranger, cid)
	servicetest.Kind(t, err, service.NotFound, "id")
	_, err = svc.Accept(servicetest.As(t, map[string]auth.Role{team: auth.Member}), cid)
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = svc.Accept(admin, 0)
	servicetest.Kind(t, err, service.Invalid, "id")
	cp, err := svc.Accept(admin, cid)
	require.NoError(t, err)
	require.Equal(t, service.Principal(admin).Name, cp.AcceptedBy)
}
