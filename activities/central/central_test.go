package central

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/workflows/contract"
)

// testStore is the package's database: one PostgreSQL cluster, migrated
// once; each test works on a framework and tests of its own.
var testStore *store.Store

func TestMain(m *testing.M) {
	stop, err := startStore(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "central tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// startStore starts the package's PostgreSQL, migrates it and sets testStore.
func startStore(ctx context.Context) (stop func(), err error) {
	url, stopPostgres, err := testenv.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := store.Connect(ctx, url)
	if err != nil {
		stopPostgres()
		return nil, err
	}
	stop = func() { pool.Close(); stopPostgres() }
	if err := migrations.Apply(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		stop()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	testStore = store.New(pool)
	return stop, nil
}

// bundle is what each test needs: the central activities registered in an
// activity test environment, and a queued test of a framework of its own.
type bundle struct {
	env    *testsuite.TestActivityEnvironment
	fw     *framework.Framework
	testID int64
}

// frameworkYAML is a framework with something in each part TestLoad reads.
const frameworkYAML = `name: %s
execution:
  script: |
    #!/bin/sh
    echo "Latency, 12ms" > results.csv
  args: named
  timeout: 90s
statistics:
  interval: 2s
parameters:
  - {name: n, default: "3"}
kpis:
  - {name: Latency, unit: ms, better: lower, threshold: 5%%}
repeat: 2
warmup: 1
hooks:
  before_run: |
    #!/bin/sh
    true
`

func setup(t *testing.T, name string) *bundle {
	t.Helper()
	ctx := context.Background()
	fw, err := framework.Parse(fmt.Appendf(nil, frameworkYAML, name))
	require.NoError(t, err)
	_, err = testStore.FrameworkApply(ctx, fw)
	require.NoError(t, err)
	var suite testsuite.WorkflowTestSuite
	b := &bundle{env: suite.NewTestActivityEnvironment(), fw: fw}
	Register(b.env, &Activities{Store: testStore, AnyCaller: true})
	b.testID = b.newTest(t)
	return b
}

// newTest queues a test of the bundle's framework on main.
func (b *bundle) newTest(t *testing.T) int64 {
	t.Helper()
	id, err := testStore.TestCreate(context.Background(), store.NewTest{Team: b.fw.Team, Framework: b.fw.Name, Owner: "alice",
		Params: []framework.Param{{Name: "n", Value: "5"}}, Commit: "abc123", Branch: "main"}, time.Now())
	require.NoError(t, err)
	return id
}

// collate takes a test to collating and stores its Latency values, one
// per iteration.
func (b *bundle) collate(t *testing.T, id int64, latency ...float64) {
	t.Helper()
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: id, State: wire.StateCollating, At: time.Now()}, nil))
	in := contract.CollateInput{TestID: id, Hosts: []string{}}
	for i, v := range latency {
		in.Iterations = append(in.Iterations, contract.Iteration{Iteration: i + 1, KPIs: []contract.KPI{{Name: "Latency", Value: v, Unit: "ms"}}})
	}
	require.NoError(t, b.call(t, contract.Collate.Name, in, nil))
}

// finish collates a test's Latency values and ends it.
func (b *bundle) finish(t *testing.T, id int64, latency ...float64) {
	t.Helper()
	b.collate(t, id, latency...)
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: id, State: wire.StateFinished, At: time.Now()}, nil))
}

// call runs one activity and decodes its result into out (nil: none).
func (b *bundle) call(t *testing.T, name string, in, out any) error {
	t.Helper()
	v, err := b.env.ExecuteActivity(name, in)
	if err != nil || out == nil {
		return err
	}
	require.NoError(t, v.Get(out))
	return nil
}

func (b *bundle) test(t *testing.T) *wire.Test {
	t.Helper()
	got, err := testStore.TestGet(context.Background(), b.testID)
	require.NoError(t, err)
	return got
}

func TestTestLoadGivesTheWorkflowItsPlan(t *testing.T) {
	t.Parallel()
	b := setup(t, "central-load")
	var plan contract.TestPlan
	require.NoError(t, b.call(t, contract.TestLoad.Name, b.testID, &plan))
	require.Equal(t, b.testID, plan.TestID)
	require.Equal(t, "central-load", plan.Framework)
	require.Equal(t, 90*time.Second, plan.Execution.Timeout)
	require.Equal(t, framework.ArgsNamed, plan.Execution.Args)
	require.Contains(t, plan.Execution.Script, "results.csv")
	require.Equal(t, 2*time.Second, plan.Statistics.Interval)
	require.Equal(t, 1, plan.Warmup)
	require.Equal(t, 2, plan.Repeat)
	require.Equal(t, []contract.Param{{Name: "n", Value: "5"}}, plan.Params)
	require.Contains(t, plan.Hooks, contract.Hook{Name: "before_run", Script: "#!/bin/sh\ntrue\n"})
}

func TestTestLoadOfAMissingTestIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, "central-missing")
	err := b.call(t, contract.TestLoad.Name, int64(1<<40), nil)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "got %v", err)
	require.Equal(t, contract.ErrNotFound, app.Type())
	require.True(t, app.NonRetryable())
}

func TestHostPickChoosesAnOnlineAgentAndRefusesAnUnknownOne(t *testing.T) {
	t.Parallel()
	b := setup(t, "central-pick")
	ctx := context.Background()
	require.NoError(t, testStore.AgentUpsert(ctx, "pick-01", wire.Heartbeat{Labels: map[string]string{"pool": "pick"}}))
	in := contract.HostPickInput{TestID: b.testID, Labels: map[string]string{"pool": "pick"}}
	noHost := func(err error, retry bool, msg string) {
		t.Helper()
		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "got %v", err)
		require.Equal(t, contract.ErrNoHost, app.Type())
		require.Equal(t, !retry, app.NonRetryable(), "%v", err)
		require.Contains(t, app.Error(), msg)
	}
	// Labels an agent declares steer nothing; nor does a host of another team.
	noHost(b.call(t, contract.HostPick.Name, in, nil), true, `no online agent of team "default" (or shared) has the framework's labels map[pool:pick]`)
	require.NoError(t, testStore.TeamCreate(ctx, "pick-other"))
	require.NoError(t, testStore.AgentSettingsSet(ctx, "pick-01", wire.AgentSettings{Labels: map[string]string{"pool": "pick"}, Teams: []string{"pick-other"}}, "admin"))
	noHost(b.call(t, contract.HostPick.Name, in, nil), true, "no online agent")
	noHost(b.call(t, contract.HostPick.Name, contract.HostPickInput{TestID: b.testID, Hosts: []string{"pick-01"}}, nil), false,
		`execution host "pick-01" is not shared with team "default"`)

	require.NoError(t, testStore.AgentSettingsSet(ctx, "pick-01", wire.AgentSettings{Labels: map[string]string{"pool": "pick"}, Teams: []string{"pick-other", b.fw.Team}}, "admin"))
	var picked contract.HostPickResult
	require.NoError(t, b.call(t, contract.HostPick.Name, in, &picked))
	require.Equal(t, "pick-01", picked.Execution)
	require.Equal(t, []string{"pick-01"}, picked.Statistics, "no statistics hosts named: the execution host")

	// A framework with containers needs an agent with a Docker engine.
	withContainers := in
	withContainers.Containers = true
	noHost(b.call(t, contract.HostPick.Name, withContainers, nil), true, "and a Docker engine (the framework runs containers)")
	noHost(b.call(t, contract.HostPick.Name, contract.HostPickInput{TestID: b.testID, Hosts: []string{"pick-01"}, Containers: true}, nil), false,
		`execution host "pick-01" has no Docker engine`)
	require.NoError(t, testStore.AgentUpsert(ctx, "pick-01", wire.Heartbeat{Facts: wire.Facts{Docker: "20.10.24 (API 1.41)"}}))
	require.NoError(t, b.call(t, contract.HostPick.Name, withContainers, &picked))
	require.Equal(t, "pick-01", picked.Execution)

	noHost(b.call(t, contract.HostPick.Name, contract.HostPickInput{TestID: b.testID, Hosts: []string{"nowhere-9"}}, nil), false,
		`execution host "nowhere-9" is not a registered agent`)
}

func TestTransitionCollateAndVerdictStoreWhatTheTestDid(t *testing.T) {
	t.Parallel()
	b := setup(t, "central-collate")
	at := time.Now().Truncate(time.Millisecond)
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{
		TestID: b.testID, State: wire.StateRunning, At: at, Host: "bench-01", Hosts: []string{"bench-01"},
		Stages: []contract.Stage{{Name: "setup done", At: at.Add(-time.Second)}},
	}, nil))
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: b.testID, State: wire.StateCollating, At: at}, nil))
	require.NoError(t, b.call(t, contract.Collate.Name, contract.CollateInput{
		TestID: b.testID, Hosts: []string{"bench-01"}, ScriptSHA256: "feed",
		Iterations: []contract.Iteration{
			{Iteration: 1, KPIs: []contract.KPI{{Name: "Latency", Value: 12, Unit: "ms", Raw: "12ms"}}},
			{Iteration: 2, KPIs: []contract.KPI{{Name: "Latency", Value: 14, Unit: "ms", Raw: "14ms"}}, Notes: []string{"results.2.csv: line 3 skipped"}},
		},
		Skipped: []string{"artifact link: not a regular file"},
	}, nil))
	var v contract.VerdictResult
	require.NoError(t, b.call(t, contract.Verdict.Name, b.testID, &v))
	require.Equal(t, wire.VerdictNoBaseline, v.Verdict, "the first test of a framework has nothing to compare with")

	got := b.test(t)
	require.Equal(t, wire.StateCollating, got.State)
	require.Equal(t, "bench-01", got.Host)
	var stages []string
	for _, s := range got.Timeline {
		stages = append(stages, s.Stage)
	}
	require.Contains(t, stages, "setup done")
	require.Len(t, got.KPIs, 2)
	require.Equal(t, "Latency", got.KPIs[0].Name)
	require.Contains(t, got.Notes, "results.2.csv: line 3 skipped")
	require.Contains(t, got.Notes, "artifact link: not a regular file")
	require.Equal(t, "feed", got.Fingerprint.ScriptSHA256)
	require.Equal(t, "5", got.Fingerprint.Params["n"])
	require.Equal(t, wire.VerdictNoBaseline, got.Verdict)
}

// A test whose container was CPU-throttled (its container stats samples
// say so) gets a note at collation naming the container, the host and
// how long; a container never throttled gets none.
func TestCollateFlagsThrottling(t *testing.T) {
	t.Parallel()
	b := setup(t, "central-throttle")
	ctx := context.Background()
	at := time.Now().Truncate(time.Second).UnixMilli()
	_, err := testStore.SampleIngest(ctx, &ingest.Samples{Header: ingest.Header{TestID: b.testID, Host: "bench-01", Batch: "b1"},
		Series: []ingest.Series{
			// 0, 200, 300 ms per second over two 1 s steps: 500 ms in all.
			{Metric: "container.app.cpu.throttled_ms", TS: []int64{at, at + 1000, at + 2000}, Values: []float64{0, 200, 300}},
			{Metric: "container.db.cpu.throttled_ms", TS: []int64{at, at + 1000}, Values: []float64{0, 0}},
			{Metric: "container.app.cpu.percent", TS: []int64{at}, Values: []float64{90}},
		}})
	require.NoError(t, err)
	b.collate(t, b.testID, 12)
	var flags []string
	for _, n := range b.test(t).Notes {
		if strings.HasPrefix(n, "CPU throttled") {
			flags = append(flags, n)
		}
	}
	require.Equal(t, []string{"CPU throttled: container app on bench-01 was throttled 500 ms in all (up to 300 ms per second, container stats): its figures may be noisy"}, flags)

	quiet := b.newTest(t)
	b.collate(t, quiet, 12)
	got, err := testStore.TestGet(ctx, quiet)
	require.NoError(t, err)
	for _, n := range got.Notes {
		require.NotContains(t, n, "CPU throttled")
	}
}

// The framework declares Latency in ms: a bare value takes that unit, and
// another unit is kept as written, with a note naming the file and line.
func TestCollateAppliesTheDeclaredUnits(t *testing.T) {
	t.Parallel()
	b := setup(t, "central-units")
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: b.testID, State: wire.StateCollating, At: time.Now()}, nil))
	require.NoError(t, b.call(t, contract.Collate.Name, contract.CollateInput{
		TestID: b.testID, Hosts: []string{},
		Iterations: []contract.Iteration{
			{Iteration: 1, File: "results.1.csv", KPIs: []contract.KPI{
				{Name: "Latency", Value: 12, Raw: "12", Line: 2}, {Name: "Errors", Value: 1, Raw: "1", Line: 3}}},
			{Iteration: 2, File: "results.2.csv", KPIs: []contract.KPI{{Name: "Latency", Value: 0.014, Unit: "s", Raw: "0.014s", Line: 4}}},
			// From a history older than File and Line.
			{Iteration: 3, KPIs: []contract.KPI{{Name: "Latency", Value: 0.013, Unit: "s", Raw: "0.013s"}}},
		},
	}, nil))
	got := b.test(t)
	units := map[string]string{}
	for _, k := range got.KPIs {
		units[fmt.Sprintf("%s/%d", k.Name, k.Iteration)] = k.Unit
	}
	require.Equal(t, map[string]string{"Latency/1": "ms", "Errors/1": "", "Latency/2": "s", "Latency/3": "s"}, units)
	require.Equal(t, []string{
		`results.2.csv:4: Latency: unit "s" differs from the declared "ms"; kept as written, not converted`,
		`results.csv: Latency: unit "s" differs from the declared "ms"; kept as written, not converted`,
	}, got.Notes)
}

func TestLeaseRecordShowsTheHolder(t *testing.T) {
	t.Parallel()
	b := setup(t, "central-lease")
	ctx := context.Background()
	require.NoError(t, testStore.AgentUpsert(ctx, "lease-01", wire.Heartbeat{}))
	require.NoError(t, b.call(t, contract.LeaseRecord.Name, contract.LeaseRecordInput{Host: "lease-01", TestID: b.testID, Since: time.Now()}, nil))
	holder := func() int64 {
		agents, err := testStore.AgentList(ctx)
		require.NoError(t, err)
		for _, a := range agents {
			if a.Name == "lease-01" {
				return a.RunningTest
			}
		}
		t.Fatal("agent lease-01 is not listed")
		return 0
	}
	require.Equal(t, b.testID, holder())
	require.NoError(t, b.call(t, contract.LeaseRecord.Name, contract.LeaseRecordInput{Host: "lease-01", Since: time.Now()}, nil))
	require.Zero(t, holder(), "TestID 0: nobody holds the host")
}

func TestVerdictFindsARegressionAgainstTheBaseline(t *testing.T) {
	t.Parallel()
	b := setup(t, "central-verdict")
	var base []int64
	for i := range 6 {
		id := b.testID
		if i > 0 {
			id = b.newTest(t)
		}
		b.finish(t, id, 10+0.1*float64(i%3), 10-0.1*float64(i%2), 10)
		base = append(base, id)
	}
	cand := b.newTest(t)
	b.collate(t, cand, 13, 13.2, 12.9)
	var v contract.VerdictResult
	require.NoError(t, b.call(t, contract.Verdict.Name, cand, &v))
	require.Equal(t, wire.VerdictRegressed, v.Verdict, "30% slower, with a 5% threshold and lower being better")
	require.ElementsMatch(t, base, v.Baseline)
	got, err := testStore.TestGet(context.Background(), cand)
	require.NoError(t, err)
	require.Equal(t, wire.VerdictRegressed, got.Verdict)
}

// The central steps trust nothing a task hands them blindly: a workflow
// other than the test's own cannot act on it, an ended test is never
// rewritten, states only move forward, and results name only hosts the
// test leased.
func TestCentralStepsRefuseStrayOrForgedTasks(t *testing.T) {
	t.Parallel()
	b := setup(t, "central-forged")
	refused := func(err error, msg string) {
		t.Helper()
		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "got %v", err)
		require.Equal(t, ErrRefused, app.Type(), "%v", err)
		require.True(t, app.NonRetryable())
		require.Contains(t, app.Error(), msg)
	}
	// A workflow that is not perftest-<id> (here the test environment's).
	var suite testsuite.WorkflowTestSuite
	forged := suite.NewTestActivityEnvironment()
	Register(forged, &Activities{Store: testStore})
	for _, step := range []struct {
		name string
		in   any
	}{
		{contract.Transition.Name, contract.TransitionInput{TestID: b.testID, State: wire.StateFinished}},
		{contract.Collate.Name, contract.CollateInput{TestID: b.testID}},
		{contract.Verdict.Name, b.testID},
		{contract.TestLoad.Name, b.testID},
		{contract.HostPick.Name, contract.HostPickInput{TestID: b.testID}},
	} {
		_, err := forged.ExecuteActivity(step.name, step.in)
		refused(err, fmt.Sprintf(`not the test's own "perftest-%d"`, b.testID))
	}

	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: b.testID, State: wire.StateRunning,
		Hosts: []string{"forged-01"}}, nil))
	refused(b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: b.testID, State: wire.StateQueued}, nil),
		"states only move forward")
	refused(b.call(t, contract.Collate.Name, contract.CollateInput{TestID: b.testID}, nil), "not collating")
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: b.testID, State: wire.StateCollating}, nil))
	refused(b.call(t, contract.Collate.Name, contract.CollateInput{TestID: b.testID, Hosts: []string{"elsewhere-01"}}, nil),
		"host elsewhere-01 is not one the test leased")

	b.finish(t, b.testID, 10)
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: b.testID, State: wire.StateFinished}, nil),
		"a retried ending is not an error")
	refused(b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: b.testID, State: wire.StateFailed}, nil), "the test has ended")
	refused(b.call(t, contract.Collate.Name, contract.CollateInput{TestID: b.testID}, nil), "the test has ended")
	require.Equal(t, wire.StateFinished, b.test(t).State)
	require.Len(t, b.test(t).KPIs, 1, "the finished test's results are as collated")
}
