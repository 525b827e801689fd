package central

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Two hosts of different hardware: a Xeon with 8 GiB and an EPYC with 16.
var (
	xeon = wire.Facts{CPUModel: "Intel(R) Xeon(R) Gold 6148", Cores: 4, ThreadsPerCore: 2, MemoryBytes: 8<<30 - 200<<20, Kernel: "6.1.0"}
	epyc = wire.Facts{CPUModel: "AMD EPYC 7B13", Cores: 4, ThreadsPerCore: 2, MemoryBytes: 16 << 30, Kernel: "6.1.0"}
)

// runOn runs a test of the bundle's framework on host to the end: its
// hosts' facts go into its fingerprint at collation, with the hardware,
// and it is judged.
func (b *bundle) runOn(t *testing.T, host string, latency ...float64) int64 {
	t.Helper()
	id := b.newTest(t)
	b.runTestOn(t, id, host, latency...)
	require.NoError(t, b.call(t, contract.Verdict.Name, id, nil))
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: id, State: wire.StateFinished, At: time.Now()}, nil))
	return id
}

// runTestOn takes test id through running on host to collating.
func (b *bundle) runTestOn(t *testing.T, id int64, host string, latency ...float64) {
	t.Helper()
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{
		TestID: id, State: wire.StateRunning, At: time.Now(), Host: host, Hosts: []string{host}}, nil))
	require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: id, State: wire.StateCollating, At: time.Now()}, nil))
	in := contract.CollateInput{TestID: id, Hosts: []string{host}}
	for i, v := range latency {
		in.Iterations = append(in.Iterations, contract.Iteration{Iteration: i + 1, KPIs: []contract.KPI{{Name: "Latency", Value: v, Unit: "ms"}}})
	}
	require.NoError(t, b.call(t, contract.Collate.Name, in, nil))
}

// hardwareSetup is a bundle whose framework says baseline_hardware as
// given ("" leaves the key out), and two agents of its own, one per
// hardware.
func hardwareSetup(t *testing.T, name, rule string) (b *bundle, onXeon, onEpyc string) {
	t.Helper()
	ctx := context.Background()
	b = setup(t, name)
	if rule != "" {
		fw, err := framework.Parse(fmt.Appendf(nil, frameworkYAML+"baseline_hardware: %s\n", name, rule))
		require.NoError(t, err)
		_, err = testStore.FrameworkApply(ctx, fw)
		require.NoError(t, err)
	}
	onXeon, onEpyc = name+"-xeon", name+"-epyc"
	require.NoError(t, testStore.AgentUpsert(ctx, onXeon, wire.Heartbeat{Facts: xeon}))
	require.NoError(t, testStore.AgentUpsert(ctx, onEpyc, wire.Heartbeat{Facts: epyc}))
	return b, onXeon, onEpyc
}

// By default a test's baselines are the tests that ran on the same
// hardware: the EPYC's faster tests are left out of a Xeon test's
// baseline (and the evidence says so), and a first test on new hardware
// has no baseline on it, saying why rather than silently.
func TestBaselinesKeepToTheSameHardware(t *testing.T) {
	t.Parallel()
	b, onXeon, onEpyc := hardwareSetup(t, "central-hw-same", "")
	var xeons []int64
	for i := range 3 {
		xeons = append(xeons, b.runOn(t, onXeon, 20+0.1*float64(i), 20.1, 19.9))
	}
	e1 := b.runOn(t, onEpyc, 10, 10.1, 9.9)
	e2 := b.runOn(t, onEpyc, 10.1, 10, 9.9)

	got, err := testStore.TestGet(context.Background(), e1)
	require.NoError(t, err)
	require.Equal(t, "AMD EPYC 7B13 · 4 CPUs · 2 threads/core · 16 GiB", got.Fingerprint.Hardware)
	require.Equal(t, wire.VerdictNoBaseline, got.Verdict)
	require.Empty(t, got.BaselineTests)
	require.Len(t, got.Verdicts, 1)
	require.Contains(t, got.Verdicts[0].Evidence, "no baseline on this hardware (AMD EPYC 7B13 · 4 CPUs · 2 threads/core · 16 GiB): 3 earlier test(s) of this KPI ran on other hardware")

	got, err = testStore.TestGet(context.Background(), e2)
	require.NoError(t, err)
	require.Equal(t, []int64{e1}, got.BaselineTests, "only the EPYC's test")
	require.Equal(t, wire.VerdictUnchanged, got.Verdict)
	require.Contains(t, got.Verdicts[0].Evidence, "baselines limited to this hardware")
	require.Contains(t, got.Verdicts[0].Evidence, "3 test(s) on other hardware left out")

	// A Xeon test as slow as the Xeons is unchanged against them alone
	// (against the EPYC's too it would be a 60% regression... of the pool).
	x := b.runOn(t, onXeon, 20, 20.1, 19.9)
	got, err = testStore.TestGet(context.Background(), x)
	require.NoError(t, err)
	require.ElementsMatch(t, xeons, got.BaselineTests)
	require.Equal(t, wire.VerdictUnchanged, got.Verdict)
	require.Equal(t, "Intel(R) Xeon(R) Gold 6148 · 4 CPUs · 2 threads/core · 8 GiB", got.Fingerprint.Hardware, "7.8 GiB of MemTotal rounds to 8")
}

// baseline_hardware: any lets every host's tests in: the EPYC's first
// test is judged against the Xeons' and found 50% faster.
func TestBaselineHardwareAnyComparesAcrossHardware(t *testing.T) {
	t.Parallel()
	b, onXeon, onEpyc := hardwareSetup(t, "central-hw-any", "any")
	var xeons []int64
	for i := range 3 {
		xeons = append(xeons, b.runOn(t, onXeon, 20+0.1*float64(i), 20.1, 19.9))
	}
	e := b.runOn(t, onEpyc, 10, 10.1, 9.9)
	got, err := testStore.TestGet(context.Background(), e)
	require.NoError(t, err)
	require.ElementsMatch(t, xeons, got.BaselineTests)
	require.Equal(t, wire.VerdictImproved, got.Verdict)
	require.NotContains(t, got.Verdicts[0].Evidence, "hardware")
}

// A run's CPU migrations reach the test's fingerprint with their rate;
// after three quiet tests on the hardware, one whose threads moved ten
// times as often is flagged with a note, and a test whose agent counted
// none records none.
func TestCollateRecordsCPUMigrations(t *testing.T) {
	t.Parallel()
	b, onXeon, _ := hardwareSetup(t, "central-migrations", "")
	ctx := context.Background()
	collate := func(id int64, count int64) *wire.Test {
		t.Helper()
		require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{
			TestID: id, State: wire.StateRunning, At: time.Now(), Host: onXeon, Hosts: []string{onXeon}}, nil))
		require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: id, State: wire.StateCollating, At: time.Now()}, nil))
		in := contract.CollateInput{TestID: id, Hosts: []string{onXeon},
			Iterations: []contract.Iteration{{Iteration: 1, KPIs: []contract.KPI{{Name: "Latency", Value: 12, Unit: "ms"}}}}}
		if count >= 0 {
			in.Migrations = &contract.Migrations{Host: onXeon, Count: count, Seconds: 10}
		}
		require.NoError(t, b.call(t, contract.Collate.Name, in, nil))
		require.NoError(t, b.call(t, contract.Transition.Name, contract.TransitionInput{TestID: id, State: wire.StateFinished, At: time.Now()}, nil))
		got, err := testStore.TestGet(ctx, id)
		require.NoError(t, err)
		return got
	}
	noted := func(x *wire.Test) []string {
		var out []string
		for _, n := range x.Notes {
			if strings.HasPrefix(n, "CPU migrations") {
				out = append(out, n)
			}
		}
		return out
	}
	first := collate(b.testID, 40)
	require.Equal(t, &wire.CPUMigrations{Host: onXeon, Count: 40, Seconds: 10, PerSecond: 4}, first.Fingerprint.CPUMigrations,
		"no history yet: no usual rate, never high")
	collate(b.newTest(t), 60)
	third := collate(b.newTest(t), 50)
	require.Zero(t, third.Fingerprint.CPUMigrations.Usual, "two earlier tests are too few")

	busy := collate(b.newTest(t), 600)
	m := busy.Fingerprint.CPUMigrations
	require.InDelta(t, 60, m.PerSecond, 1e-9)
	require.InDelta(t, 5, m.Usual, 1e-9, "the median of 4, 6 and 5 per second")
	require.True(t, m.High)
	require.Equal(t, []string{fmt.Sprintf("CPU migrations: the script's threads moved between CPUs 600 times on %s (60.0/s), "+
		"12.0× the usual 5.0/s of the framework's last 3 tests on this hardware: its figures may be noisy", onXeon)}, noted(busy))

	usual := collate(b.newTest(t), 70)
	require.False(t, usual.Fingerprint.CPUMigrations.High, "7/s against a usual 5.5/s")
	require.Empty(t, noted(usual))

	none := collate(b.newTest(t), -1)
	require.Nil(t, none.Fingerprint.CPUMigrations)
}
