package multihost

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// placedFramework profiles and loads the hosts of a multi-host test by
// role: perf samples the service's busy loop on the sut host, and a CPU
// generator runs beside it there for 2 s; perf stat counts each load
// host's script.
func placedFramework(name string) string {
	return fmt.Sprintf(`
name: %[1]s
execution:
  timeout: 2m
roles:
  - name: sut
    hosts: [%[2]s]
    serve: true
    script: |
      #!/bin/sh
      echo $$ > pids
      touch ready
      while :; do :; done
  - name: load
    count: 2
    script: |
      #!/bin/sh
      echo $$ > pids
      i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done
      echo "Count, $i" > results.csv
    merge:
      - {kpi: Count, how: sum}
profilers:
  - {kind: perf, role: sut, delay: 200ms}
  - {kind: perf-stat, role: load, delay: 100ms, events: [task-clock, context-switches]}
interference:
  - {kind: cpu, role: sut, workers: 1, load: 50%%, duration: 2s}
kpis:
  - {name: Count, better: higher}
`, name, sutHost)
}

// needTools skips outside CI (and fails in CI) when perf or stress-ng is
// missing, or profiling other users' processes is not allowed.
func needTools(t *testing.T) {
	t.Helper()
	missing := ""
	for _, tool := range []string{"perf", "stress-ng"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = tool + " is not installed (apt-get install linux-perf stress-ng)"
		}
	}
	if os.Geteuid() != 0 {
		missing = "profiling other users' processes needs root"
	}
	switch {
	case missing != "" && os.Getenv("CI") != "":
		t.Fatal(missing)
	case missing != "":
		t.Skip(missing)
	}
}

// Profilers and generators run on the hosts of the role they name: the
// sut host's profile is kept under its role and index, each load host's
// counters are KPIs of their own, and the generator ran on the sut host
// alone and is gone at the end.
func TestMultiHostProfilersAndInterferenceByRole(t *testing.T) {
	needTools(t)
	st.Apply(t, placedFramework("multihost-placed"))
	got := st.Run(t, wire.RunRequest{Framework: "multihost-placed"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	st.RecordHistory(t, contract.WorkflowID(got.ID), "../../workflows/testdata/perftest-take-multihost-placed.json")

	for _, host := range []string{load1, load2} {
		clock := kpiValue(t, got, "perf-stat.task-clock@"+host)
		t.Logf("perf stat on %s: task-clock %.1f ms", host, clock)
		require.Greater(t, clock, 10.0, "perf stat counted the load script on %s", host)
	}
	for _, k := range got.KPIs {
		require.NotEqual(t, "perf-stat.task-clock@"+sutHost, k.Name, "perf stat runs on the load role only")
	}

	code, body := st.Page(t, fmt.Sprintf("/api/v1/tests/%d/artifacts/profiles/sut.0/script/perf.pb.gz", got.ID))
	require.Equal(t, http.StatusOK, code, "the sut host's perf profile is kept under its role and index")
	p, err := profile.ParseData([]byte(body))
	require.NoError(t, err)
	t.Logf("perf on %s: %d samples", sutHost, len(p.Sample))
	require.Greater(t, len(p.Sample), 10, "perf sampled the service's busy loop")

	var began, stopped []wire.Stage
	for _, s := range got.Timeline {
		switch s.Stage {
		case "interference cpu began":
			began = append(began, s)
		case "interference cpu stopped":
			stopped = append(stopped, s)
		}
	}
	require.Len(t, began, 1, "one CPU generator, on the sut host: %+v", got.Timeline)
	require.Len(t, stopped, 1)
	require.True(t, strings.HasPrefix(began[0].Reason, sutHost+", sut: stress-ng --cpu 1 --cpu-load 50"), began[0].Reason)
	took := stopped[0].At.Sub(began[0].At)
	t.Logf("interference on %s: %s (%s)", sutHost, took.Round(time.Millisecond), stopped[0].Reason)
	require.InDelta(t, 2.0, took.Seconds(), 1.0)
	require.Empty(t, stressOf(got.ID), "no stress-ng of the test is left")
}

// stressOf lists the live stress-ng processes of a test of this stack (by
// their working directory, the test's home on an agent).
func stressOf(id int64) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	home := fmt.Sprintf("/tests/%d/home", id)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || !strings.HasPrefix(string(comm), "stress-ng") {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && strings.HasPrefix(cwd, st.Dir) && strings.HasSuffix(cwd, home) {
			pids = append(pids, pid)
		}
	}
	return pids
}
