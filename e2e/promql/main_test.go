// Package promql runs tests whose KPIs and series come from the
// application's own metrics: a real Prometheus server (Debian's, scraping
// every second) scrapes a small HTTP service this package runs and drives
// with load, and the framework's PromQL queries run over each test's
// window. The rest is a real Pitwall (e2e/stack): Temporal, PostgreSQL,
// the server and an agent.
package promql

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/internal/testenv"
)

var (
	st   *stack.Stack
	prom *testenv.Prometheus
	// delay is how long the service takes per request, in microseconds;
	// a test changes it to make "a commit" slower.
	delay atomic.Int64
)

// agentName is the stack's one agent.
const agentName = "promql-agent-1"

func TestMain(m *testing.M) {
	supervise.Dispatch()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	addr, stopService, err := startService()
	if err != nil {
		fmt.Fprintf(os.Stderr, "promql set-up: %v\n", err)
		return 1
	}
	defer stopService()
	st, err = stack.Start(ctx, stack.Options{Name: "promql", Agents: 1, Build: []string{"starter"},
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintf(os.Stderr, "promql set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	// Prometheus scrapes the service under test and Pitwall's own server.
	prom = testenv.StartPrometheus(ctx, addr, st.Listen)
	defer prom.Stop()
	return m.Run()
}

// startService serves /work, which takes delay, and /metrics with a
// latency histogram of 0.5 ms buckets, and sends it 100 requests a second
// until stopped: the system under test and its load.
func startService() (string, func(), error) {
	delay.Store(10_000)
	reg := prometheus.NewRegistry()
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "svc_request_duration_seconds", Help: "Time to serve /work.",
		Buckets: prometheus.LinearBuckets(0.0005, 0.0005, 80)})
	requests := prometheus.NewCounter(prometheus.CounterOpts{Name: "svc_requests_total", Help: "Requests to /work."})
	reg.MustRegister(latency, requests)
	mux := http.NewServeMux()
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		time.Sleep(time.Duration(delay.Load()) * time.Microsecond)
		requests.Inc()
		latency.Observe(time.Since(start).Seconds())
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	ctx, stop := context.WithCancel(context.Background())
	addr := ln.Addr().String()
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		hc := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			go func() {
				if resp, err := hc.Get("http://" + addr + "/work"); err == nil {
					resp.Body.Close()
				}
			}()
		}
	}()
	return addr, func() { stop(); srv.Close() }, nil
}
