// Package workerapp runs Pitwall's worker: the central role (workflows and
// database activities) and the agent role (host-pinned activities), one or
// both, on one Temporal client.
package workerapp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/pitwall/pitwall/activities/agent"
	"github.com/pitwall/pitwall/activities/central"
	"github.com/pitwall/pitwall/internal/config"
	"github.com/pitwall/pitwall/internal/containers"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/hostinfo"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/notify"
	"github.com/pitwall/pitwall/internal/sealed"
	"github.com/pitwall/pitwall/internal/secret"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/internal/telemetry"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/migrations"
	alertsvc "github.com/pitwall/pitwall/service/alerts"
	ghsvc "github.com/pitwall/pitwall/service/github"
	"github.com/pitwall/pitwall/service/schedules"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/workflows"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Roles a worker can take.
const (
	RoleCentral = "central"
	RoleAgent   = "agent"
)

// Config is the worker's configuration.
type Config struct {
	Roles       []string
	Host        string
	Labels      config.Labels
	WorkDir     string
	DatabaseURL string
	ServerURL   string
	Temporal    config.Temporal
	// HeartbeatEvery is how often the agent reports to the server.
	HeartbeatEvery time.Duration
	// MaxLogLines caps the output lines stored per test.
	MaxLogLines int
	// AgentToken authenticates the agent to the server. With Flags,
	// Validate reads it and DatabaseURL from the environment, a file or
	// the command line (secret.Flag).
	AgentToken string
	// Isolation is how the agent runs scripts (agent.IsolationUID or
	// agent.IsolationOff) and ScriptUIDs the range per-test users come from.
	Isolation  string
	ScriptUIDs string
	// Supervisor is the binary that supervises each script; empty:
	// pitwall-supervise beside this binary, else this binary itself.
	Supervisor string
	// DockerHost is the Docker engine the agent runs containers with
	// ("unix:///run/docker.sock"); empty: DOCKER_HOST or the default
	// socket, if an engine answers there. "none" runs no containers.
	DockerHost string
	// ImageMaxBytes and ImageMaxAge prune the images the agent built.
	ImageMaxBytes string
	ImageMaxAge   time.Duration
	// SecretsDir holds the secrets frameworks name (the central role's
	// PromQL credentials), one file each.
	SecretsDir string
	// PriorityMaxWait is how long a test may wait for a host behind
	// higher-priority tests before it is promoted (the central role's
	// LeaseAcquire stamps it on each request); 0 never promotes.
	PriorityMaxWait time.Duration
	// SecretsKeyFile seals the secrets kept in the database (teams' GitHub
	// credentials), as the server's; PublicURL is the server's address in
	// the links the central role writes on GitHub.
	SecretsKeyFile, PublicURL string
	// MetricsListen, when set, serves the worker's own metrics at /metrics
	// on that address (Prometheus's text format).
	MetricsListen string

	// RetentionEvery is how often the retention schedule the central role
	// makes runs (0: DefaultRetentionEvery; negative: the worker makes or
	// changes no schedule).
	RetentionEvery time.Duration
	// LeaseSweepEvery is how often the central role mends the hosts'
	// leases: a grant not told, a holder that ended without giving its
	// host back (0: DefaultLeaseSweepEvery). Tests shorten it.
	LeaseSweepEvery time.Duration

	// SMTP is the relay notifications are mailed through (central role);
	// its password comes from PITWALL_SMTP_PASSWORD or a file.
	SMTP notify.SMTP

	dbURL, agentToken, smtpPassword secret.Flag
}

// DefaultLeaseSweepEvery is how often the central role sweeps the hosts'
// leases (central.SweepLeases) unless LeaseSweepEvery says otherwise.
const DefaultLeaseSweepEvery = 30 * time.Second

// DefaultRetentionEvery is how often retention runs unless
// --retention-every says otherwise.
const DefaultRetentionEvery = time.Hour

// DefaultPriorityMaxWait is how long a test waits behind higher-priority
// tests before it is promoted, unless --priority-max-wait says otherwise.
const DefaultPriorityMaxWait = 30 * time.Minute

// Flags registers the worker's flags on fs, with defaults from the environment.
func (c *Config) Flags(fs *flag.FlagSet) {
	host, _ := os.Hostname()
	c.Labels = config.Labels{}
	c.Temporal.Flags(fs)
	fs.Func("role", "roles to run, comma-separated: central, agent (env PITWALL_ROLE; default both)", func(s string) error {
		c.Roles = strings.Split(s, ",")
		return nil
	})
	c.Roles = strings.Split(config.Env("PITWALL_ROLE", RoleCentral+","+RoleAgent), ",")
	fs.StringVar(&c.Host, "host", config.Env("PITWALL_HOST", host), "agent name; its task queue is agent.<host> (env PITWALL_HOST)")
	fs.Var(c.Labels, "label", "agent label key=value (repeatable)")
	fs.StringVar(&c.WorkDir, "work-dir", os.Getenv("PITWALL_WORK_DIR"), "where the agent runs tests (env PITWALL_WORK_DIR; default <tmp>/pitwall-agent-<host>)")
	c.dbURL.Flags(fs, "database-url", "PITWALL_DATABASE_URL", "PostgreSQL URL, central role only")
	fs.StringVar(&c.ServerURL, "server", config.Env("PITWALL_SERVER", "http://127.0.0.1:8080"), "Pitwall server URL the agent reports to (env PITWALL_SERVER)")
	fs.DurationVar(&c.HeartbeatEvery, "heartbeat", 5*time.Second, "agent heartbeat interval")
	fs.StringVar(&c.Isolation, "isolation", config.Env("PITWALL_ISOLATION", agent.IsolationUID),
		"how scripts run: uid (each test as a user of its own, from --script-uids; needs root) or off (as the agent's own user) (env PITWALL_ISOLATION)")
	fs.StringVar(&c.ScriptUIDs, "script-uids", config.Env("PITWALL_SCRIPT_UIDS", agent.DefaultUIDs.String()),
		"user and group IDs per-test users come from, FIRST-LAST; no real account may use them (env PITWALL_SCRIPT_UIDS)")
	fs.StringVar(&c.Supervisor, "supervisor", os.Getenv("PITWALL_SUPERVISOR"),
		"binary that supervises each script (env PITWALL_SUPERVISOR; default "+supervise.Binary+" beside this one, else this one)")
	c.agentToken.Flags(fs, "agent-token", "PITWALL_AGENT_TOKEN", "agent's token for the server")
	fs.IntVar(&c.MaxLogLines, "max-log-lines", agent.DefaultMaxLogLines, "output lines stored per test; the rest are counted and dropped")
	fs.StringVar(&c.DockerHost, "docker-host", os.Getenv("PITWALL_DOCKER_HOST"),
		"Docker engine for tests' containers, e.g. unix:///run/docker.sock (env PITWALL_DOCKER_HOST; default DOCKER_HOST or the default socket if an engine answers; none: no containers)")
	fs.StringVar(&c.ImageMaxBytes, "image-max-size", config.Env("PITWALL_IMAGE_MAX_SIZE", ""),
		"prune images the agent built, oldest first, past this total size, e.g. 20GiB (env PITWALL_IMAGE_MAX_SIZE; default: no limit)")
	fs.DurationVar(&c.ImageMaxAge, "image-max-age", 0, "prune images the agent built that are older than this, e.g. 168h (default: no limit)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", os.Getenv("PITWALL_METRICS_LISTEN"),
		"serve the worker's own metrics at /metrics on this address, e.g. 127.0.0.1:9464 (env PITWALL_METRICS_LISTEN; default: not served)")
	fs.StringVar(&c.SecretsKeyFile, "secrets-key-file", os.Getenv("PITWALL_SECRETS_KEY_FILE"),
		"central role: the server's key file sealing the secrets kept in the database, such as teams' GitHub credentials (env PITWALL_SECRETS_KEY_FILE)")
	fs.StringVar(&c.PublicURL, "public-url", os.Getenv("PITWALL_PUBLIC_URL"),
		"central role: URL users reach the server at, for links on GitHub (env PITWALL_PUBLIC_URL; default --server)")
	fs.DurationVar(&c.PriorityMaxWait, "priority-max-wait", DefaultPriorityMaxWait,
		"central role: a test waiting this long for a host behind higher-priority tests is promoted and served next (0: never)")
	fs.DurationVar(&c.LeaseSweepEvery, "lease-sweep-every", DefaultLeaseSweepEvery,
		"central role: how often to mend the hosts' leases: tell a holder its grant again, take a host back from a test that ended holding it")
	fs.Func("retention-every", "central role: how often retention runs (docs/retention.md), e.g. 1h (default 1h; 0: make no retention schedule)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("retention interval %q must be a duration such as 1h, or 0", v)
		}
		if d == 0 {
			d = -1
		}
		c.RetentionEvery = d
		return nil
	})
	fs.StringVar(&c.SMTP.URL, "smtp-url", os.Getenv("PITWALL_SMTP_URL"),
		"central role: SMTP relay for notifications, smtp://[user@]host[:port][?tls=none|required] or smtps://… (env PITWALL_SMTP_URL; default: no mail)")
	fs.StringVar(&c.SMTP.From, "smtp-from", os.Getenv("PITWALL_SMTP_FROM"), "central role: sender address of notification mail (env PITWALL_SMTP_FROM)")
	c.smtpPassword.Flags(fs, "smtp-password", "PITWALL_SMTP_PASSWORD", "SMTP relay password, central role only")
	fs.StringVar(&c.SecretsDir, "secrets-dir", os.Getenv("PITWALL_SECRETS_DIR"),
		"central role: directory of the secrets frameworks name (prometheus bearer_secret, basic_secret), one file each (env PITWALL_SECRETS_DIR)")
}

// loadSecrets reads the database URL and the agent token that the flags
// or the environment name; a value set in Config stays unless they name one.
func (c *Config) loadSecrets() error {
	for _, s := range []struct {
		secret *secret.Flag
		to     *string
	}{{&c.dbURL, &c.DatabaseURL}, {&c.agentToken, &c.AgentToken}, {&c.smtpPassword, &c.SMTP.Password}} {
		v, err := s.secret.Load(os.Getenv)
		if err != nil {
			return err
		}
		if v != "" {
			*s.to = v
		}
	}
	return nil
}

// Warnings says which secrets Validate read from the command line.
func (c *Config) Warnings() []string {
	return append(secret.Warnings(&c.dbURL, &c.agentToken, &c.smtpPassword), c.Temporal.Warnings()...)
}

// Has reports whether the worker takes role r.
func (c *Config) Has(r string) bool { return slices.Contains(c.Roles, r) }

// Validate reports the first bad setting.
func (c *Config) Validate() error {
	// Validate fills in the work directory default, which needs the host.
	if err := c.loadSecrets(); err != nil {
		return err
	}
	for _, r := range c.Roles {
		if r != RoleCentral && r != RoleAgent {
			return fmt.Errorf("role %q must be central or agent", r)
		}
	}
	if len(c.Roles) == 0 {
		return errors.New("give at least one role")
	}
	if err := c.SMTP.Validate(); err != nil {
		return err
	}
	if c.ImageMaxBytes != "" {
		if _, err := framework.ParseBytes(c.ImageMaxBytes); err != nil {
			return fmt.Errorf("--image-max-size: %w", err)
		}
	}
	if c.PriorityMaxWait < 0 {
		return errors.New("--priority-max-wait must not be negative")
	}
	if c.Has(RoleCentral) && c.DatabaseURL == "" {
		return errors.New("the central role needs a database URL (--database-url or PITWALL_DATABASE_URL)")
	}
	if c.Has(RoleAgent) {
		if c.WorkDir == "" {
			c.WorkDir = filepath.Join(os.TempDir(), "pitwall-agent-"+c.Host)
		}
		if c.Host == "" || strings.ContainsAny(c.Host, " /\t\n") {
			return fmt.Errorf("agent name %q must be non-empty with no spaces or slashes", c.Host)
		}
		if u, err := url.Parse(c.ServerURL); err != nil || u.Host == "" {
			return fmt.Errorf("server URL %q is not a URL", c.ServerURL)
		}
		if c.HeartbeatEvery <= 0 {
			return errors.New("heartbeat interval must be positive")
		}
		abs, err := filepath.Abs(c.WorkDir)
		if err != nil {
			return fmt.Errorf("work directory %q: %w", c.WorkDir, err)
		}
		c.WorkDir = abs
		switch c.Isolation {
		case "":
			c.Isolation = agent.IsolationUID
		case agent.IsolationUID, agent.IsolationOff:
		default:
			return fmt.Errorf("isolation %q must be uid or off", c.Isolation)
		}
		if c.ScriptUIDs != "" {
			if _, err := agent.ParseUIDRange(c.ScriptUIDs); err != nil {
				return err
			}
		}
	}
	return c.Temporal.Validate()
}

// Run starts the configured roles and blocks until ctx ends or a worker fails.
func Run(ctx context.Context, c Config, log *slog.Logger) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for _, w := range c.Warnings() {
		log.Warn(w)
	}
	opts, err := c.Temporal.Options()
	if err != nil {
		return err
	}
	opts.Logger = telemetry.Temporal(log)
	if !c.Has(RoleCentral) && opts.ConnectionOptions.GrpcCompression == nil {
		// An agent's calls are small (polls, heartbeats, results): gzip
		// cost it more CPU than the bytes were worth while a test ran
		// (docs/performance.md, the agent's footprint).
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", c.Temporal.Address, err)
	}
	defer tc.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if c.MetricsListen != "" {
		stop, err := serveMetrics(ctx, c.MetricsListen, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	var workers []worker.Worker
	if c.Has(RoleCentral) {
		pool, err := store.Connect(ctx, c.DatabaseURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := migrations.Apply(ctx, pool, log); err != nil {
			return err
		}
		// A new test's first workflow task comes on the central queue; a
		// running test's later tasks come on this worker's sticky queue.
		// The SDK's default pollers poll only the sticky queue while the
		// server's last answer there hinted at a backlog. Under a burst of
		// submissions new tests waited up to 23 s for their first task,
		// and a hint left over from an emptied sticky queue can keep every
		// poller on it for a whole long poll, a minute, with free hosts
		// and new tests waiting (the likely cause of a round of the bench
		// that stalled for a minute). Autoscaling pollers keep a poll on
		// each queue (docs/performance.md, "New tests' first tasks, and
		// the minute a round stalled").
		w := worker.New(tc, contract.CentralQueue, worker.Options{
			WorkflowTaskPollerBehavior: worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}),
		})
		workflows.Register(w)
		gh, err := c.github(store.New(pool), tc, reg, log)
		if err != nil {
			return err
		}
		alerts := &alertsvc.Service{Store: store.New(pool), Temporal: tc, Box: gh.Box, SMTP: c.SMTP,
			PublicURL: gh.PublicURL, Log: log, AutoConfirm: gh.Tests.AutoConfirm}
		acts := &central.Activities{Store: store.New(pool), Temporal: tc, SecretsDir: c.SecretsDir,
			PriorityMaxWait: c.PriorityMaxWait, AutoBisect: gh.Tests.AutoBisect,
			Announce: func(ctx context.Context, id int64) error { return alertsvc.StartAnnounce(ctx, tc, id) },
			Evaluate: alerts.Evaluate, Log: log}
		central.Register(w, acts)
		go central.SweepLeasesEvery(ctx, acts, cmp.Or(c.LeaseSweepEvery, DefaultLeaseSweepEvery), log)
		ghsvc.Register(w, gh)
		alertsvc.Register(w, alerts)
		schedules.Register(w, &schedules.Service{Store: gh.Store, Temporal: tc, Namespace: c.Temporal.Namespace,
			Tests: gh.Tests, PublicURL: gh.PublicURL, Log: log})
		workers = append(workers, w)
		if every := cmp.Or(c.RetentionEvery, DefaultRetentionEvery); every > 0 {
			if err := central.EnsureRetentionSchedule(ctx, tc, every); err != nil {
				return err
			}
		}
	}
	if c.Has(RoleAgent) {
		acts, err := c.agentActivities(log)
		if err != nil {
			return err
		}
		if err := agent.Prepare(acts); err != nil {
			return fmt.Errorf("agent work dir: %w", err)
		}
		if os.Geteuid() != 0 && c.Isolation != agent.IsolationOff {
			log.Warn("the agent is not root: it refuses to run scripts; run it as root, or with --isolation off to run them as its own user")
		}
		if acts.Docker, err = c.docker(ctx, log); err != nil {
			return err
		}
		if acts.Docker != nil {
			defer acts.Docker.Close()
		}
		go agent.Sweep(ctx, acts)
		// Activities only: an agent never runs workflows, and with no workflow
		// poller its Temporal identity needs no right but its own queue's
		// activity tasks (docs/security.md, "Temporal").
		w := worker.New(tc, contract.AgentQueue(c.Host), worker.Options{DisableWorkflowWorker: true})
		agent.Register(w, acts)
		workers = append(workers, w)
		docker := ""
		if acts.Docker != nil {
			docker = acts.Docker.Version()
		}
		acts.Samples = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pitwall_agent_samples_total", Help: "Points the agent sampled, by source: host (/proc), container (the Engine's stats), prometheus (a service's /metrics).",
		}, []string{"source"})
		beats := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pitwall_agent_heartbeats_total", Help: "Heartbeats the agent sent to the server, by outcome (ok, failed; skipped: a batch of samples the server accepted within the interval stood for it).",
		}, []string{"outcome"})
		reg.MustRegister(acts.Samples, beats)
		// A heartbeat every second wakes with the agent's other
		// once-a-second chores (agent.Pulse).
		var pulse <-chan struct{}
		if c.HeartbeatEvery == time.Second {
			p, stop := agent.Pulse(acts)
			defer stop()
			pulse = p
		}
		go heartbeat(ctx, c, acts.Describe(), docker, acts.Ingest.SamplesAccepted, pulse, beats, log)
	}
	for _, w := range workers {
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		defer w.Stop()
	}
	log.Info("worker running", "roles", strings.Join(c.Roles, ","), "host", c.Host, "temporal", c.Temporal.Address)
	<-ctx.Done()
	log.Info("worker stopping")
	return nil
}

// serveMetrics serves reg at /metrics on addr until ctx ends.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "error", err)
		}
	}()
	log.Info("serving the worker's metrics", "address", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

// docker connects to the agent's Docker engine. One named with
// --docker-host must answer; the default one may be missing, and then
// the agent refuses tests that need containers.
func (c *Config) docker(ctx context.Context, log *slog.Logger) (*containers.Engine, error) {
	if c.DockerHost == "none" {
		return nil, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	eng, err := containers.Connect(cctx, c.DockerHost)
	if err != nil {
		if c.DockerHost != "" {
			return nil, err
		}
		log.Info("no Docker engine answers: this agent runs no containers", "error", err)
		return nil, nil
	}
	eng.Owner = c.Host
	log.Info("Docker engine connected", "version", eng.Version())
	return eng, nil
}

// agentActivities are the agent role's activities as configured.
func (c *Config) agentActivities(log *slog.Logger) (*agent.Activities, error) {
	a := &agent.Activities{Host: c.Host, WorkDir: c.WorkDir, Log: log, Isolation: c.Isolation,
		MaxLogLines: c.MaxLogLines, Ingest: &ingest.Client{Server: c.ServerURL, Token: c.AgentToken},
		ImageMaxAge: c.ImageMaxAge}
	if c.ImageMaxBytes != "" {
		a.ImageMaxBytes, _ = framework.ParseBytes(c.ImageMaxBytes) // checked by Validate
	}
	if c.ScriptUIDs != "" {
		a.UIDs, _ = agent.ParseUIDRange(c.ScriptUIDs) // checked by Validate
	}
	sup, err := supervise.Command()
	if c.Supervisor != "" {
		sup, err = supervise.CommandAt(c.Supervisor)
	}
	if err != nil {
		return nil, err
	}
	a.Supervisor = sup
	return a, nil
}

// heartbeat registers the agent with the server and keeps it fresh. The
// server may be down for a while; the agent keeps trying. Once registered,
// it skips a beat when the server accepted a batch of samples from the
// agent within the interval plus agent.MonitorShip (samplesAt): the
// server records each batch as a sign of life, and a monitored test ships
// one every 2 s.
func heartbeat(ctx context.Context, c Config, isolation, docker string, samplesAt func() time.Time,
	pulse <-chan struct{}, beats *prometheus.CounterVec, log *slog.Logger) {
	// wait waits for the next beat: c.HeartbeatEvery, or the pulse that
	// stands for it; false when the agent stops.
	wait := func() bool {
		var after <-chan time.Time
		if pulse == nil {
			after = time.After(c.HeartbeatEvery)
		}
		select {
		case <-ctx.Done():
			return false
		case <-after:
		case <-pulse:
		}
		return true
	}
	hb := wire.Heartbeat{Labels: c.Labels, Facts: hostinfo.Read(), Version: config.Version}
	hb.Facts.Isolation, hb.Facts.Docker = isolation, docker
	body, _ := json.Marshal(hb)
	target := strings.TrimRight(c.ServerURL, "/") + "/api/v1/agents/" + url.PathEscape(c.Host)
	hc := &http.Client{Timeout: 5 * time.Second}
	failing, registered := false, false
	// The counters are looked up once: a lookup hashes its labels.
	ok, failed, skipped := beats.WithLabelValues("ok"), beats.WithLabelValues("failed"), beats.WithLabelValues("skipped")
	for {
		// A monitor ships a batch every agent.MonitorShip: a beat is
		// skipped when the last one is younger than that plus an interval.
		if registered && !failing && time.Since(samplesAt()) < c.HeartbeatEvery+agent.MonitorShip {
			skipped.Inc()
			if !wait() {
				return
			}
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, target, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if c.AgentToken != "" {
			req.Header.Set("Authorization", "Bearer "+c.AgentToken)
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				err = fmt.Errorf("server answered %s", resp.Status)
			}
		}
		if err != nil {
			failed.Inc()
		} else {
			ok.Inc()
			registered = true
		}
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			log.Warn("agent heartbeat failed; retrying", "server", c.ServerURL, "error", err)
			failing = true
		case err == nil && failing:
			log.Info("agent heartbeat restored", "server", c.ServerURL)
			failing = false
		}
		if !wait() {
			return
		}
	}
}

// github is the central role's side of GitHub: it starts the tests
// webhooks ask for and reports them back.
func (c *Config) github(st *store.Store, tc client.Client, reg prometheus.Registerer, log *slog.Logger) (*ghsvc.Service, error) {
	public := c.PublicURL
	if public == "" {
		public = c.ServerURL
	}
	svc := &ghsvc.Service{Store: st, Temporal: tc, Tests: tests.New(st, tc, public, log, reg),
		PublicURL: strings.TrimRight(public, "/"), Log: log}
	if c.SecretsKeyFile != "" {
		box, err := sealed.LoadBox(c.SecretsKeyFile)
		if err != nil {
			return nil, err
		}
		svc.Box = box
	}
	return svc, nil
}
