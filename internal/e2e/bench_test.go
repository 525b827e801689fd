package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pitwall/pitwall/internal/api"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/store"
)

// BenchmarkSeriesAPI times GET /series for a test with 40 series of 3,600
// points (an hour at 1 s), downsampled to the default 1,000 points per
// series, and reports the median and 99th percentile.
//
//	go test -run '^$' -bench SeriesAPI ./internal/e2e
func BenchmarkSeriesAPI(b *testing.B) {
	t := &testing.T{}
	applyFramework(t, "name: bench-series\nexecution: {script: \"#!/bin/sh\\n\"}\n")
	body, _ := json.Marshal(api.RunRequest{Framework: "bench-series"})
	req, _ := http.NewRequest(http.MethodPost, stack.server.URL+"/api/v1/tests", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+stack.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var test api.Test
	_ = json.NewDecoder(resp.Body).Decode(&test)
	resp.Body.Close()

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
	if _, err := store.New(stack.pool).SampleIngest(b.Context(), &batch); err != nil {
		b.Fatal(err)
	}
	url := fmt.Sprintf("%s/api/v1/tests/%d/series?host=bench-host", stack.server.URL, test.ID)
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+stack.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n == 0 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		took = append(took, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
