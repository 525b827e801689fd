// Package stack starts the whole of Pitwall for the end-to-end tests, the
// crash tests and the benchmark suite: a private PostgreSQL cluster, a real
// Temporal server (the Temporal CLI's dev server), the server and the
// worker in its central and agent roles. The server and workers run either
// in-process (e2e, bench) or as built binaries that a test may kill -9
// (crash). Its helpers drive the stack over its HTTP API as the site admin.
//
// It lives under e2e/ rather than internal/ because it imports the
// application (ui/server, worker/workerapp), and internal/ holds libraries
// that import nothing above them.
package stack

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/pitwall/pitwall/internal/config"
	"github.com/pitwall/pitwall/internal/filelock"
	"github.com/pitwall/pitwall/internal/notify"
	"github.com/pitwall/pitwall/internal/pgcluster"
	"github.com/pitwall/pitwall/internal/proc"
	"github.com/pitwall/pitwall/internal/sealed"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/internal/temporaldev"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/ui/clientip"
	"github.com/pitwall/pitwall/ui/server"
	"github.com/pitwall/pitwall/worker/workerapp"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Options say what to start.
type Options struct {
	// Name names the temporary folder, the agents and the admin token
	// ("e2e", "bench", "crash").
	Name string
	// Agents is how many in-process agents to start; the first one is also
	// the central worker. Ignored with Binaries.
	Agents int
	// AgentName names agent i (from 0); the default is NAME-agent-N, N from 1.
	AgentName func(i int) string
	// Labels are the in-process agents' labels.
	Labels config.Labels
	// MaxLogLines caps the output lines the in-process agents store per test.
	MaxLogLines int
	// ArtifactMaxFile is the in-process server's per-file artifact cap (and
	// eight of them its per-test cap); 0 keeps the server's defaults.
	ArtifactMaxFile int64
	// PriorityMaxWait is the in-process central worker's
	// --priority-max-wait; 0 keeps the worker's default.
	PriorityMaxWait time.Duration
	// LeaseSweepEvery is the in-process central worker's
	// --lease-sweep-every; 0 keeps the worker's default.
	LeaseSweepEvery time.Duration
	// TrustedProxies are the proxies (CIDRs) whose X-Forwarded-For the
	// in-process server believes, as --trusted-proxies.
	TrustedProxies string
	// Build lists the commands built into Bin while the services start:
	// "starter", "ui" (the server), "worker", "cmd/pitwall-supervise" (which
	// the agents then use as their scripts' supervisor).
	Build []string
	// Binaries runs the server and the central worker as built processes
	// (Server, Central) instead of in-process, and the cluster in Dir so it
	// can be stopped and started again (PG); Build must hold "ui" and "worker".
	Binaries bool
	// Check, if set, sees every answer Call gets (the e2e tests check each
	// against the OpenAPI document).
	Check func(tb testing.TB, req *http.Request, status int, header http.Header, body []byte)
	// Log receives the in-process server's and workers' logs; nil discards them.
	Log *slog.Logger
	// SMTP is the in-process central worker's mail relay.
	SMTP notify.SMTP
}

// Stack is a running Pitwall. Close stops it.
type Stack struct {
	// Dir is the stack's temporary folder; Bin holds the built commands.
	Dir, Bin string
	// DBURL is the database's URL and Pool a pool on it.
	DBURL string
	Pool  *pgxpool.Pool
	// PG is the cluster and PGOptions how to start it again, with Binaries.
	PG        *pgcluster.Cluster
	PGOptions pgcluster.Options
	// TemporalAddr and Namespace locate Temporal; Temporal is a client of it.
	TemporalAddr, Namespace string
	// PayloadKey is the key file that seals what the stack's processes put
	// in Temporal (internal/sealed), as a careful deployment does.
	PayloadKey string
	// SecretsKey is the key file that seals the secrets the server keeps in
	// the database (teams' GitHub credentials); the central worker has it too.
	SecretsKey string
	Temporal   client.Client
	// Listen is the server's address and URL its base URL.
	Listen, URL string
	// Token is the site admin's API token, which every helper sends.
	Token string
	// Agents are the in-process agents' names, and AgentTokens their tokens.
	Agents      []string
	AgentTokens map[string]string
	// Server and Central are the server's and central worker's processes,
	// with Binaries.
	Server, Central *proc.Proc

	opts Options
	log  *slog.Logger
	stop []func()
}

// Start starts everything and waits until the server is ready (with
// in-process agents: until it lists them all online). On error it stops
// what it started.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	if o.AgentName == nil {
		o.AgentName = func(i int) string { return fmt.Sprintf("%s-agent-%d", o.Name, i+1) }
	}
	s := &Stack{opts: o, log: o.Log, AgentTokens: map[string]string{},
		Token: "pwt_" + o.Name + "-bootstrap-token-0123456789abcdef"}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Dir, err = os.MkdirTemp("", "pitwall-"+o.Name+"-"); err != nil {
		return nil, fmt.Errorf("create the stack's folder: %w", err)
	}
	s.stop = append(s.stop, func() { os.RemoveAll(s.Dir) })
	// Agents' scripts and a cluster in here run as other users when we are root.
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open the stack's folder: %w", err)
	}
	s.Bin = filepath.Join(s.Dir, "bin")
	s.PayloadKey = filepath.Join(s.Dir, "payload.key")
	if err := os.WriteFile(s.PayloadKey, []byte(sealed.NewKey()), 0o600); err != nil {
		return nil, fmt.Errorf("payload key: %w", err)
	}
	s.SecretsKey = filepath.Join(s.Dir, "secrets.key")
	if err := os.WriteFile(s.SecretsKey, []byte(sealed.NewKey()), 0o600); err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	built := s.build()

	if err := s.startPostgres(ctx); err != nil {
		return nil, err
	}
	ts, err := testenv.Temporal(ctx, contract.SearchAttributes())
	if err != nil {
		return nil, err
	}
	s.stop = append(s.stop, ts.Stop)
	s.TemporalAddr, s.Namespace = ts.Address(), ts.Namespace()
	tc := s.TemporalConfig()
	topts, err := tc.Options()
	if err != nil {
		return nil, err
	}
	topts.Logger = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if s.Temporal, err = client.DialContext(ctx, topts); err != nil {
		return nil, fmt.Errorf("dial temporal at %s: %w", s.TemporalAddr, err)
	}
	s.stop = append(s.stop, s.Temporal.Close)
	if err := <-built; err != nil {
		return nil, err
	}
	if o.Binaries {
		return s, s.startProcesses(ctx)
	}
	return s, s.startInProcess(ctx)
}

// build starts building the commands in Options.Build (buildShared) and
// reports its outcome on the channel.
func (s *Stack) build() <-chan error {
	done := make(chan error, 1)
	if len(s.opts.Build) == 0 {
		done <- nil
		return done
	}
	go func() { done <- s.buildShared() }()
	return done
}

// buildShared builds the commands in Options.Build into the clone's
// .pitwall/bin and links them into Bin. `go build -o` leaves a binary
// alone when its build ID shows it current, and `task build` fills that
// folder with the same -ldflags before the tests: a run of the suite links
// each command at most once, where every stack linked its own (two to
// four binaries of 3 to 40 MB for each of a dozen test packages, about
// 50 CPU-s). A file lock keeps two packages from writing a binary at once.
func (s *Stack) buildShared() error {
	root, err := temporaldev.ModuleRoot()
	if err != nil {
		return err
	}
	shared := filepath.Join(root, ".pitwall", "bin")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", shared, err)
	}
	unlock, err := filelock.Lock(filepath.Join(shared, ".build.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	// -ldflags=-w as Taskfile.yml's build: another flag is another build ID.
	args := []string{"build", "-ldflags=-w", "-o", shared + "/"}
	for _, c := range s.opts.Build {
		args = append(args, "github.com/pitwall/pitwall/"+c)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", strings.Join(s.opts.Build, ", "), err, out)
	}
	if err := os.MkdirAll(s.Bin, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", s.Bin, err)
	}
	for _, c := range s.opts.Build {
		name := filepath.Base(c)
		if err := linkOrCopy(filepath.Join(shared, name), filepath.Join(s.Bin, name)); err != nil {
			return err
		}
	}
	return nil
}

// linkOrCopy makes dst the file src is now: a hard link, which keeps this
// version should a later build replace src, or a copy when the two are on
// different file systems. Not a symbolic link: the agents' scripts run as
// another user, who may not enter a clone under /root.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

func (s *Stack) startPostgres(ctx context.Context) error {
	if s.opts.Binaries {
		// Its own cluster, which the crash tests stop and start again.
		s.PGOptions = pgcluster.Options{Root: filepath.Join(s.Dir, "pg")}
		pg, err := pgcluster.Start(ctx, s.PGOptions)
		if err != nil {
			return err
		}
		s.PG, s.PGOptions.Port = pg, pg.Port()
		s.stop = append(s.stop, func() { _ = s.PG.Stop() })
		if err := pg.CreateDatabase(ctx, "pitwall"); err != nil {
			return fmt.Errorf("create database pitwall: %w", err)
		}
		s.DBURL = pg.URL("pitwall")
	} else {
		url, stopDB, err := testenv.Postgres(ctx)
		if err != nil {
			return err
		}
		s.stop = append(s.stop, stopDB)
		s.DBURL = url
	}
	pool, err := store.Connect(ctx, s.DBURL)
	if err != nil {
		return err
	}
	s.Pool = pool
	s.stop = append(s.stop, pool.Close)
	return nil
}

// startInProcess runs the server on a loopback listener and the workers as
// goroutines.
func (s *Stack) startInProcess(ctx context.Context) error {
	if err := migrations.Apply(ctx, s.Pool, s.log); err != nil {
		return err
	}
	if _, err := server.Bootstrap(ctx, store.New(s.Pool), s.Token, s.opts.Name+" admin password", s.log); err != nil {
		return err
	}
	if err := contract.RegisterSearchAttributes(ctx, s.Temporal, s.Namespace); err != nil {
		return fmt.Errorf("register search attributes: %w", err)
	}
	clientIP, err := clientip.Parse(s.opts.TrustedProxies, "")
	if err != nil {
		return fmt.Errorf("trusted proxies: %w", err)
	}
	// The listener comes first so the page URLs the API reports are its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.Listen = ln.Addr().String()
	s.URL = "http://" + s.Listen
	box, err := sealed.LoadBox(s.SecretsKey)
	if err != nil {
		return err
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	deps := server.Deps{Store: store.New(s.Pool), Temporal: s.Temporal, PublicURL: s.URL, Log: s.log,
		Namespace: s.Namespace, Ctx: srvCtx, ClientIP: clientIP, Secrets: box}
	if s.opts.ArtifactMaxFile > 0 {
		deps.ArtifactMaxFile, deps.ArtifactMaxTest = s.opts.ArtifactMaxFile, 8*s.opts.ArtifactMaxFile
	}
	srv := &httptest.Server{Listener: ln, Config: server.HTTP(s.Listen, server.New(deps))}
	srv.Start()
	s.stop = append(s.stop, func() { stopSrv(); srv.Close() })

	for i := range s.opts.Agents {
		name := s.opts.AgentName(i)
		token, err := s.AgentToken(ctx, name)
		if err != nil {
			return err
		}
		s.Agents = append(s.Agents, name)
		s.AgentTokens[name] = token
	}
	wctx, stopWorkers := context.WithCancel(ctx)
	done := make(chan error, len(s.Agents))
	for i, name := range s.Agents {
		roles := []string{workerapp.RoleAgent}
		if i == 0 {
			roles = append(roles, workerapp.RoleCentral)
		}
		cfg := workerapp.Config{
			Roles: roles, Host: name, Labels: s.opts.Labels,
			WorkDir: filepath.Join(s.Dir, name), DatabaseURL: s.DBURL, ServerURL: s.URL,
			Temporal:       s.TemporalConfig(),
			HeartbeatEvery: time.Second, MaxLogLines: s.opts.MaxLogLines, AgentToken: s.AgentTokens[name],
			Supervisor: s.supervisor(), SecretsKeyFile: s.SecretsKey,
			PriorityMaxWait: cmp.Or(s.opts.PriorityMaxWait, workerapp.DefaultPriorityMaxWait),
			SMTP:            s.opts.SMTP, LeaseSweepEvery: s.opts.LeaseSweepEvery,
		}
		go func() { done <- workerapp.Run(wctx, cfg, s.log) }()
	}
	// Workers stop before the services they use.
	s.stop = append(s.stop, func() {
		stopWorkers()
		for range s.Agents {
			<-done
		}
	})
	exited := func() error {
		select {
		case err := <-done:
			done <- err // for the stop above
			return fmt.Errorf("a worker stopped during start-up: %v", err)
		default:
			return nil
		}
	}
	return s.WaitReady(ctx, "/readyz", fmt.Sprintf(`"agents_online":"%d"`, len(s.Agents)), exited)
}

// supervisor is the built pitwall-supervise, if Build made it; else the
// in-process agents supervise with this binary (which calls Dispatch).
func (s *Stack) supervisor() string {
	p := filepath.Join(s.Bin, supervise.Binary)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// startProcesses runs the built server and central worker.
func (s *Stack) startProcesses(ctx context.Context) error {
	port, err := pgcluster.FreePort()
	if err != nil {
		return err
	}
	s.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	s.URL = "http://" + s.Listen
	if s.Server, err = s.Spawn("server", "ui"); err != nil {
		return err
	}
	s.stop = append(s.stop, func() { s.Server.Stop(10 * time.Second) })
	if s.Central, err = s.Spawn("central", "worker", "--role", "central"); err != nil {
		return err
	}
	s.stop = append(s.stop, func() { s.Central.Stop(10 * time.Second) })
	exited := func() error {
		for _, p := range []*proc.Proc{s.Server, s.Central} {
			if p.Exited() {
				return fmt.Errorf("%s exited during start-up; its log:\n%s", p.Name(), p.Log())
			}
		}
		return nil
	}
	return s.WaitReady(ctx, "/healthz", "", exited)
}

// WaitReady polls the server's path until it answers 200 with want in its
// body, or exited (if not nil) reports a process gone, or 90 s pass.
func (s *Stack) WaitReady(ctx context.Context, path, want string, exited func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var last string
	for {
		if exited != nil {
			if err := exited(); err != nil {
				return err
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), want) {
				return nil
			}
			last = resp.Status + " " + string(b)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the stack was not ready within 90s: %s", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops the test binary's Chromium, if one runs, then everything
// in reverse order of start.
func (s *Stack) Close() {
	CloseBrowser()
	for i := len(s.stop) - 1; i >= 0; i-- {
		s.stop[i]()
	}
	s.stop = nil
}

// TemporalConfig is how the stack's processes reach Temporal.
func (s *Stack) TemporalConfig() config.Temporal {
	return config.Temporal{Address: s.TemporalAddr, Namespace: s.Namespace, PayloadKeyFile: s.PayloadKey}
}

// Env is the environment the built commands run with: the stack's
// database, Temporal, server address and the admin's token.
func (s *Stack) Env() []string {
	return append(os.Environ(),
		"TEMPORAL_PAYLOAD_KEY_FILE="+s.PayloadKey,
		"PITWALL_SECRETS_KEY_FILE="+s.SecretsKey,
		"PITWALL_DATABASE_URL="+s.DBURL,
		"TEMPORAL_ADDRESS="+s.TemporalAddr,
		"TEMPORAL_NAMESPACE="+s.Namespace,
		"PITWALL_LISTEN="+s.Listen,
		"PITWALL_SERVER="+s.URL,
		"PITWALL_BOOTSTRAP_TOKEN="+s.Token,
		"PITWALL_ADMIN_PASSWORD="+s.opts.Name+" admin password",
		"PITWALL_TOKEN="+s.Token,
	)
}
