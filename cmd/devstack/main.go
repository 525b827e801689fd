// Command devstack runs Pitwall's whole stack on one machine, on embedded
// defaults: a private PostgreSQL cluster and a Temporal dev server under
// .pitwall/, the worker in both roles for this host, and the server. With
// --demo it also runs the sample test. Ctrl-C or SIGTERM stops everything
// it started. `go tool task dev` and `go tool task demo` run it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pitwall/pitwall/internal/config"
	"github.com/pitwall/pitwall/internal/proc"
	"github.com/pitwall/pitwall/internal/reach"
	"github.com/pitwall/pitwall/internal/temporaldev"
)

type options struct {
	dir        string
	listen     string
	pgPort     int
	tempPort   int
	tempUIPort int
	demo       bool
	once       bool
	// buildOnly builds Pitwall's Temporal server into the state directory's
	// bin and exits: `task temporal`, which `task test` and `task demo` run
	// beside their other steps.
	buildOnly bool
}

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", ".pitwall", "state directory: database, Temporal history, binaries, logs")
	flag.StringVar(&o.listen, "listen", config.Env("PITWALL_LISTEN", "127.0.0.1:8080"), "server address (env PITWALL_LISTEN)")
	flag.IntVar(&o.pgPort, "pg-port", 55432, "port of the private PostgreSQL cluster")
	flag.IntVar(&o.tempPort, "temporal-port", 7233, "port of the embedded Temporal dev server")
	flag.IntVar(&o.tempUIPort, "temporal-ui-port", 8233, "port of the Temporal web UI")
	flag.BoolVar(&o.demo, "demo", false, "apply examples/sample and run one test of it")
	flag.BoolVar(&o.once, "once", false, "stop after start-up (and the demo test) instead of serving until Ctrl-C")
	flag.BoolVar(&o.buildOnly, "build-temporal-only", false, "build Pitwall's Temporal server (deploy/temporal) into DIR/bin if it is missing or stale, then exit")
	flag.Parse()

	// `go tool task` relays Ctrl-C through the process group but does not
	// forward a SIGTERM sent to it alone; if task goes away, so do we.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if o.buildOnly {
		bin := filepath.Join(o.dir, "bin")
		if _, err := temporaldev.Ensure(context.Background(), bin, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "pitwall dev:", err)
			os.Exit(1)
		}
		return
	}
	s := &stack{opts: o, out: os.Stdout}
	err := s.run(ctx)
	s.shutdown()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "pitwall dev:", err)
		os.Exit(1)
	}
}

// stack is what devstack started, so that it can stop it again in order.
type stack struct {
	opts         options
	out          io.Writer
	procs        []*proc.Proc // started in order, stopped in reverse
	stopPG       func()
	dbURL        string
	temporalAddr string
	bin          string
	logs         string
}

func (s *stack) say(format string, args ...any) {
	fmt.Fprintf(s.out, "pitwall: "+format+"\n", args...)
}

func (s *stack) run(ctx context.Context) error {
	dir, err := filepath.Abs(s.opts.dir)
	if err != nil {
		return err
	}
	s.opts.dir = dir
	s.bin = filepath.Join(dir, "bin")
	s.logs = filepath.Join(dir, "logs")
	for _, d := range []string{s.bin, s.logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, b := range []string{"server", "worker", "starter"} {
		if _, err := os.Stat(filepath.Join(s.bin, b)); err != nil {
			return fmt.Errorf("%s is not built; run through 'go tool task dev' (it builds first)", filepath.Join(s.bin, b))
		}
	}
	if err := checkFree(s.opts.listen); err != nil {
		return fmt.Errorf("server address %s: %w (another Pitwall running? set PITWALL_LISTEN)", s.opts.listen, err)
	}
	if err := s.startPostgres(ctx); err != nil {
		return err
	}
	if err := s.startTemporal(ctx); err != nil {
		return err
	}
	host, _ := os.Hostname()
	creds, err := s.credentials()
	if err != nil {
		return err
	}
	env := append(withoutSecretFiles(os.Environ()),
		"PITWALL_DATABASE_URL="+s.dbURL,
		"TEMPORAL_ADDRESS="+s.temporalAddr,
		"PITWALL_LISTEN="+s.opts.listen,
		"PITWALL_SERVER=http://"+s.opts.listen,
		"PITWALL_BOOTSTRAP_TOKEN="+creds.token,
		"PITWALL_TOKEN="+creds.token,
		"PITWALL_ADMIN_PASSWORD="+creds.adminPassword,
		"PITWALL_SECRETS_KEY_FILE="+creds.secretsKey,
	)
	server, err := startProc("server", filepath.Join(s.logs, "server.log"), env, filepath.Join(s.bin, "server"))
	if err != nil {
		return err
	}
	s.procs = append(s.procs, server)
	agentToken, err := s.agentToken(ctx, host, creds.token)
	if err != nil {
		return err
	}
	workDir, err := stateFor(s.opts.dir, "agent", reach.Anyone)
	if err != nil {
		return err
	}
	args := []string{"--role", "central,agent", "--host", host, "--work-dir", workDir}
	if os.Geteuid() != 0 && os.Getenv("PITWALL_ISOLATION") == "" {
		// Only root can give each test a user of its own.
		s.say("not root: the agent runs scripts as your own user (--isolation off); as root, each test gets a user of its own")
		args = append(args, "--isolation", "off")
	}
	worker, err := startProc("worker", filepath.Join(s.logs, "worker.log"), append(env, "PITWALL_AGENT_TOKEN="+agentToken),
		filepath.Join(s.bin, "worker"), args...)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, worker)
	if err := s.waitReady(ctx); err != nil {
		return err
	}
	base := "http://" + s.opts.listen
	s.say("ready")
	s.say("  web UI and API   %s   (health %s/readyz, metrics %s/metrics)", base, base, base)
	s.say("  Temporal UI      %s", s.temporalUI())
	s.say("  agent            %s (worker in central and agent roles)", host)
	s.say("  PostgreSQL       %s", redact(s.dbURL))
	s.say("  logs             %s/", s.logs)
	s.say("  CLI              PITWALL_TOKEN=$(cat %s) %s/starter --help", creds.tokenFile, s.bin)
	if creds.firstRun {
		s.say("  sign in as       admin / %s   (shown once; change it on /account)", creds.adminPassword)
	} else {
		s.say("  sign in as       admin (password shown on the first run, or PITWALL_ADMIN_PASSWORD)")
	}
	if s.opts.demo {
		if err := s.runDemo(ctx, env); err != nil {
			s.say("the sample test did not finish: %v", err)
			if s.opts.once {
				return err
			}
		}
	}
	if s.opts.once {
		return nil
	}
	s.say("serving until Ctrl-C")
	<-ctx.Done()
	return nil
}

func (s *stack) temporalUI() string {
	if s.opts.tempUIPort == 0 || os.Getenv("TEMPORAL_ADDRESS") != "" {
		return "(external Temporal: see its own UI)"
	}
	return fmt.Sprintf("http://127.0.0.1:%d/namespaces/default/workflows", s.opts.tempUIPort)
}

// waitReady waits for the server's /readyz: database, Temporal, an agent.
func (s *stack) waitReady(ctx context.Context) error {
	url := "http://" + s.opts.listen + "/readyz"
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range s.procs {
			if p.Exited() {
				return fmt.Errorf("%s exited during start-up; see %s", p.Name(), p.LogPath())
			}
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the stack was not ready after 90s (%s); see the logs in %s", url, s.logs)
}

// shutdown stops what was started, newest first, then PostgreSQL.
func (s *stack) shutdown() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].Stop(10 * time.Second)
	}
	if s.stopPG != nil {
		s.stopPG()
	}
	if len(s.procs) > 0 || s.stopPG != nil {
		s.say("stopped")
	}
}

// withoutSecretFiles drops the *_FILE variables of the secrets the dev
// stack hands its processes itself: a process given both a secret and a
// file of it refuses to start.
func withoutSecretFiles(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PITWALL_DATABASE_URL_FILE", "PITWALL_BOOTSTRAP_TOKEN_FILE", "PITWALL_TOKEN_FILE",
			"PITWALL_ADMIN_PASSWORD_FILE", "PITWALL_AGENT_TOKEN_FILE":
			return true
		}
		return false
	})
}

// redact hides the password of a database URL that is printed.
func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(a database URL)"
	}
	return u.Redacted()
}

func checkFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}
