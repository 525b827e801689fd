package crash

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pitwall/pitwall/internal/pgcluster"
	"github.com/pitwall/pitwall/internal/wire"
)

// An agent started with --metrics-listen serves its own metrics: the
// heartbeats it sent and the points it sampled, by source.
func TestAgentServesItsMetrics(t *testing.T) {
	t.Parallel()
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	onlineAgent(t, "metrics-agent", "--metrics-listen", addr)
	apply(t, `
name: crash-agent-metrics
execution:
  hosts: [metrics-agent]
  script: "#!/bin/sh\nsleep 1\n"
statistics: {interval: 200ms}
`)
	id := run(t, "crash-agent-metrics")
	if got := waitState(t, id, time.Minute, func(x *wire.Test) bool { return wire.Ended(x.State) }); got.State != wire.StateFinished {
		t.Fatalf("test %d %s: %s", id, got.State, got.Reason)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, want := range []string{`pitwall_agent_heartbeats_total{outcome="ok"}`, `pitwall_agent_samples_total{source="host"}`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("the agent's /metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}
