package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// /metrics reports Pitwall's own work for Prometheus: tests by state,
// agents online and their heartbeats' age, how long tests waited in the
// queue and spent in each state over the last hour, and ingest batches.
func TestOwnMetrics(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: own-metrics
execution: {script: "#!/bin/sh\necho 'Throughput, 5'> results.csv\n"}
statistics: {interval: 200ms}
`)
	test := st.Run(t, wire.RunRequest{Framework: "own-metrics"})
	require.Equal(t, wire.StateFinished, st.Wait(t, test.ID).State)
	want := []string{
		`pitwall_tests{state="finished"}`,
		`pitwall_agents_online 3`,
		`pitwall_agent_heartbeat_age_seconds{agent="` + agentName + `"}`,
		`pitwall_test_queue_wait_seconds{quantile="0.99"}`,
		`pitwall_test_state_seconds{quantile="0.5",state="running"}`,
		`pitwall_ingest_batches_total{kind="samples",outcome="written"}`,
		`pitwall_ops_metrics_up 1`,
	}
	deadline := time.Now().Add(20 * time.Second) // the figures are read at most every 5 s
	var body string
	for {
		resp := get(t, st.URL+"/metrics")
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		body = string(b)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s:\n%s", missing, grepLines(body, "pitwall_"))
		}
		time.Sleep(time.Second)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
