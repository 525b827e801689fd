// Package containers runs tests whose system under test and load generator
// are containers, end to end: a real Docker engine (a private dockerd), the
// server and central worker as built binaries, a real Temporal and
// PostgreSQL (e2e/stack), and an agent process that the tests kill -9 and
// restart. The example in examples/http-service is built at two commits of
// a git repository made for the package.
package containers

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/proc"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// agentName is the package's one agent; tests share it, one at a time.
const agentName = "ctr-agent-1"

var (
	st     *stack.Stack
	docker *testenv.Docker
	// example is the http-service repository: commits[0] as the example
	// is, commits[1] with a handler doing 50% more work. The example's own
	// 20% (about 16% end to end) sat inside the noise between two tests of
	// one commit (up to 11%) while other packages loaded the same 2 cores:
	// two of five full runs called it unchanged.
	example string
	commits []string
	// echoRepo is a repository holding a scratch image of the echo server
	// (internal/containers/testdata/echo) at echoCommit.
	echoRepo, echoCommit string
	agent                *proc.Proc
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	docker = testenv.StartDocker(ctx)
	defer docker.Stop()
	var err error
	st, err = stack.Start(ctx, stack.Options{
		Name: "ctr", Binaries: true, Build: []string{"ui", "worker", "starter", "cmd/pitwall-supervise"},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "containers set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	if docker.Err == nil {
		if err := prepare(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "containers set-up: %v\n", err)
			return 1
		}
		defer func() {
			if agent != nil {
				agent.Stop(10 * time.Second)
			}
		}()
	}
	return m.Run()
}

// prepare makes the repositories and starts the agent.
func prepare(ctx context.Context) error {
	example = filepath.Join(st.Dir, "http-service.git")
	// Only stdout holds the commits: on a cold module cache the go builds
	// inside print "go: downloading ..." lines on stderr.
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, "../../examples/http-service/make-repo.sh", example, "--slower=50")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("make-repo.sh: %v: %s", err, stderr.String())
	}
	commits = strings.Fields(string(out))
	if len(commits) != 2 {
		return fmt.Errorf("make-repo.sh printed %q, not two commits", out)
	}
	if echoRepo, echoCommit, err = makeEchoRepo(ctx); err != nil {
		return err
	}
	token, err := st.AgentToken(ctx, agentName)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(st.Dir, agentName+".token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	agent, err = st.Spawn(agentName, "worker", "--role", "agent", "--host", agentName, "--heartbeat", "500ms",
		"--work-dir", filepath.Join(st.Dir, "work-"+agentName), "--agent-token-file", tokenFile,
		"--docker-host", docker.Host())
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var agents struct {
			Items []wire.Agent `json:"items"`
		}
		if _, err := st.Do(ctx, "GET", "/api/v1/agents", "", nil, &agents); err == nil {
			for _, a := range agents.Items {
				if a.Name == agentName && a.Online {
					return nil
				}
			}
		}
		if agent.Exited() || time.Now().After(deadline) {
			return fmt.Errorf("agent not online; its log:\n%s", agent.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// makeEchoRepo builds the echo server statically and commits it with a
// FROM scratch Dockerfile.
func makeEchoRepo(ctx context.Context) (string, string, error) {
	repo := filepath.Join(st.Dir, "echo.git")
	src := filepath.Join(st.Dir, "echo-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", "", err
	}
	code, err := os.ReadFile("../../internal/containers/testdata/echo/main.go.txt")
	if err != nil {
		return "", "", err
	}
	_ = os.WriteFile(filepath.Join(src, "main.go"), code, 0o644)
	_ = os.WriteFile(filepath.Join(src, "go.mod"), []byte("module echo\n\ngo 1.22\n"), 0o644)
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return "", "", err
	}
	run := func(dir string, env []string, argv ...string) (string, error) {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, out.String())
		}
		return strings.TrimSpace(out.String()), nil
	}
	if _, err := run(src, []string{"CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod"}, "go", "build", "-trimpath", "-o", filepath.Join(repo, "echo"), "."); err != nil {
		return "", "", err
	}
	df := "FROM scratch\nCOPY echo /echo\nENTRYPOINT [\"/echo\"]\n"
	if err := os.WriteFile(filepath.Join(repo, "Dockerfile"), []byte(df), 0o644); err != nil {
		return "", "", err
	}
	for _, argv := range [][]string{{"git", "init", "-q", "-b", "main"}, {"git", "add", "-A"},
		{"git", "-c", "user.name=pitwall", "-c", "user.email=pitwall@localhost", "commit", "-q", "-m", "echo"}} {
		if _, err := run(repo, nil, argv...); err != nil {
			return "", "", err
		}
	}
	commit, err := run(repo, nil, "git", "rev-parse", "HEAD")
	return repo, commit, err
}

// needDocker ends a test that needs the engine when there is none: a
// failure under CI, a skip with the reason elsewhere.
func needDocker(t *testing.T) {
	t.Helper()
	docker.Require(t)
}

// apply applies a framework file given as text.
func apply(t *testing.T, yaml string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "fw.yaml")
	require.NoError(t, os.WriteFile(f, []byte(yaml), 0o644))
	r := st.Starter(t, "framework", "apply", "-f", f)
	require.Equal(t, 0, r.Code, r.Stderr)
}

// start starts a test with starter's arguments and returns its ID.
func start(t *testing.T, args ...string) int64 {
	t.Helper()
	r := st.Starter(t, append([]string{"run", "--json"}, args...)...)
	require.Equal(t, 0, r.Code, r.Stderr)
	var test wire.Test
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &test), r.Stdout)
	return test.ID
}

// dockerCLI runs the docker command against the package's engine.
func dockerCLI(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"-H", docker.Host()}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// leftOf lists the containers and networks labelled with the test's ID.
func leftOf(t *testing.T, id int64) string {
	t.Helper()
	label := fmt.Sprintf("label=pitwall.test=%d", id)
	return strings.TrimSpace(dockerCLI(t, "ps", "-aq", "--filter", label) +
		dockerCLI(t, "network", "ls", "-q", "--filter", label))
}

// waitGone waits until nothing of the test is left in the engine.
func waitGone(t *testing.T, id int64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for leftOf(t, id) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("test %d left behind:\n%s\n%s", id, dockerCLI(t, "ps", "-a"), dockerCLI(t, "network", "ls"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// logText is the test's stored output, one "stream: text" line each.
func logText(t *testing.T, id int64) string {
	t.Helper()
	var b strings.Builder
	after := int64(0)
	for {
		var page struct {
			Items []wire.LogLine `json:"items"`
		}
		st.Call(t, "GET", fmt.Sprintf("/api/v1/tests/%d/logs?after=%d&limit=1000", id, after), "", nil, &page)
		for _, l := range page.Items {
			b.WriteString(l.Stream + ": " + l.Line + "\n")
			after = l.ID
		}
		if len(page.Items) < 1000 {
			return b.String()
		}
	}
}
