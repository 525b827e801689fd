package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// Hooks run at their lifecycle points with the script's environment, and
// repeat/warm-up run the script several times with KPIs per iteration.
func TestHooksAndRepeats(t *testing.T) {
	t.Parallel()
	dir := testenv.ScriptDir(t)
	trace := filepath.Join(dir, "trace")
	hook := func(name string) string {
		return fmt.Sprintf("\"#!/bin/sh\\necho %s $PITWALL_TEST_ID $PITWALL_PARAM_N >> %s\\n\"", name, trace)
	}
	st.Apply(t, fmt.Sprintf(`
name: hooked
execution:
  script: |
    #!/bin/sh
    echo "script $PITWALL_ITERATION" >> %s
    echo "Iteration, $PITWALL_ITERATION" > results.csv
    echo "Latency-ms, $((10 + PITWALL_ITERATION))ms" >> results.csv
parameters: [{name: n, default: "7"}]
repeat: 3
warmup: 1
hooks:
  before_setup: %s
  after_setup: %s
  before_run: %s
  after_run: %s
  before_cleanup: %s
`, trace, hook("before_setup"), hook("after_setup"), hook("before_run"), hook("after_run"), hook("before_cleanup")))
	got := st.Run(t, wire.RunRequest{Framework: "hooked"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)

	b, err := os.ReadFile(trace)
	require.NoError(t, err)
	id := fmt.Sprint(got.ID)
	var want []string
	want = append(want, "before_setup "+id+" 7", "after_setup "+id+" 7")
	for i := 1; i <= 4; i++ {
		want = append(want, "before_run "+id+" 7", fmt.Sprintf("script %d", i), "after_run "+id+" 7")
	}
	want = append(want, "before_cleanup "+id+" 7")
	require.Equal(t, want, strings.Split(strings.TrimSpace(string(b)), "\n"))

	// The warm-up (run 1) is discarded; iterations 1-3 are runs 2-4.
	perIteration := map[int]map[string]float64{}
	for _, k := range got.KPIs {
		if perIteration[k.Iteration] == nil {
			perIteration[k.Iteration] = map[string]float64{}
		}
		perIteration[k.Iteration][k.Name] = k.Value
	}
	require.Equal(t, map[int]map[string]float64{
		1: {"Iteration": 2, "Latency-ms": 12},
		2: {"Iteration": 3, "Latency-ms": 13},
		3: {"Iteration": 4, "Latency-ms": 14},
	}, perIteration)
	var kpis struct {
		Summary []wire.KPISummary `json:"summary"`
	}
	st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/kpis", got.ID), "", nil, &kpis)
	require.Equal(t, wire.KPISummary{Name: "Iteration", Count: 3, Mean: 3, Median: 3, Min: 2, Max: 4, Stddev: 1}, kpis.Summary[0])
	require.Equal(t, "ms", kpis.Summary[1].Unit)
	require.Equal(t, 13.0, kpis.Summary[1].Mean)
	for _, s := range []string{"warm-up 1 started", "iteration 1 started", "iteration 3 ended", "hook before_run done", "hook after_setup done"} {
		stageAt(t, got, s)
	}
}

func TestFailingHookFailsTestWithItsName(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: bad-hook
execution: {script: "#!/bin/sh\necho 'K, 1' > results.csv\n"}
hooks:
  after_run: "#!/bin/sh\necho 'cannot reach the database' >&2\nexit 3\n"
`)
	got := st.Run(t, wire.RunRequest{Framework: "bad-hook"})
	require.Equal(t, wire.StateFailed, got.State)
	require.Equal(t, "hook after_run failed: script exited with status 3: cannot reach the database", got.Reason)
	stageAt(t, got, "cleaned up")
	stageAt(t, got, "leases released")
}

// A Daytona execution script runs unchanged: named arguments as --name
// value, a "Key, Value" header, spaces after commas and numbers with units.
func TestDaytonaScriptRunsUnchanged(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: daytona-style
execution:
  args: named
  script: |
    #!/bin/bash
    # As Daytona's sample execution scripts do: parse --name value pairs.
    while [ $# -gt 0 ]; do
      case "$1" in
        --iterations) iterations="$2"; shift 2 ;;
        --delay) delay="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 1 ;;
      esac
    done
    echo "Key, Value" > results.csv
    echo "Iterations, $iterations" >> results.csv
    echo "Delay, ${delay}s" >> results.csv
    echo "Latency, 12.5ms" >> results.csv
    echo "Throughput, 3.2k" >> results.csv
    echo "CPU, 99%" >> results.csv
    echo "Transferred, 1.5GB" >> results.csv
    printf 'Metric,Run1,Run2\nLatency,12,13\n' > multicol.csv
parameters:
  - {name: iterations, default: "3"}
  - {name: delay, default: "0.1"}
`)
	got := st.Run(t, wire.RunRequest{Framework: "daytona-style", Params: map[string]string{"iterations": "5"}})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	type vu struct {
		v float64
		u string
	}
	kpis := map[string]vu{}
	for _, k := range got.KPIs {
		kpis[k.Name] = vu{k.Value, k.Unit}
	}
	require.Equal(t, map[string]vu{
		"Iterations": {5, ""}, "Delay": {0.1, "s"}, "Latency": {12.5, "ms"}, "Throughput": {3200, ""},
		"CPU": {99, "%"}, "Transferred": {1.5, "GB"},
	}, kpis)
	require.Empty(t, got.Notes)
}

// The timeline holds every state and every stage, in time order.
func TestTimelineStages(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: staged
execution: {script: "#!/bin/sh\necho 'K, 1' > results.csv\n", hosts: [%s]}
`, agent3))
	got := st.Run(t, wire.RunRequest{Framework: "staged"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	var names []string
	for i, s := range got.Timeline {
		names = append(names, s.Stage)
		if i > 0 {
			require.False(t, s.At.Before(got.Timeline[i-1].At), "time order")
		}
	}
	// No setup state: the first Execute sets the test up (lean shape).
	for _, want := range []string{"queued", "lease acquired " + agent3, "setup done", "monitors started",
		"running", "script started", "script ended", "collating", "collated", "cleaned up", "leases released", "finished"} {
		require.Contains(t, names, want)
	}
	for _, s := range got.Timeline {
		if s.Stage == "script ended" {
			require.Regexp(t, `^exit 0; CPU \d+\.\d\d s user \+ \d+\.\d\d s system(, peak RSS \d+\.\d MiB \(largest process\))?(, \d+ process\(es\) seen)?(, \d+ CPU migration\(s\))?$`, s.Reason)
		}
	}
}
