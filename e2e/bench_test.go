package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// BenchmarkSeriesAPI times GET /series for a test with 40 series of 3,600
// points (an hour at 1 s), downsampled to the default 1,000 points per
// series, and reports the median and 99th percentile.
//
//	go test -run '^$' -bench SeriesAPI ./e2e/
func BenchmarkSeriesAPI(b *testing.B) {
	st.Apply(b, "name: bench-series\nexecution: {script: \"#!/bin/sh\\n\"}\n")
	var test wire.Test
	if code := st.Call(b, http.MethodPost, "/api/v1/tests", "application/json", []byte(`{"framework":"bench-series"}`), &test); code != http.StatusCreated {
		b.Fatalf("create test: status %d", code)
	}

	start := time.Now().Add(-time.Hour).UnixMilli()
	batch := ingest.Samples{Header: ingest.Header{TestID: test.ID, Host: "bench-host", Batch: "bench"}}
	for s := range 40 {
		ser := ingest.Series{Metric: fmt.Sprintf("bench.metric%02d", s)}
		for i := range 3600 {
			ser.TS = append(ser.TS, start+int64(i)*1000)
			ser.Values = append(ser.Values, float64((i*7+s)%100))
		}
		batch.Series = append(batch.Series, ser)
	}
	if _, err := store.New(st.Pool).SampleIngest(b.Context(), &batch); err != nil {
		b.Fatal(err)
	}
	benchGET(b, fmt.Sprintf("/api/v1/tests/%d/series?host=bench-host", test.ID), st.Token, "")
}

// benchGET times GET path with the token over real HTTP (after one
// request whose body must contain want), reports p50-ms and p99-ms, and
// returns them.
func benchGET(b *testing.B, path, token, want string) (p50, p99 time.Duration) {
	fetch := func() string {
		req, _ := http.NewRequest(http.MethodGet, st.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			b.Fatalf("GET %s: %s: %s", path, resp.Status, body)
		}
		return string(body)
	}
	if page := fetch(); !strings.Contains(page, want) {
		b.Fatalf("GET %s does not show %q", path, want)
	}
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		fetch()
		took = append(took, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(took)
	p50, p99 = took[len(took)/2], took[len(took)*99/100]
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	return p50, p99
}

// seedSystemSeries stores 40 system series of 3,600 points (an hour at
// 1 s) for a test on one host, named as the sampler names them, so the
// test page groups them into CPU, per-core, memory, disk, network,
// process and load charts.
func seedSystemSeries(tb testing.TB, testID int64, host string) {
	tb.Helper()
	var names []string
	for _, f := range []string{"user", "system", "iowait", "steal", "idle"} {
		names = append(names, "cpu."+f)
	}
	for c := range 4 {
		names = append(names, fmt.Sprintf("cpu%d.user", c), fmt.Sprintf("cpu%d.system", c))
	}
	names = append(names, "mem.used", "mem.cached", "mem.available", "mem.swap_used", "load.1", "load.5", "load.15", "ctxt")
	for _, d := range []string{"sda", "nvme0n1"} {
		names = append(names, "disk."+d+".read_bytes", "disk."+d+".write_bytes", "disk."+d+".reads", "disk."+d+".writes")
	}
	for _, f := range []string{"rx_bytes", "tx_bytes", "rx_packets", "tx_packets"} {
		names = append(names, "net.eth0."+f)
	}
	names = append(names, "proc.4242.cpu", "proc.4242.rss", "proc.4243.cpu", "proc.4243.rss", "cpu.nice", "cpu.irq", "cpu.softirq")
	if len(names) != 40 {
		tb.Fatalf("%d series, want 40", len(names))
	}
	start := time.Now().Add(-time.Hour).UnixMilli()
	batch := ingest.Samples{Header: ingest.Header{TestID: testID, Host: host, Batch: fmt.Sprintf("seed-%d-%s", testID, host)}}
	for s, name := range names {
		ser := ingest.Series{Metric: name}
		for i := range 3600 {
			ser.TS = append(ser.TS, start+int64(i)*1000)
			ser.Values = append(ser.Values, float64((i*7+s)%100))
		}
		batch.Series = append(batch.Series, ser)
	}
	if _, err := store.New(st.Pool).SampleIngest(context.Background(), &batch); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkTestPage times GET /tests/{id} (the server's render) for a
// finished test with 40 series x 3,600 points, KPIs, a table and
// artifacts, and reports the median and 99th percentile. The charts are
// drawn by the browser afterwards; TestBrowserTestPageDrawsLargeCharts
// logs how long that takes.
//
//	go test -run '^$' -bench TestPage ./e2e/
func BenchmarkTestPage(b *testing.B) {
	st.Apply(b, "name: tp-bench\nexecution: {script: \"#!/bin/sh\\necho 'Latency, 12ms' > results.csv\\nprintf 'a,b\\\\n1,2\\\\n' > t.csv\\necho run\\n\"}\n")
	test := st.Run(b, wire.RunRequest{Framework: "tp-bench"})
	if test == nil || test.State != wire.StateFinished {
		b.Fatalf("seed test did not finish: %+v", test)
	}
	seedSystemSeries(b, test.ID, "bench-host")
	benchGET(b, fmt.Sprintf("/tests/%d", test.ID), st.Token, "")
}

// BenchmarkTestPageAnswer times GET /tests/{id} for a judged test (three
// KPIs, three iterations, six baseline tests pooled for the answer
// table), and GET /compare?test={id}, the test against its baseline.
//
//	go test -run '^$' -bench 'TestPageAnswer|CompareBaseline' ./e2e/
func BenchmarkTestPageAnswer(b *testing.B) {
	_, c := answerTests(b)
	benchGET(b, fmt.Sprintf("/tests/%d", c.ID), st.Token, `id="verdict-summary"`)
}

func BenchmarkCompareBaseline(b *testing.B) {
	_, c := answerTests(b)
	benchGET(b, fmt.Sprintf("/compare?test=%d", c.ID), st.Token, `id="kpis-baseline"`)
}
