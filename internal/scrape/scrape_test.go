package scrape

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"
)

// setup serves a real client_golang registry holding a counter with hostile
// label values, a gauge, a histogram and a summary.
func setup(t *testing.T) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "app_requests_total", Help: "Requests."}, []string{"path", "code"})
	inflight := prometheus.NewGauge(prometheus.GaugeOpts{Name: "app_inflight", Help: "In flight."})
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "app_latency_seconds", Help: "Latency.", Buckets: []float64{0.01, 0.1}})
	sum := prometheus.NewSummary(prometheus.SummaryOpts{Name: "app_size_bytes", Help: "Sizes.", Objectives: map[float64]float64{0.5: 0.05}})
	empty := prometheus.NewSummary(prometheus.SummaryOpts{Name: "app_empty", Help: "Never observed.", Objectives: map[float64]float64{0.9: 0.01}})
	reg.MustRegister(reqs, inflight, lat, sum, empty)

	reqs.WithLabelValues("/work", "200").Add(7)
	reqs.WithLabelValues(`x",code="500`, "200").Add(1) // tries to forge a label
	reqs.WithLabelValues("line\nbreak\\ü}", "").Add(2) // newline, backslash, brace, empty label
	inflight.Set(3.5)
	lat.Observe(0.005)
	lat.Observe(0.05)
	lat.Observe(2)
	sum.Observe(100)

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv, reg
}

func values(r Result) map[string]float64 {
	m := map[string]float64{}
	for _, s := range r.Samples {
		m[s.Name] = s.Value
	}
	return m
}

func TestScrapeRegistry(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	res, err := (&Scraper{}).Scrape(context.Background(), srv.URL)
	require.NoError(t, err)
	got := values(res)
	want := map[string]float64{
		`prom.app_requests_total{code="200",path="/work"}`:          7,
		`prom.app_requests_total{code="200",path="x\",code=\"500"}`: 1,
		`prom.app_requests_total{path="line\nbreak\\ü}"}`:           2,
		`prom.app_inflight`:                          3.5,
		`prom.app_latency_seconds_bucket{le="0.01"}`: 1,
		`prom.app_latency_seconds_bucket{le="0.1"}`:  2,
		`prom.app_latency_seconds_bucket{le="+Inf"}`: 3,
		`prom.app_latency_seconds_sum`:               2.055,
		`prom.app_latency_seconds_count`:             3,
		`prom.app_size_bytes{quantile="0.5"}`:        100,
		`prom.app_size_bytes_sum`:                    100,
		`prom.app_size_bytes_count`:                  1,
		`prom.app_empty_sum`:                         0,
		`prom.app_empty_count`:                       0,
	}
	for name, v := range want {
		require.Contains(t, got, name)
		require.InDelta(t, v, got[name], 1e-9, name)
	}
	require.Len(t, got, len(want), "no other series: %v", got)
	require.Equal(t, 1, res.Dropped, "the empty summary's NaN quantile is left out")
	for i := 1; i < len(res.Samples); i++ {
		require.Less(t, res.Samples[i-1].Name, res.Samples[i].Name, "sorted by name")
	}
}

func TestScrapeCapsSeries(t *testing.T) {
	t.Parallel()
	srv, reg := setup(t)
	many := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "app_many", Help: "Many."}, []string{"i"})
	reg.MustRegister(many)
	for i := range 500 {
		many.WithLabelValues(strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)).Set(1)
	}
	res, err := (&Scraper{MaxSeries: 50}).Scrape(context.Background(), srv.URL)
	require.NoError(t, err)
	require.Len(t, res.Samples, 50)
	require.Equal(t, 500+14+1-50, res.Dropped)
	again, err := (&Scraper{MaxSeries: 50}).Scrape(context.Background(), srv.URL)
	require.NoError(t, err)
	require.Equal(t, res.Samples, again.Samples, "the same series are kept on every scrape")
}

func TestScrapeDropsLongNames(t *testing.T) {
	t.Parallel()
	res, err := Parse(strings.NewReader(`m{v="`+strings.Repeat("z", 300)+`"} 1`+"\nok 2\n"), 0)
	require.NoError(t, err)
	require.Equal(t, []Sample{{"prom.ok", 2}}, res.Samples)
	require.Equal(t, 1, res.Dropped)
}

func TestScrapeUTF8NameCannotForgeLabels(t *testing.T) {
	t.Parallel()
	res, err := Parse(strings.NewReader(`{"a{b=\"c\"}", x="1"} 4`+"\n"), 0)
	require.NoError(t, err)
	require.Equal(t, []Sample{{`prom."a{b=\"c\"}"{x="1"}`, 4}}, res.Samples)
}

func TestScrapeErrors(t *testing.T) {
	t.Parallel()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	start := time.Now()
	_, err := (&Scraper{Timeout: 200 * time.Millisecond}).Scrape(context.Background(), slow.URL)
	require.Error(t, err)
	require.Less(t, time.Since(start), 3*time.Second, "the timeout ends the scrape")

	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	t.Cleanup(status.Close)
	_, err = (&Scraper{}).Scrape(context.Background(), status.URL)
	require.ErrorContains(t, err, "503")

	srv, _ := setup(t)
	redirect := httptest.NewServer(http.RedirectHandler(srv.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	_, err = (&Scraper{}).Scrape(context.Background(), redirect.URL)
	require.ErrorContains(t, err, "302", "a redirect is not followed to another address")

	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>not metrics</html>\n"))
	}))
	t.Cleanup(junk.Close)
	_, err = (&Scraper{}).Scrape(context.Background(), junk.URL)
	require.ErrorContains(t, err, "parse metrics")

	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := []byte("# HELP x " + strings.Repeat("h", 1<<20) + "\n")
		for range MaxBodyBytes>>20 + 2 {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	}))
	t.Cleanup(huge.Close)
	_, err = (&Scraper{}).Scrape(context.Background(), huge.URL)
	require.ErrorContains(t, err, "larger than")
}

// BenchmarkParse parses a service's /metrics of about 300 series: the cost
// the monitor pays per service per sample.
func BenchmarkParse(b *testing.B) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "app_latency_seconds", Help: "Latency."}, []string{"path"})
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "app_requests_total", Help: "Requests."}, []string{"path", "code"})
	reg.MustRegister(h, c)
	for i := range 20 {
		p := "/p" + strconv.Itoa(i)
		h.WithLabelValues(p).Observe(0.01)
		c.WithLabelValues(p, "200").Inc()
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	b.ReportAllocs()
	for b.Loop() {
		res, err := Parse(strings.NewReader(body), 0)
		if err != nil || len(res.Samples) < 300 {
			b.Fatal(err, len(res.Samples))
		}
	}
}
