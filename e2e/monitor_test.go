package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// Three agents on one machine: the script runs on one, two are statistics
// hosts, and each one's samples are stored under its own name, with the
// per-process figures of the PIDs the script names.
func TestStatisticsHostsSampleUnderTheirOwnNames(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: watched
execution:
  script: |
    #!/bin/sh
    # A busy child, named in pids for per-process figures.
    sh -c 'while :; do :; done' &
    echo $! > pids
    sleep 1.5
    echo "Done, 1" > results.csv
  hosts: [%s]
statistics:
  hosts: [%s, %s]
  interval: 200ms
`, agentName, agentName, agent2))
	got := st.Run(t, wire.RunRequest{Framework: "watched"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	stageAt(t, got, "monitors started")
	stageAt(t, got, "monitor stopped on "+agentName)
	stageAt(t, got, "monitor stopped on "+agent2)

	ctx := context.Background()
	type key struct{ host, metric string }
	counts := map[key]int{}
	rows, err := st.Pool.Query(ctx, `SELECT host, metric, sum(n) FROM sample_chunks WHERE test_id = $1 GROUP BY host, metric`, got.ID)
	require.NoError(t, err)
	for rows.Next() {
		var k key
		var n int
		require.NoError(t, rows.Scan(&k.host, &k.metric, &n))
		counts[k] = n
	}
	require.NoError(t, rows.Err())

	var chunks, series int
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT (host, metric)) FROM sample_chunks WHERE test_id = $1`,
		got.ID).Scan(&chunks, &series))
	require.Equal(t, series, chunks, "the ended test's samples are merged into one chunk per series")

	hosts := map[string]bool{}
	for k := range counts {
		hosts[k.host] = true
	}
	require.Equal(t, map[string]bool{agentName: true, agent2: true}, hosts, "samples only from the statistics hosts")
	for _, h := range []string{agentName, agent2} {
		for _, m := range []string{"cpu.user", "cpu.system", "cpu.iowait", "cpu.steal", "cpu.idle", "cpu0.user",
			"mem.used", "mem.cached", "mem.available", "mem.swap_used", "load.1", "ctxt", "net.lo.rx_bytes", "net.lo.tx_packets"} {
			require.GreaterOrEqual(t, counts[key{h, m}], 5, "%s on %s: 1.5 s at 200 ms", m, h)
		}
	}
	var procCPU, procRSS int
	for k, n := range counts {
		if k.host == agentName && strings.HasPrefix(k.metric, "proc.") {
			if strings.HasSuffix(k.metric, ".cpu") {
				procCPU += n
			}
			if strings.HasSuffix(k.metric, ".rss") {
				procRSS += n
			}
		}
	}
	require.Positive(t, procCPU, "per-process CPU of the PID in pids")
	require.Positive(t, procRSS, "per-process RSS of the PID in pids")
	var busiest float64
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT coalesce(max(v), 0) FROM sample_chunks, unnest(vals) v
		WHERE test_id = $1 AND host = $2 AND metric LIKE 'proc.%.cpu'`, got.ID, agentName).Scan(&busiest))
	// An idle process shows 0%; a busy loop gets a whole core on an idle
	// machine and, in its best 200 ms, about 20% at a load average of 10
	// on 2 cores (seen in the suite run with -parallel 8), so the bound
	// separates busy from idle, not fast from slow.
	require.Greater(t, busiest, 5.0, "the busy loop shows as CPU")
}

// A framework with monitoring off (statistics.off) runs its test to the
// end with no monitor on any host: the timeline says so, and the test has
// no samples, neither in the series API nor in the store.
func TestMonitoringOffTakesNoSamples(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: unwatched
execution:
  script: |
    #!/bin/sh
    sleep 1.5
    echo "Done, 1" > results.csv
  hosts: [%s]
statistics: {off: true}
kpis: [{name: Done}]
`, agentName))
	var fw struct {
		Statistics struct {
			Off bool `json:"off"`
		} `json:"statistics"`
	}
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/frameworks/unwatched", "", nil, &fw))
	require.True(t, fw.Statistics.Off, "the API shows the switch")

	got := st.Run(t, wire.RunRequest{Framework: "unwatched"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	require.Len(t, got.KPIs, 1, "the script's results are collected as usual")
	stageAt(t, got, "monitoring off")
	for _, s := range got.Timeline {
		require.NotRegexp(t, `^monitors? (started|stopped|lost)`, s.Stage, "no monitor started or stopped: %+v", s)
	}

	var series wire.List[wire.Series]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/series", got.ID), "", nil, &series))
	require.Empty(t, series.Items, "no series of any host")
	var rows int
	require.NoError(t, st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sample_chunks WHERE test_id = $1`, got.ID).Scan(&rows))
	require.Zero(t, rows, "no samples stored")
}
