// Command ui is Pitwall's server: the web UI, the JSON API under /api/v1,
// the agents' endpoints, /metrics, /healthz and /readyz.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/config"
	"github.com/pitwall/pitwall/internal/sealed"
	"github.com/pitwall/pitwall/internal/secret"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/telemetry"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/service/agents"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/clientip"
	"github.com/pitwall/pitwall/ui/server"
)

// Config is the server's configuration.
type Config struct {
	Listen      string
	PublicURL   string
	DatabaseURL string
	Temporal    config.Temporal
	// ArtifactMaxFile and ArtifactMaxTest cap the artifacts a test keeps.
	ArtifactMaxFile, ArtifactMaxTest int64
	// LogMaxLines and LogMaxBytes cap the output lines a test keeps and
	// the bytes of their text.
	LogMaxLines, LogMaxBytes int64
	// SecureCookies marks session cookies Secure (the server is behind TLS).
	SecureCookies bool
	// TrustedProxies (CIDRs or addresses) may report the client's address
	// in ClientIPHeader (X-Forwarded-For or X-Real-IP).
	TrustedProxies, ClientIPHeader string
	// MaxTestTimeout is the longest execution timeout a framework may ask for.
	MaxTestTimeout time.Duration
	// SecretsKeyFile holds the key that seals secrets kept in the database
	// (teams' GitHub credentials); the central worker needs the same.
	SecretsKeyFile string
	// RetireBootstrapToken retires the bootstrap token at start: it and
	// every token made with it stop working, and none is made again.
	RetireBootstrapToken bool
	// BootstrapToken and AdminPassword come from the environment only
	// (PITWALL_BOOTSTRAP_TOKEN, PITWALL_ADMIN_PASSWORD, or their _FILE).
	BootstrapToken, AdminPassword string

	// envErr is a bad value in an environment variable, for Validate.
	envErr error
	dbURL  secret.Flag
	// clientIP is what Validate made of TrustedProxies and ClientIPHeader.
	clientIP *clientip.Resolver
}

func (c *Config) flags(fs *flag.FlagSet) {
	c.Temporal.Flags(fs)
	fs.StringVar(&c.Listen, "listen", config.Env("PITWALL_LISTEN", "127.0.0.1:8080"), "address to serve on (env PITWALL_LISTEN)")
	fs.StringVar(&c.PublicURL, "public-url", os.Getenv("PITWALL_PUBLIC_URL"), "URL users reach the server at (env PITWALL_PUBLIC_URL; default from --listen)")
	c.dbURL.Flags(fs, "database-url", "PITWALL_DATABASE_URL", "PostgreSQL URL")
	fs.BoolVar(&c.RetireBootstrapToken, "retire-bootstrap-token", config.Env("PITWALL_RETIRE_BOOTSTRAP_TOKEN", "") == "true",
		"retire the bootstrap token for good: it and every token made with it stop working, and PITWALL_BOOTSTRAP_TOKEN is ignored from then on (env PITWALL_RETIRE_BOOTSTRAP_TOKEN=true)")
	fs.BoolVar(&c.SecureCookies, "secure-cookies", config.Env("PITWALL_SECURE_COOKIES", "") == "true", "mark session cookies Secure (behind a TLS proxy; env PITWALL_SECURE_COOKIES=true)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", os.Getenv("PITWALL_TRUSTED_PROXIES"), "comma-separated CIDRs or addresses of the proxies in front of the server, whose client address header is believed (env PITWALL_TRUSTED_PROXIES)")
	fs.StringVar(&c.ClientIPHeader, "client-ip-header", os.Getenv("PITWALL_CLIENT_IP_HEADER"), "header the trusted proxies put the client's address in: X-Forwarded-For (the default) or X-Real-IP (env PITWALL_CLIENT_IP_HEADER)")
	fs.Int64Var(&c.ArtifactMaxFile, "artifact-max-file", agents.DefaultArtifactMaxFile, "largest artifact file kept, in bytes")
	fs.Int64Var(&c.ArtifactMaxTest, "artifact-max-test", agents.DefaultArtifactMaxTest, "most artifact bytes kept per test")
	fs.Int64Var(&c.LogMaxLines, "log-max-lines", agents.DefaultLogMaxLines, "most output lines kept per test; the rest are counted and dropped (env PITWALL_LOG_MAX_LINES)")
	fs.Int64Var(&c.LogMaxBytes, "log-max-bytes", agents.DefaultLogMaxBytes, "most bytes of output lines kept per test; the rest are counted and dropped (env PITWALL_LOG_MAX_BYTES)")
	fs.StringVar(&c.SecretsKeyFile, "secrets-key-file", os.Getenv("PITWALL_SECRETS_KEY_FILE"),
		"key file (32 random bytes, base64) sealing the secrets kept in the database, such as teams' GitHub credentials; the central worker needs the same (env PITWALL_SECRETS_KEY_FILE)")
	fs.DurationVar(&c.MaxTestTimeout, "max-test-timeout", tests.DefaultMaxTimeout,
		"longest execution timeout a framework may ask for: a test holds its hosts that long (env PITWALL_MAX_TEST_TIMEOUT)")
	c.envErr = errors.Join(config.EnvFlag(fs, "log-max-lines", "PITWALL_LOG_MAX_LINES"),
		config.EnvFlag(fs, "log-max-bytes", "PITWALL_LOG_MAX_BYTES"), config.EnvFlag(fs, "max-test-timeout", "PITWALL_MAX_TEST_TIMEOUT"))
}

// Validate reports the first bad setting; it reads the secrets.
func (c *Config) Validate() error {
	if c.envErr != nil {
		return c.envErr
	}
	url, err := c.dbURL.Load(os.Getenv)
	if err != nil {
		return err
	}
	if url != "" {
		c.DatabaseURL = url
	}
	if c.BootstrapToken, err = secret.FromEnv("PITWALL_BOOTSTRAP_TOKEN", os.Getenv); err != nil {
		return err
	}
	if c.AdminPassword, err = secret.FromEnv("PITWALL_ADMIN_PASSWORD", os.Getenv); err != nil {
		return err
	}
	if c.DatabaseURL == "" {
		return errors.New("give a database URL (--database-url or PITWALL_DATABASE_URL)")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen address %q: %w", c.Listen, err)
	}
	if c.ArtifactMaxFile <= 0 || c.ArtifactMaxTest < c.ArtifactMaxFile {
		return errors.New("artifact caps must be positive, and the per-test cap at least the per-file cap")
	}
	if c.LogMaxLines <= 0 || c.LogMaxBytes <= 0 {
		return errors.New("log caps must be positive")
	}
	if c.ClientIPHeader != "" && strings.TrimSpace(c.TrustedProxies) == "" {
		return errors.New("--client-ip-header needs --trusted-proxies: the header is believed only from them")
	}
	if c.clientIP, err = clientip.Parse(c.TrustedProxies, c.ClientIPHeader); err != nil {
		return err
	}
	if c.MaxTestTimeout < time.Second {
		return errors.New("--max-test-timeout must be at least 1s")
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Listen
	}
	return c.Temporal.Validate()
}

func main() {
	var cfg Config
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	cfg.flags(fs)
	_ = fs.Parse(os.Args[1:])
	log := telemetry.Logger(os.Stderr, "server")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, w := range append(secret.Warnings(&cfg.dbURL), cfg.Temporal.Warnings()...) {
		log.Warn(w)
	}
	pool, err := store.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Apply(ctx, pool, log); err != nil {
		return err
	}
	if cfg.RetireBootstrapToken {
		if err := server.RetireBootstrap(ctx, store.New(pool), log); err != nil {
			return err
		}
	}
	password, err := server.Bootstrap(ctx, store.New(pool), cfg.BootstrapToken, cfg.AdminPassword, log)
	if err != nil {
		return err
	}
	if password != "" && cfg.AdminPassword == "" {
		// Shown once: it is stored only as an argon2id hash.
		fmt.Fprintf(os.Stderr, "pitwall: created the site admin 'admin' with password %s\n", password)
	}
	opts, err := cfg.Temporal.Options()
	if err != nil {
		return err
	}
	opts.Logger = telemetry.Temporal(log)
	// Lazy: the server starts (and answers /healthz) while Temporal comes up.
	tc, err := client.NewLazyClient(opts)
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	defer tc.Close()
	var box *sealed.Box
	if cfg.SecretsKeyFile != "" {
		if box, err = sealed.LoadBox(cfg.SecretsKeyFile); err != nil {
			return err
		}
	} else {
		log.Warn("no --secrets-key-file: teams cannot connect to GitHub")
	}
	srv := server.HTTP(cfg.Listen, server.New(server.Deps{Store: store.New(pool), Temporal: tc, Secrets: box,
		Namespace: cfg.Temporal.Namespace, PublicURL: cfg.PublicURL, Log: log, Ctx: ctx,
		ArtifactMaxFile: cfg.ArtifactMaxFile, ArtifactMaxTest: cfg.ArtifactMaxTest,
		LogMaxLines: cfg.LogMaxLines, LogMaxBytes: cfg.LogMaxBytes, SecureCookies: cfg.SecureCookies,
		ClientIP: cfg.clientIP, MaxTestTimeout: cfg.MaxTestTimeout}))
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	log.Info("server listening", "url", cfg.PublicURL)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
