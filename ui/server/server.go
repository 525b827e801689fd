// Package server composes Pitwall's HTTP server: pages, the JSON API,
// health endpoints and /metrics.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/sealed"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/accounts"
	"github.com/pitwall/pitwall/service/agents"
	alertsvc "github.com/pitwall/pitwall/service/alerts"
	"github.com/pitwall/pitwall/service/changepoints"
	"github.com/pitwall/pitwall/service/frameworks"
	ghsvc "github.com/pitwall/pitwall/service/github"
	"github.com/pitwall/pitwall/service/retention"
	"github.com/pitwall/pitwall/service/schedules"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/account"
	alertpages "github.com/pitwall/pitwall/ui/alerts"
	"github.com/pitwall/pitwall/ui/authn"
	"github.com/pitwall/pitwall/ui/clientip"
	"github.com/pitwall/pitwall/ui/compare"
	"github.com/pitwall/pitwall/ui/dashboard"
	fwpages "github.com/pitwall/pitwall/ui/frameworks"
	"github.com/pitwall/pitwall/ui/jsonapi"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/login"
	"github.com/pitwall/pitwall/ui/route"
	"github.com/pitwall/pitwall/ui/search"
	"github.com/pitwall/pitwall/ui/series"
	"github.com/pitwall/pitwall/ui/static"
	"github.com/pitwall/pitwall/ui/testpage"
	"github.com/pitwall/pitwall/ui/trends"
)

// Deps are what the server needs.
type Deps struct {
	Store     *store.Store
	Temporal  client.Client
	Namespace string
	PublicURL string
	Log       *slog.Logger
	// Ctx bounds background work such as registering search attributes.
	Ctx context.Context
	// ArtifactMaxFile and ArtifactMaxTest cap artifacts (0: the defaults).
	ArtifactMaxFile, ArtifactMaxTest int64
	// LogMaxLines and LogMaxBytes cap the output a test keeps (0: the defaults).
	LogMaxLines, LogMaxBytes int64
	// SecureCookies marks session cookies Secure behind a TLS proxy.
	SecureCookies bool
	// ClientIP finds a request's client address behind trusted proxies
	// (nil: the peer's address).
	ClientIP *clientip.Resolver
	// MaxTestTimeout is the longest execution timeout a framework may ask
	// for (0: tests.DefaultMaxTimeout).
	MaxTestTimeout time.Duration
	// Secrets seals the secrets kept in the database (nil: teams cannot
	// connect to GitHub).
	Secrets *sealed.Box
}

// New returns the server's handler with its own metrics registry.
func New(d Deps) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if d.Store != nil {
		reg.MustRegister(&opsCollector{store: d.Store, log: d.Log})
	}
	mux := route.NewMux()
	a := &jsonapi.API{
		Tests:        tests.New(d.Store, d.Temporal, d.PublicURL, d.Log, reg),
		Frameworks:   &frameworks.Service{Store: d.Store, Log: d.Log, MaxTimeout: d.MaxTestTimeout},
		ChangePoints: &changepoints.Service{Store: d.Store, Log: d.Log},
		Accounts:     &accounts.Service{Store: d.Store, Log: d.Log},
		Agents:       agents.New(d.Store, d.Log, reg),
		Log:          d.Log,
	}
	a.Tests.MaxTimeout = d.MaxTestTimeout
	a.GitHub = &ghsvc.Service{Store: d.Store, Temporal: d.Temporal, Box: d.Secrets, Tests: a.Tests,
		PublicURL: strings.TrimRight(d.PublicURL, "/"), Log: d.Log}
	a.Schedules = &schedules.Service{Store: d.Store, Temporal: d.Temporal, Namespace: d.Namespace, Tests: a.Tests,
		PublicURL: strings.TrimRight(d.PublicURL, "/"), Log: d.Log}
	a.Frameworks.Noise = a.Schedules
	a.Alerts = &alertsvc.Service{Store: d.Store, Temporal: d.Temporal, Box: d.Secrets,
		PublicURL: strings.TrimRight(d.PublicURL, "/"), Log: d.Log}
	a.Retention = &retention.Service{Store: d.Store, Tests: a.Tests, Log: d.Log}
	if d.ArtifactMaxFile > 0 {
		a.Agents.ArtifactMaxFile = d.ArtifactMaxFile
	}
	if d.ArtifactMaxTest > 0 {
		a.Agents.ArtifactMaxTest = d.ArtifactMaxTest
	}
	if d.LogMaxLines > 0 {
		a.Agents.LogMaxLines = d.LogMaxLines
	}
	if d.LogMaxBytes > 0 {
		a.Agents.LogMaxBytes = d.LogMaxBytes
	}
	a.Routes(mux)
	if d.Ctx != nil && d.Namespace != "" {
		go a.Tests.RegisterSearchAttributes(d.Ctx, d.Namespace)
	}
	an := &authn.Authn{Store: d.Store, Log: d.Log, SecureCookies: d.SecureCookies, ClientIP: d.ClientIP}
	login.Handler{Authn: an}.Routes(mux)
	mux.Handle("GET /static/", static.Handler())
	tp := testpage.Handler{Tests: a.Tests, Log: d.Log}
	mux.HandleFunc("GET /tests/{id}", tp.Page)
	mux.HandleFunc("GET /tests/{id}/live", tp.Live)
	mux.Route("GET /tests/{id}/logs/stream", route.Policy{Long: true}, tp.LogStream)
	mux.Route("GET /tests/{id}/log.txt", route.Policy{Long: true}, tp.LogText)
	mux.HandleFunc("POST /tests/{id}/abort", tp.Abort)
	series.Handler{Tests: a.Tests, Log: d.Log}.Routes(mux)
	dash := dashboard.Handler{Tests: a.Tests, Agents: a.Agents, Alerts: a.Alerts, ChangePoints: a.ChangePoints, Log: d.Log}
	mux.Handle("GET /{$}", dash)
	mux.HandleFunc("GET /dashboard/live", dash.Live)
	mux.HandleFunc("GET /agents", dash.AgentsPage)
	mux.HandleFunc("POST /agents/{name}/noise", dash.MeasureNoise)
	mux.HandleFunc("POST /agents/{name}/exclude", dash.Exclude)
	account.Handler{Accounts: a.Accounts, GitHub: a.GitHub, Alerts: a.Alerts, Log: d.Log}.Routes(mux)
	(&fwpages.Handler{Frameworks: a.Frameworks, Tests: a.Tests, Agents: a.Agents, Schedules: a.Schedules,
		Alerts: a.Alerts, ChangePoints: a.ChangePoints, Log: d.Log}).Routes(mux)
	search.Handler{Tests: a.Tests, Log: d.Log}.Routes(mux)
	mux.Handle("GET /compare", compare.Handler{Tests: a.Tests, Frameworks: a.Frameworks, Log: d.Log})
	trends.Handler{Frameworks: a.Frameworks, ChangePoints: a.ChangePoints, Log: d.Log}.Routes(mux)
	alertpages.Handler{Alerts: a.Alerts, Frameworks: a.Frameworks, Log: d.Log}.Routes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", ready(d))
	// Any other address: the not-found page, inside the layout (the API
	// has its own catch-all under /api/, answering JSON).
	mux.HandleFunc("/", layout.NotFound)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	counts := layout.Counts{OpenAlerts: a.Alerts.OpenCount, Log: d.Log}
	return instrument(counts.Middleware(mux.Serve(an.Middleware)), reg, mux.ServeMux)
}

// Connection limits of every request. Routes whose policy is Long (live
// logs, downloads, uploads, export and import) lift the read and write
// deadlines for themselves and keep data moving instead (route.Idle).
const (
	// ReadHeaderTimeout cuts off a client that sends its headers slowly.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request, body included; it also
	// ends the request's context when it passes.
	ReadTimeout = time.Minute
	// WriteTimeout bounds a request from its headers to the end of the answer.
	WriteTimeout = 2 * time.Minute
	// IdleTimeout closes a kept-alive connection that sends nothing more.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes = 64 << 10
)

// HTTP is the http.Server that serves h on addr with the server's
// connection limits.
func HTTP(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}

// ready checks the database, Temporal, and that at least one agent is
// online. Anyone may ask, so it says what fails, not why: the errors, which
// name hosts, users and addresses, go to the server's log.
func ready(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		checks := map[string]string{}
		ok := true
		log := d.Log
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		fail := func(name string, err error) {
			log.Warn("readiness check failed", "check", name, "err", err)
			checks[name] = "failing (see the server log)"
			ok = false
		}
		if err := d.Store.Pool().Ping(ctx); err != nil {
			fail("database", err)
		} else {
			checks["database"] = "ok"
		}
		if _, err := d.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			fail("temporal", err)
		} else {
			checks["temporal"] = "ok"
		}
		online := 0
		var exposed []string
		if agents, err := d.Store.AgentList(ctx); err == nil {
			for _, a := range agents {
				if !a.Online {
					continue
				}
				online++
				if !a.Facts.Isolated() {
					exposed = append(exposed, a.Name)
				}
			}
		}
		checks["agents_online"] = strconv.Itoa(online)
		// An operator's choice, not a failure: said, not refused.
		checks["script_isolation"] = "ok"
		if len(exposed) > 0 {
			log.Warn("scripts not isolated", "agents", strings.Join(exposed, ", "))
			checks["script_isolation"] = fmt.Sprintf("scripts not isolated on %d agent(s) (the agents page names them)", len(exposed))
		}
		if online == 0 {
			ok = false
		}
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "checks": checks})
	}
}

// instrument counts and times every request by route pattern.
func instrument(next http.Handler, reg prometheus.Registerer, mux *http.ServeMux) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pitwall_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "pitwall_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
	}, []string{"route"})
	reg.MustRegister(requests, duration)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		_, route := mux.Handler(r)
		if route == "" {
			route = "unmatched"
		}
		requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Bootstrap prepares a fresh installation: with a bootstrap token (at
// least 32 characters) it makes sure a site-admin API token with exactly
// that value exists, unless the bootstrap token was retired (then it
// makes none, ever, and says so in the log); when there are no users yet
// it creates the site admin "admin" with adminPassword (or a random one)
// and returns the password it set, to be shown once. It changes nothing
// on later starts: a bootstrap token once revoked stays revoked.
func Bootstrap(ctx context.Context, s *store.Store, token, adminPassword string, log *slog.Logger) (string, error) {
	if token != "" {
		if len(token) < 32 {
			return "", fmt.Errorf("PITWALL_BOOTSTRAP_TOKEN must be at least 32 characters")
		}
		retired, err := s.BootstrapRetired(ctx)
		if err != nil {
			return "", fmt.Errorf("bootstrap token: %w", err)
		}
		if retired {
			log.Warn("PITWALL_BOOTSTRAP_TOKEN is set but the bootstrap token was retired: it does not work (docs/security.md)")
		} else if _, err := s.TokenCreate(ctx, store.NewToken{Hash: auth.HashToken(token), Name: "bootstrap",
			Kind: auth.KindUser, SiteAdmin: true, Bootstrap: true}); err != nil {
			return "", fmt.Errorf("bootstrap token: %w", err)
		}
	}
	n, err := s.UserCount(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	password := adminPassword
	if password == "" {
		password = auth.RandomPassword()
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("admin password: %w", err)
	}
	id, err := s.UserCreate(ctx, "admin", hash, true)
	if err != nil {
		return "", fmt.Errorf("create admin: %w", err)
	}
	if err := s.MembershipSet(ctx, "default", id, auth.Admin); err != nil {
		return "", err
	}
	log.Info("created the site admin 'admin'")
	return password, nil
}

// RetireBootstrap retires the bootstrap token at start-up (the server's
// --retire-bootstrap-token): it and every token made with it stop
// working, and no later start makes one again. The audit log names the
// server as who did it.
func RetireBootstrap(ctx context.Context, s *store.Store, log *slog.Logger) error {
	if retired, err := s.BootstrapRetired(ctx); err != nil || retired {
		return err
	}
	ctx = service.WithPrincipal(ctx, &auth.Principal{Kind: auth.KindUser, Name: "server --retire-bootstrap-token", SiteAdmin: true})
	if err := (&accounts.Service{Store: s, Log: log}).RetireBootstrap(ctx); err != nil {
		return err
	}
	log.Info("the bootstrap token is retired: PITWALL_BOOTSTRAP_TOKEN no longer works")
	return nil
}
