package multihost

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// examples/http-service/framework-multihost.yaml runs as it is (its roles
// pinned to this package's agents): the service on the sut host, loadgen
// on both load hosts, latency percentiles merged from the hosts'
// histograms and throughput summed.
func TestHTTPServiceExample(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI needs git (.ci/run installs it)")
		}
		t.Skip("git is not installed")
	}
	repo := filepath.Join(testenv.ScriptDir(t), "http-service.git")
	// Only stdout holds the commit: on a cold module cache the go builds
	// inside print "go: downloading ..." lines on stderr.
	var stderr strings.Builder
	cmd := exec.Command("../../examples/http-service/make-repo.sh", repo)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s", stderr.String())
	commit := strings.TrimSpace(string(out))

	b, err := os.ReadFile("../../examples/http-service/framework-multihost.yaml")
	require.NoError(t, err)
	fw := string(b)
	for _, r := range []struct{ from, to string }{
		{"    count: 1\n    labels: {pitwall-example: sut}\n", fmt.Sprintf("    hosts: [%s]\n", sutHost)},
		{"    count: 2\n    labels: {pitwall-example: load}\n", fmt.Sprintf("    hosts: [%s, %s]\n", load1, load2)},
	} {
		require.Contains(t, fw, r.from)
		fw = strings.Replace(fw, r.from, r.to, 1)
	}
	st.Apply(t, fw)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	require.NoError(t, ln.Close())

	got := st.Run(t, wire.RunRequest{Framework: "http-service-multihost", Commit: commit, Params: map[string]string{
		"rate": "50", "duration": "3s", "port": port, "sut_address": "127.0.0.1", "repo": repo}})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	// Vegeta stops at its duration even when a loaded machine kept it
	// from sending every request: at most 150 a host, summed exactly.
	r1, r2 := kpiValue(t, got, "Requests@"+load1), kpiValue(t, got, "Requests@"+load2)
	for _, r := range []float64{r1, r2} {
		require.Greater(t, r, 0.0)
		require.LessOrEqual(t, r, 150.0, "50/s for 3 s")
	}
	require.Equal(t, r1+r2, kpiValue(t, got, "Requests"), "the test's requests are the sum of its load hosts'")
	require.Equal(t, 0.0, kpiValue(t, got, "ErrorRate"))
	// Throughput is vegeta's successes over the attack plus the last
	// response's wait: a wall-clock figure a loaded machine lowers, so the
	// test checks the merge (the hosts' sum), not a speed.
	t1, t2 := kpiValue(t, got, "Throughput@"+load1), kpiValue(t, got, "Throughput@"+load2)
	require.Greater(t, t1, 0.0)
	require.Greater(t, t2, 0.0)
	require.InDelta(t, t1+t2, kpiValue(t, got, "Throughput"), 0.01, "the test's throughput is the sum of its load hosts'")
	p99 := kpiValue(t, got, "LatencyP99")
	p1, p2 := kpiValue(t, got, "LatencyP99@"+load1), kpiValue(t, got, "LatencyP99@"+load2)
	require.GreaterOrEqual(t, p99, min(p1, p2))
	require.LessOrEqual(t, p99, max(p1, p2))
	require.LessOrEqual(t, kpiValue(t, got, "LatencyP50"), kpiValue(t, got, "LatencyP90"))
	start1, start2 := stageAt(t, got, "load "+load1+" started"), stageAt(t, got, "load "+load2+" started")
	t.Logf("http-service on three agents: load started within %s; p99 merged %.0f µs, %s %.0f µs, %s %.0f µs, naive average %.0f µs; throughput %.1f req/s",
		start1.Sub(start2).Abs(), p99, load1, p1, load2, p2, (p1+p2)/2, kpiValue(t, got, "Throughput"))
}
