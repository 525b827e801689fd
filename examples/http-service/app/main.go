// Command app is the http-service example's system under test: a small HTTP
// service whose /work handler does a fixed amount of CPU work per request
// (workRounds), with /healthz for readiness and /metrics for Prometheus.
//
//	app [-addr :8080]
//	app -check http://127.0.0.1:8080/healthz   (exit 0 when it answers 200)
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// workRounds is how many SHA-256 rounds one /work request computes: the
// service's whole cost per request. Raising it by 20% makes /work about 20%
// slower, which is how the example shows a regression.
const workRounds = 40000

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "listen address")
	check := fs.String("check", "", "only GET this URL and exit 0 if it answers 200 (a readiness command for FROM scratch images)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *check != "" {
		return checkURL(*check, stderr)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	srv := &http.Server{Handler: newHandler(prometheus.NewRegistry()), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("listening", "addr", ln.Addr().String(), "work_rounds", workRounds)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

// newHandler serves /work, /healthz and /metrics, counting and timing each
// request into reg.
func newHandler(reg *prometheus.Registry) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "app_requests_total", Help: "Requests served, by path and status code.",
	}, []string{"path", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "app_request_duration_seconds", Help: "Time to serve a request.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"path"})
	reg.MustRegister(requests, duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mux := http.NewServeMux()
	instrument := func(path string, h http.HandlerFunc) {
		mux.Handle(path, promhttp.InstrumentHandlerDuration(duration.MustCurryWith(prometheus.Labels{"path": path}),
			promhttp.InstrumentHandlerCounter(requests.MustCurryWith(prometheus.Labels{"path": path}), h)))
	}
	instrument("/work", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, work(workRounds))
	})
	instrument("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// work is the per-request cost: rounds of SHA-256 over the previous sum.
func work(rounds int) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(rounds)))
	for range rounds {
		sum = sha256.Sum256(sum[:])
	}
	return hex.EncodeToString(sum[:8])
}

func checkURL(url string, stderr io.Writer) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "check:", resp.Status)
		return 1
	}
	return 0
}
