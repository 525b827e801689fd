// Package server composes Pitwall's HTTP server: pages, the JSON API,
// health endpoints and /metrics.
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/ui/api"
	"github.com/pitwall/pitwall/ui/dashboard"
	"github.com/pitwall/pitwall/ui/testpage"
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
}

// New returns the server's handler with its own metrics registry.
func New(d Deps) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	a := api.New(d.Store, d.Temporal, d.PublicURL, d.Log, reg)
	if d.ArtifactMaxFile > 0 {
		a.ArtifactMaxFile = d.ArtifactMaxFile
	}
	if d.ArtifactMaxTest > 0 {
		a.ArtifactMaxTest = d.ArtifactMaxTest
	}
	a.Routes(mux)
	if d.Ctx != nil && d.Namespace != "" {
		go a.RegisterSearchAttributes(d.Ctx, d.Namespace)
	}
	mux.Handle("GET /{$}", dashboard.Handler{Store: d.Store, Log: d.Log})
	mux.Handle("GET /tests/{id}", testpage.Handler{Load: a.Test, Log: d.Log})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", ready(d))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return instrument(mux, reg)
}

// ready checks the database, Temporal, and that at least one agent is online.
func ready(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		checks := map[string]string{}
		ok := true
		fail := func(name string, err error) {
			checks[name] = err.Error()
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
		if agents, err := d.Store.AgentList(ctx); err == nil {
			for _, a := range agents {
				if a.Online {
					online++
				}
			}
		}
		checks["agents_online"] = strconv.Itoa(online)
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
func instrument(next *http.ServeMux, reg prometheus.Registerer) http.Handler {
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
		_, route := next.Handler(r)
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
