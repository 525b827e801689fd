package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// project is the compose project the test brings up and down.
const project = "pitwalle2e"

// cacheDir keeps what a later run can reuse: the Debian tarball, the Docker
// engine's images and build cache (not containers or volumes).
func cacheDir() string {
	if d := os.Getenv("PITWALL_COMPOSE_CACHE"); d != "" {
		return d
	}
	return "/var/tmp/pitwall-compose"
}

// missing fails in CI, where everything must be installed (.ci/run does),
// and skips elsewhere, saying what is missing.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI installs it: .ci/run)", msg)
	}
	t.Skipf("%s; skipping the compose deployment test", msg)
}

// stack is a running compose deployment and the engine under it.
type stack struct {
	t       *testing.T
	root    string
	env     []string
	compose []string
	ports   map[string]int
	token   string
}

// TestComposeRunsATest builds the images with no registry, starts
// docker-compose.yml on a Docker engine of its own, enrols the agent, runs
// the sample framework from the host with starter, and checks Temporal's
// authorizer against the agent's own certificate. `go test -v` logs `docker
// ps` and the finished test's ID.
func TestComposeRunsATest(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not starting the compose deployment")
	}
	// Building the images cold (Debian packages in three of them) and
	// starting the stack take minutes: Taskfile's test gives the suite 20.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := setupStack(ctx, t)

	start := time.Now()
	s.run(ctx, "up", append(s.compose, "up", "-d")...)
	s.waitAgentOnline(ctx)
	t.Logf("stack up and agent-1 online in %s", time.Since(start).Round(time.Second))

	starter := filepath.Join(t.TempDir(), "starter")
	s.run(ctx, "build starter", "go", "build", "-o", starter, "./starter")
	s.run(ctx, "apply", starter, "framework", "apply", "-f", "examples/sample/framework.yaml")
	out := s.run(ctx, "run", starter, "run", "sample", "-p", "iterations=20000", "-p", "file_mb=1", "--wait", "--json")
	var test struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
		KPIs  []struct {
			Name string `json:"name"`
		} `json:"kpis"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &test), out)
	require.Equal(t, "finished", test.State, out)
	require.NotEmpty(t, test.KPIs, out)

	isolationID := s.checkScriptIsolation(ctx, starter)
	s.checkTemporalAuthz(ctx, test.ID)
	s.checkTemporalListens(ctx)
	s.checkPrometheusScrapes(ctx)
	s.checkSecretsKey(ctx)
	// What Pitwall's own processes call is allowed, the agent's goodbye
	// (ShutdownWorker) included: none of them was refused.
	ps := s.run(ctx, "docker ps", "docker", "ps", "--format", "table {{.Names}}\t{{.Image}}\t{{.Status}}\t{{.Ports}}")
	s.run(ctx, "stop the agent", append(s.compose, "stop", "-t", "20", "pitwall-agent")...)
	for _, svc := range []string{"pitwall-agent", "pitwall-worker", "pitwall-server"} {
		logs := s.run(ctx, "logs of "+svc, append(s.compose, "logs", "--no-color", svc)...)
		require.NotContains(t, logs, "PermissionDenied", "%s was refused a Temporal call:\n%s", svc, logs)
		require.NotContains(t, logs, "Request unauthorized", "%s was refused a Temporal call:\n%s", svc, logs)
	}

	secondID := s.checkRestart(ctx, starter, isolationID)
	t.Logf("docker ps (before the agent was stopped):\n%s", ps)
	t.Logf("finished test IDs %d (sample, state %s, %d KPIs), %d (isolation) and, after down and up, %d (sample); %s from the start of the stack",
		test.ID, test.State, len(test.KPIs), isolationID, secondID, time.Since(start).Round(time.Second))
}

// setupStack checks what the test needs, starts a Docker engine of its own,
// builds the images and registers the teardown.
func setupStack(ctx context.Context, t *testing.T) *stack {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "not root: the Docker engine and debootstrap need root")
	}
	for _, bin := range []string{"dockerd", "docker", "containerd", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing(t, "%s not found (Debian: apt-get install docker.io)", bin)
		}
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	cache := cacheDir()
	if _, err := os.Stat(filepath.Join(cache, "bookworm-minbase.tar")); err != nil {
		if _, err := exec.LookPath("debootstrap"); err != nil {
			missing(t, "debootstrap not found and no Debian tarball in %s (Debian: apt-get install debootstrap)", cache)
		}
	}
	require.NoError(t, os.MkdirAll(cache, 0o755))
	sock := startDockerd(t, cache)
	s := &stack{t: t, root: root, token: secret(24),
		env: append(os.Environ(), "DOCKER_HOST=unix://"+sock, "PITWALL_COMPOSE_CACHE="+cache)}
	s.compose = composeCommand(t, s.env)
	s.ports = map[string]int{"PITWALL_PORT": freePort(t), "TEMPORAL_PORT": freePort(t),
		"TEMPORAL_UI_PORT": freePort(t), "PROMETHEUS_PORT": freePort(t)}
	for k, v := range s.ports {
		s.env = append(s.env, k+"="+strconv.Itoa(v))
	}
	s.env = append(s.env, "COMPOSE_PROJECT_NAME="+project,
		"PITWALL_DB_PASSWORD="+secret(16), "TEMPORAL_DB_PASSWORD="+secret(16),
		"PITWALL_BOOTSTRAP_TOKEN="+s.token, "PITWALL_ADMIN_PASSWORD="+secret(12),
		"PITWALL_PUBLIC_URL="+s.url(),
		"PITWALL_SERVER="+s.url(), "PITWALL_TOKEN="+s.token)

	// A run that was killed left its containers and volumes (a database
	// made with that run's passwords) behind: start from none of them.
	if out, err := s.exec(ctx, append(s.compose, "down", "-v", "--remove-orphans", "-t", "5")...); err != nil {
		t.Logf("compose down of a killed run's leftovers: %v\n%s", err, out)
	}
	start := time.Now()
	s.run(ctx, "build images", "deploy/images/build.sh")
	t.Logf("images built in %s", time.Since(start).Round(time.Second))
	t.Cleanup(s.down)
	return s
}

func (s *stack) url() string { return "http://127.0.0.1:" + strconv.Itoa(s.ports["PITWALL_PORT"]) }

// down keeps the logs of a failed run, then removes containers, networks
// and volumes. Images stay in the engine's data root, for the next run.
func (s *stack) down() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logs, _ := s.exec(ctx, append(s.compose, "logs", "--no-color", "--timestamps")...)
	saved := filepath.Join(cacheDir(), "compose-last-run.log")
	_ = os.WriteFile(saved, []byte(logs), 0o600)
	if s.t.Failed() {
		s.t.Logf("compose logs (all of them in %s):\n%s", saved, tail(logs, 20000))
	}
	if out, err := s.exec(ctx, append(s.compose, "down", "-v", "--remove-orphans", "-t", "5")...); err != nil {
		s.t.Errorf("compose down: %v\n%s", err, out)
	}
}

// exec runs a command in the repository with the stack's environment.
func (s *stack) exec(ctx context.Context, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = s.root, s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// run is exec that fails the test, showing the command's output.
func (s *stack) run(ctx context.Context, what string, argv ...string) string {
	s.t.Helper()
	out, err := s.exec(ctx, argv...)
	require.NoError(s.t, err, "%s (%s):\n%s", what, strings.Join(argv, " "), out)
	return out
}

// waitAgentOnline waits until the agent, enrolled by the agent-token
// service, heartbeats to the server with its token.
func (s *stack) waitAgentOnline(ctx context.Context) {
	s.t.Helper()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url()+"/api/v1/agents", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var list struct {
				Items []struct {
					Name   string `json:"name"`
					Online bool   `json:"online"`
				} `json:"items"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			for _, a := range list.Items {
				if a.Name == "agent-1" && a.Online {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("agent-1 never came online")
		case <-time.After(time.Second):
		}
	}
}

// checkTemporalAuthz dials Temporal from the host, as a process on an
// agent's host could, with agent-1's certificate taken from its container.
func (s *stack) checkTemporalAuthz(ctx context.Context, testID int64) {
	s.t.Helper()
	agentPKI, operatorPKI := s.t.TempDir(), s.t.TempDir()
	s.copyFromService(ctx, "pitwall-agent", "/pki/.", agentPKI)
	s.copyFromService(ctx, "temporal-ui", "/pki/.", operatorPKI)
	addr := "127.0.0.1:" + strconv.Itoa(s.ports["TEMPORAL_PORT"])

	// No certificate: the handshake is refused.
	_, err := dialTemporal(addr, "", false).GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	require.Error(s.t, err, "a client without a certificate must be refused")
	s.t.Logf("no client certificate: %v", err)

	agent := dialTemporal(addr, agentPKI, true)
	poll := func(queue string) error {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := agent.PollActivityTaskQueue(pctx, &workflowservice.PollActivityTaskQueueRequest{
			Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, Identity: "compose-test"})
		return err
	}
	// Its own queue: allowed (nothing waits there now, so the long poll ends
	// empty or at the deadline).
	if err := poll("agent.agent-1"); err != nil {
		require.Equal(s.t, codes.DeadlineExceeded, status.Code(err), "agent-1 polling its own queue: %v", err)
	}
	err = poll("agent.agent-2")
	require.Equal(s.t, codes.PermissionDenied, status.Code(err), "agent-1 polling agent.agent-2: %v", err)
	s.t.Logf("agent-1's certificate polling agent.agent-2: %v", err)
	_, err = agent.GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{Namespace: "default"})
	require.Equal(s.t, codes.PermissionDenied, status.Code(err), "agent-1 reading a history: %v", err)

	// The operator (the UI's certificate) sees the test's workflow.
	list, err := dialTemporal(addr, operatorPKI, true).ListWorkflowExecutions(ctx,
		&workflowservice.ListWorkflowExecutionsRequest{Namespace: "default"})
	require.NoError(s.t, err)
	var ids []string
	for _, e := range list.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	require.Contains(s.t, ids, fmt.Sprintf("perftest-%d", testID))

	// The Temporal UI reaches Temporal with the operator's certificate.
	uiURL := fmt.Sprintf("http://127.0.0.1:%d/api/v1/namespaces/default/workflows", s.ports["TEMPORAL_UI_PORT"])
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, uiURL, nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(s.t, http.StatusOK, resp.StatusCode, "%s: %s", uiURL, body)
	require.Contains(s.t, string(body), fmt.Sprintf("perftest-%d", testID))
}

// isolationFramework's script, run by the agent as a user of its test's
// own, must not read the agent's token or Temporal key, nor find
// PostgreSQL on its network; it fails the test if it can.
const isolationFramework = `name: isolation
title: What a script on the compose agent can reach
team: default
execution:
  script: |
    #!/bin/sh
    for f in /run/pitwall/agent-token /pki/key.pem; do
      if cat "$f" >/dev/null 2>&1; then echo "read $f"; exit 1; fi
    done
    if getent hosts postgres >/dev/null; then echo "postgres is on the agent's network"; exit 1; fi
    echo "uid $(id -u)"
    printf 'Key, Value\nIsolated, 1\n' > results.csv
  timeout: 1m
`

func (s *stack) checkScriptIsolation(ctx context.Context, starter string) int64 {
	s.t.Helper()
	file := filepath.Join(s.t.TempDir(), "isolation.yaml")
	require.NoError(s.t, os.WriteFile(file, []byte(isolationFramework), 0o644))
	s.run(ctx, "apply isolation", starter, "framework", "apply", "-f", file)
	out, err := s.exec(ctx, starter, "run", "isolation", "--wait", "--json")
	require.NoError(s.t, err, "a script on the agent reached what it must not:\n%s", out)
	var test struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	require.NoError(s.t, json.Unmarshal([]byte(out), &test), out)
	require.Equal(s.t, "finished", test.State, out)
	s.t.Logf("isolation test %d: the agent's script read neither the token nor the key and found no postgres", test.ID)
	return test.ID
}

// checkPrometheusScrapes waits (two scrape intervals at most) until
// Prometheus has scraped the Pitwall server, the central worker and the
// agent, and the agent's own figures are there.
func (s *stack) checkPrometheusScrapes(ctx context.Context) {
	s.t.Helper()
	ask := func(query string) string {
		u := fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?%s", s.ports["PROMETHEUS_PORT"], url.Values{"query": {query}}.Encode())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, job := range []string{"pitwall", "pitwall-worker", "pitwall-agent"} {
		for {
			body := ask(fmt.Sprintf(`up{job=%q}`, job))
			if strings.Contains(body, `"value":[`) && strings.Contains(body, `"1"]`) {
				break
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("Prometheus never scraped %s: %s", job, body)
			}
			time.Sleep(2 * time.Second)
		}
	}
	body := ask(`pitwall_agent_heartbeats_total{job="pitwall-agent",outcome="ok"}`)
	require.Contains(s.t, body, `"instance":"pitwall-agent:9464"`, "the agent's heartbeats, as Prometheus scraped them")
	s.t.Logf("Prometheus scrapes the server, the central worker and the agent: %s", body)
}

// checkSecretsKey connects the default team to GitHub: the server holds
// the secrets key the pki step made (without it the answer is 503).
func (s *stack) checkSecretsKey(ctx context.Context) {
	s.t.Helper()
	body := `{"token":"ghp_compose","webhook_secret":"compose webhook secret 0123456789"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, s.url()+"/api/v1/teams/default/github", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(s.t, http.StatusOK, resp.StatusCode, "connect to GitHub: %s", b)
	require.NotContains(s.t, string(b), "ghp_compose", "the token is never shown again")
}

// checkRestart takes the stack down, keeping its volumes, and up again:
// the set-up steps keep what they made (certificates, the agent's token,
// the databases and Temporal's schema) and a second test runs.
func (s *stack) checkRestart(ctx context.Context, starter string, lastID int64) int64 {
	s.t.Helper()
	start := time.Now()
	s.run(ctx, "down", append(s.compose, "down", "-t", "10")...)
	s.run(ctx, "up again", append(s.compose, "up", "-d")...)
	s.waitAgentOnline(ctx)
	out := s.run(ctx, "run again", starter, "run", "sample", "-p", "iterations=20000", "-p", "file_mb=1", "--wait", "--json")
	var test struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	require.NoError(s.t, json.Unmarshal([]byte(out), &test), out)
	require.Equal(s.t, "finished", test.State, out)
	require.Equal(s.t, lastID+1, test.ID, "the database outlived the restart")
	logs := s.run(ctx, "agent-token's log", append(s.compose, "logs", "--no-color", "agent-token")...)
	require.Contains(s.t, logs, "already holds a token; kept")
	s.t.Logf("down and up again, test %d finished, in %s", test.ID, time.Since(start).Round(time.Second))
	return test.ID
}

// checkTemporalListens reads the Temporal container's listening sockets
// from the host: only the frontend (7233, mutual TLS) may listen beyond
// loopback; history, matching, the internal frontend and metrics may not,
// and there is no membership gossip port.
func (s *stack) checkTemporalListens(ctx context.Context) {
	s.t.Helper()
	id := strings.Fields(s.containerID(ctx, "temporal"))[0]
	pid := strings.TrimSpace(s.run(ctx, "temporal's pid", "docker", "inspect", "-f", "{{.State.Pid}}", id))
	var listening []string
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join("/proc", pid, "net", f))
		require.NoError(s.t, err)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			addr, portHex, _ := strings.Cut(fields[1], ":")
			port, _ := strconv.ParseUint(portHex, 16, 16)
			// 127.0.0.0/8 (little-endian hex; Docker's DNS is on 127.0.0.11) or ::1.
			loopback := len(addr) == 8 && strings.HasSuffix(addr, "7F") || addr == "00000000000000000000000001000000"
			listening = append(listening, fmt.Sprintf("%s:%d", map[bool]string{true: "loopback", false: "any"}[loopback], port))
			require.True(s.t, loopback || port == 7233, "temporal listens on %s port %d beyond loopback", addr, port)
		}
	}
	require.Contains(s.t, listening, "any:7233")
	s.t.Logf("temporal listens on %v", listening)
}

func (s *stack) containerID(ctx context.Context, service string) string {
	s.t.Helper()
	id := strings.TrimSpace(s.run(ctx, "find "+service, "docker", "ps", "-q",
		"--filter", "label=com.docker.compose.project="+project,
		"--filter", "label=com.docker.compose.service="+service))
	require.NotEmpty(s.t, id, "no container for %s", service)
	return id
}

// copyFromService copies a path out of a service's container.
func (s *stack) copyFromService(ctx context.Context, service, path, dir string) {
	s.t.Helper()
	id := s.containerID(ctx, service)
	s.run(ctx, "copy from "+service, "docker", "cp", strings.Fields(id)[0]+":"+path, dir)
}

// dialTemporal is a raw WorkflowService client, with the client
// certificate in dir when withCert.
func dialTemporal(addr, dir string, withCert bool) workflowservice.WorkflowServiceClient {
	cfg := &tls.Config{ServerName: "temporal", MinVersion: tls.VersionTLS12}
	if withCert {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
		if err != nil {
			panic(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
		ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
		if err != nil {
			panic(err)
		}
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(ca)
	} else {
		cfg.InsecureSkipVerify = true // only the client side's refusal is under test
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		panic(err)
	}
	return workflowservice.NewWorkflowServiceClient(conn)
}

// startDockerd starts an engine whose images and build cache live in the
// cache folder and whose state (sockets, containers' runtime files) lives
// in a temporary one; it is stopped when the test ends.
func startDockerd(t *testing.T, cache string) string {
	t.Helper()
	run := filepath.Join(os.TempDir(), "pitwall-dockerd-"+secret(4))
	require.NoError(t, os.MkdirAll(run, 0o700))
	sock := filepath.Join(run, "docker.sock")
	logf, err := os.Create(filepath.Join(cache, "dockerd.log"))
	require.NoError(t, err)
	cmd := exec.Command("dockerd", "--host", "unix://"+sock,
		"--data-root", filepath.Join(cache, "docker-data"), "--exec-root", filepath.Join(run, "exec"),
		"--pidfile", filepath.Join(run, "docker.pid"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		os.RemoveAll(run)
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command("docker", "-H", "unix://"+sock, "version", "--format", "{{.Server.Version}}").CombinedOutput()
		if err == nil {
			t.Logf("dockerd %s on %s", strings.TrimSpace(string(out)), sock)
			return sock
		}
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(cache, "dockerd.log"))
			missing(t, "dockerd exited (%v): %s", err, tail(string(log), 2000))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			missing(t, "dockerd did not answer in 30 s: %s", out)
		}
	}
}

// composeCommand is Docker Compose v2 (the docker CLI plugin) when
// present, else Debian's docker-compose (v1), which runs the file too.
func composeCommand(t *testing.T, env []string) []string {
	t.Helper()
	cmd := exec.Command("docker", "compose", "version")
	cmd.Env = env
	if cmd.Run() == nil {
		return []string{"docker", "compose", "-p", project}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose", "-p", project}
	}
	missing(t, "neither `docker compose` nor docker-compose found (Debian: apt-get install docker-compose)")
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// secret is n random bytes in hex: URL-safe, as the database URL needs.
func secret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
