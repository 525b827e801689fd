// Package crash kills Pitwall's real processes (kill -9) and restarts
// PostgreSQL in the middle of tests, and checks that every test still ends
// in a true state with nothing lost. The server, worker and starter run as
// built binaries; Temporal is the Temporal CLI's dev server.
package crash

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pitwall/pitwall/internal/pgcluster"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// adminToken is the bootstrap token the server starts with.
const adminToken = "pwt_crash-bootstrap-token-0123456789abcdef"

// env is what the package's tests share.
var env struct {
	tmp       string
	bin       string
	pg        *pgcluster.Cluster
	pgOpts    pgcluster.Options
	dbURL     string
	pool      *pgxpool.Pool
	temporal  string
	namespace string
	listen    string
	server    string
	srv       *proc
	central   *proc
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	ctx := context.Background()
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "crash set-up: "+format+"\n", args...)
		return 1
	}
	var err error
	if env.tmp, err = os.MkdirTemp("", "pitwall-crash-"); err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(env.tmp)
	_ = os.Chmod(env.tmp, 0o755)
	env.bin = filepath.Join(env.tmp, "bin")
	build := exec.Command("go", "build", "-o", env.bin+"/", "github.com/pitwall/pitwall/ui",
		"github.com/pitwall/pitwall/worker", "github.com/pitwall/pitwall/starter")
	var out bytes.Buffer
	build.Stdout, build.Stderr = &out, &out
	if err := build.Start(); err != nil {
		return fail("build: %v", err)
	}

	env.pgOpts = pgcluster.Options{Root: filepath.Join(env.tmp, "pg")}
	if env.pg, err = pgcluster.Start(ctx, env.pgOpts); err != nil {
		return fail("%v", err)
	}
	env.pgOpts.Port = env.pg.Port()
	defer func() { _ = env.pg.Stop() }()
	if err := env.pg.CreateDatabase(ctx, "pitwall"); err != nil {
		return fail("%v", err)
	}
	env.dbURL = env.pg.URL("pitwall")
	ts, err := testenv.Temporal(ctx)
	if err != nil {
		return fail("%v", err)
	}
	defer ts.Stop()
	env.temporal, env.namespace = ts.Address(), ts.Namespace()
	if err := build.Wait(); err != nil {
		return fail("build: %v\n%s", err, out.String())
	}

	env.listen = freeAddr()
	env.server = "http://" + env.listen
	env.srv = start("server", "ui")
	defer func() { env.srv.stop() }()
	env.central = start("central", "worker", "--role", "central")
	defer func() { env.central.stop() }()
	if err := waitHTTP(env.server+"/healthz", 60*time.Second); err != nil {
		return fail("%v; server log:\n%s", err, env.srv.log())
	}
	if env.pool, err = store.Connect(ctx, env.dbURL); err != nil {
		return fail("%v", err)
	}
	defer env.pool.Close()
	return m.Run()
}

// proc is a Pitwall binary running as its own process.
type proc struct {
	name    string
	args    []string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// start runs a built binary with the package's settings.
func start(name, bin string, args ...string) *proc {
	p := &proc{name: name, args: append([]string{filepath.Join(env.bin, bin)}, args...),
		logPath: filepath.Join(env.tmp, name+".log")}
	p.run()
	return p
}

func (p *proc) run() {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		panic(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(p.args[0], p.args[1:]...)
	p.cmd.Env = append(os.Environ(),
		"PITWALL_DATABASE_URL="+env.dbURL,
		"TEMPORAL_ADDRESS="+env.temporal,
		"TEMPORAL_NAMESPACE="+env.namespace,
		"PITWALL_LISTEN="+env.listen,
		"PITWALL_SERVER="+env.server,
		"PITWALL_BOOTSTRAP_TOKEN="+adminToken,
		"PITWALL_ADMIN_PASSWORD=crash admin password",
		"PITWALL_TOKEN="+adminToken,
	)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		panic(err)
	}
	p.done = make(chan struct{})
	done := p.done
	go func() { _ = p.cmd.Wait(); close(done) }()
}

// kill9 kills the process as a crash would, with no chance to clean up.
func (p *proc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) restart() { p.run() }

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill9()
	}
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// agent starts an agent process with its own name, token and work directory.
func agent(name string) *proc {
	return start(name, "worker", "--role", "agent", "--host", name, "--heartbeat", "500ms",
		"--work-dir", filepath.Join(env.tmp, "work-"+name), "--agent-token", agentToken(name),
		// The scripts here write to the test's temporary directories.
		"--script-user", "root")
}

// onlineAgent starts an agent for one test, waits until the server lists
// it as online, and stops it when the test ends.
func onlineAgent(t *testing.T, name string) *proc {
	t.Helper()
	ag := agent(name)
	t.Cleanup(ag.stop)
	waitAgentOnline(t, name)
	return ag
}

// agentToken asks the server for an agent's token.
func agentToken(name string) string {
	body, _ := json.Marshal(map[string]string{"agent": name})
	req, _ := http.NewRequest(http.MethodPost, env.server+"/api/v1/agent-tokens", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		panic(fmt.Sprintf("agent token: %s %v", resp.Status, err))
	}
	return out.Token
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHTTP(url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer 200 within %s", url, limit)
}

// waitAgentOnline waits until the server lists the agent as online.
func waitAgentOnline(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var list wire.List[wire.Agent]
		if getJSON("/api/v1/agents", &list) == nil {
			for _, a := range list.Items {
				if a.Name == name && a.Online {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("agent %s did not come online", name)
}

func getJSON(path string, out any) error {
	req, _ := http.NewRequest(http.MethodGet, env.server+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.Unmarshal(b, out)
}

// starter runs the built starter binary against the server.
func starter(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(env.bin, "starter"), args...)
	cmd.Env = append(os.Environ(), "PITWALL_SERVER="+env.server, "PITWALL_TOKEN="+adminToken)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// apply applies a framework file given as text.
func apply(t *testing.T, yaml string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "fw.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := starter(t, "framework", "apply", "-f", f); code != 0 {
		t.Fatalf("apply: %s", stderr)
	}
}

// run starts a test and returns its ID.
func run(t *testing.T, framework string) int64 {
	t.Helper()
	code, out, stderr := starter(t, "run", framework, "--json")
	if code != 0 {
		t.Fatalf("run: %s", stderr)
	}
	var test wire.Test
	if err := json.Unmarshal([]byte(out), &test); err != nil {
		t.Fatal(err)
	}
	return test.ID
}

// waitState polls the test (riding out a server that is down) until cond holds.
func waitState(t *testing.T, id int64, limit time.Duration, cond func(*wire.Test) bool) *wire.Test {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last wire.Test
	for time.Now().Before(deadline) {
		var got wire.Test
		if getJSON(fmt.Sprintf("/api/v1/tests/%d", id), &got) == nil {
			last = got
			if cond(&got) {
				return &got
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("test %d: condition not met within %s; last state %s (%s)", id, limit, last.State, last.Reason)
	return nil
}

func ended(x *wire.Test) bool { return wire.Ended(x.State) }

func running(x *wire.Test) bool { return x.State == wire.StateRunning }

func hasStage(x *wire.Test, name string) bool {
	for _, s := range x.Timeline {
		if strings.HasPrefix(s.Stage, name) {
			return true
		}
	}
	return false
}
