// Package httpservice tests the http-service example without Docker: both
// programs build as static binaries (what its FROM scratch images copy),
// and the load generator, given exactly the argv and environment the
// framework's load section yields, writes a results.csv that Pitwall reads.
package httpservice

import (
	"bufio"
	"context"
	"debug/elf"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/scrape"
)

// build compiles the module in dir as a static binary and checks that it
// needs no dynamic loader, so FROM scratch can run it.
func build(t *testing.T, dir, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "build %s: %s", dir, b)
	f, err := elf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "%s is dynamically linked", out)
	}
}

// startApp runs the service on a free loopback port and waits until its
// own -check (the readiness command a scratch image can run) passes.
func startApp(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addrRE := regexp.MustCompile(`addr=(\S+)`)
	lines := bufio.NewScanner(stderr)
	var addr string
	for lines.Scan() {
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	require.NotEmpty(t, addr, "the service did not say where it listens")
	go func() {
		for lines.Scan() { // keep draining the log
		}
	}()
	url := "http://" + addr
	require.Eventually(t, func() bool {
		return exec.Command(bin, "-check", url+"/healthz").Run() == nil
	}, 10*time.Second, 50*time.Millisecond)
	return url
}

func TestLoadgenAgainstService(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	appBin, loadBin := filepath.Join(dir, "app"), filepath.Join(dir, "loadgen")
	build(t, "app", appBin)
	build(t, "loadgen", loadBin)
	url := startApp(t, appBin)

	data, err := os.ReadFile("framework.yaml")
	require.NoError(t, err)
	fw, err := framework.Parse(data)
	require.NoError(t, err)
	params, err := fw.ResolveParams(map[string]string{"rate": "50", "duration": "2s"})
	require.NoError(t, err)

	// The argv and environment Pitwall gives the load container, with the
	// service's published address in place of the test network's.
	host, portS, err := net.SplitHostPort(url[len("http://"):])
	require.NoError(t, err)
	port, err := strconv.Atoi(portS)
	require.NoError(t, err)
	resultsDir := t.TempDir()
	argv := framework.LoadArgv(fw.Load.Command, fw.Execution.Args, params)
	require.Equal(t, "/loadgen", argv[0])
	env := append(framework.ServiceEnv(fw.Services, map[string]framework.Endpoint{"app": {Host: host, Port: port}}),
		framework.ParamEnv(params)...)
	env = append(env, "PITWALL_RESULTS_DIR="+resultsDir, "PATH="+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, loadBin, argv[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	csv, err := os.ReadFile(filepath.Join(resultsDir, "results.csv"))
	require.NoError(t, err)
	kpis, notes := results.ParseKPIs("results.csv", csv)
	require.Empty(t, notes, "%s", csv)
	declared := map[string]string{}
	for _, k := range fw.KPIs {
		declared[k.Name] = k.Unit
	}
	require.Empty(t, results.ApplyUnits("results.csv", kpis, declared), "%s", csv)
	got := map[string]results.KPI{}
	for _, k := range kpis {
		got[k.Name] = k
	}
	for _, k := range fw.KPIs {
		require.Contains(t, got, k.Name, "every KPI the framework declares is reported: %s", csv)
	}
	require.Equal(t, 0.0, got["ErrorRate"].Value, "%s", csv)
	// Vegeta stops at its duration even if a loaded machine kept it from
	// sending every request: at most 50/s for 2 s.
	require.Greater(t, got["Requests"].Value, 0.0, "%s", csv)
	require.LessOrEqual(t, got["Requests"].Value, 100.0, "50/s for 2s: %s", csv)
	require.Greater(t, got["Throughput"].Value, 0.0, "%s", csv) // a wall-clock figure: a loaded machine lowers it
	require.LessOrEqual(t, got["Throughput"].Value, 51.0, "no more than the rate: %s", csv)
	require.Greater(t, got["LatencyP50"].Value, 0.0)
	require.LessOrEqual(t, got["LatencyP50"].Value, got["LatencyP90"].Value)
	require.LessOrEqual(t, got["LatencyP90"].Value, got["LatencyP99"].Value)

	// The service's /metrics counted the load, read as Pitwall scrapes it.
	scraped, err := (&scrape.Scraper{}).Scrape(ctx, url+fw.Services[0].Metrics)
	require.NoError(t, err)
	var served float64
	for _, s := range scraped.Samples {
		if s.Name == `prom.app_requests_total{code="200",path="/work"}` {
			served = s.Value
		}
	}
	require.Equal(t, 100.0, served)
}

func TestLoadgenReportsAnUnreachableService(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	loadBin := filepath.Join(dir, "loadgen")
	build(t, "loadgen", loadBin)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	cmd := exec.Command(loadBin, "--rate", "5", "--duration", "1s", "-timeout", "1s")
	cmd.Env = []string{"PITWALL_SERVICE_APP_URL=" + dead, "PITWALL_RESULTS_DIR=" + dir}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	require.Equal(t, 1, exit.ExitCode(), "%s", out)
	csv, err := os.ReadFile(filepath.Join(dir, "results.csv"))
	require.NoError(t, err, "the results are written even when every request failed")
	kpis, notes := results.ParseKPIs("results.csv", csv)
	require.Empty(t, notes)
	for _, k := range kpis {
		if k.Name == "ErrorRate" {
			require.Equal(t, 100.0, k.Value)
		}
	}

	cmd = exec.Command(loadBin, "--rate", "0")
	cmd.Env = []string{"PITWALL_SERVICE_APP_URL=" + dead}
	out, err = cmd.CombinedOutput()
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 2, exit.ExitCode(), "bad usage: %s", out)
}

func TestMakeRepoTwoCommits(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI needs git (.ci/run installs it)")
		}
		t.Skip("git is not installed")
	}
	repo := filepath.Join(t.TempDir(), "http-service.git")
	out, err := exec.Command("./make-repo.sh", repo, "--slower").CombinedOutput()
	require.NoError(t, err, "%s", out)
	commits := regexp.MustCompile(`(?m)^[0-9a-f]{40}$`).FindAllString(string(out), -1)
	require.Len(t, commits, 2, "%s", out)

	show := func(commit, path string) string {
		b, err := exec.Command("git", "-C", repo, "show", commit+":"+path).Output()
		require.NoError(t, err, path)
		return string(b)
	}
	roundsRE := regexp.MustCompile(`(?m)^const workRounds = (\d+)$`)
	m := roundsRE.FindStringSubmatch(show(commits[0], "app/main.go"))
	require.NotNil(t, m)
	rounds, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	m = roundsRE.FindStringSubmatch(show(commits[1], "app/main.go"))
	require.NotNil(t, m)
	require.Equal(t, strconv.Itoa(rounds*12/10), m[1], "20% more work at the second commit")
	for _, c := range commits {
		for _, bin := range []string{"app/app", "loadgen/loadgen"} {
			require.NotEmpty(t, show(c, bin), "%s holds the static binary its Dockerfile copies", c)
		}
	}
	require.NotEqual(t, show(commits[0], "app/app"), show(commits[1], "app/app"), "the binary is rebuilt at the second commit")
}

// The multi-host variant parses, and the load generator's -hdr file and
// -hlog log hold every request's latency (the log in intervals of a
// second), which Pitwall reads as a multi-host test's merge does.
func TestMultihostVariant(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("framework-multihost.yaml")
	require.NoError(t, err)
	fw, err := framework.Parse(data)
	require.NoError(t, err)
	require.Len(t, fw.Roles, 2)
	require.Equal(t, "latency.hlog", fw.Roles[1].Merge[0].File)
	require.True(t, fw.Roles[1].Merge[2].Aborts())

	dir := t.TempDir()
	appBin, loadBin := filepath.Join(dir, "app"), filepath.Join(dir, "loadgen")
	build(t, "app", appBin)
	build(t, "loadgen", loadBin)
	url := startApp(t, appBin)
	hdr, hlog := filepath.Join(dir, "latency.hdr"), filepath.Join(dir, "latency.hlog")
	cmd := exec.Command(loadBin, "-target", url, "-rate", "50", "-duration", "2s", "-hdr", hdr, "-hlog", hlog)
	cmd.Env = []string{"PITWALL_RESULTS_DIR=" + dir}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	b, err := os.ReadFile(hdr)
	require.NoError(t, err)
	h, err := results.ReadHistogram(b)
	require.NoError(t, err)
	// As many as the results say were sent (vegeta stops at its duration,
	// so a loaded machine can send fewer than 50/s for 2 s).
	csv, err := os.ReadFile(filepath.Join(dir, "results.csv"))
	require.NoError(t, err)
	kpis, _ := results.ParseKPIs("results.csv", csv)
	sent := -1.0
	for _, k := range kpis {
		if k.Name == "Requests" {
			sent = k.Value
		}
	}
	require.Greater(t, sent, 0.0, "%s", csv)
	require.LessOrEqual(t, sent, 100.0, "%s", csv)
	require.Equal(t, int64(sent), h.TotalCount(), "every request's latency is in the histogram")
	require.Greater(t, h.ValueAtPercentile(99), int64(0))
	b, err = os.ReadFile(hlog)
	require.NoError(t, err)
	fromLog, err := results.ReadHistogram(b)
	require.NoError(t, err)
	require.True(t, h.Equals(fromLog), "the log's intervals add up to the same histogram:\n%s", b)
	require.GreaterOrEqual(t, strings.Count(string(b), "\n0.")+strings.Count(string(b), "\n1."), 2, "one interval a second:\n%s", b)
}
