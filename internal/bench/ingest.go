package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/api"
	"github.com/pitwall/pitwall/internal/ingest"
)

// measureIngest posts sample batches to the server's ingest endpoint as an
// agent would and compares the rate with a bare pgx CopyFrom of the same
// rows into the same table.
func measureIngest(ctx context.Context, e *env) []Result {
	const name, goal = "ingest", "≥ 500k samples/s and ≥ 0.3 × bare COPY"
	const series, points, workers = 10, 1000, 2
	batches := e.pick(2, 50)
	repeats := e.pick(1, 5)
	perRound := batches * series * points
	method := fmt.Sprintf("%d rounds, alternating: %d batches of %d series × %d points (%d samples a round) POSTed as JSON to "+
		"%s with the agent's token by %d concurrent clients over real HTTP into PostgreSQL (batch claim + COPY in one transaction), "+
		"vs the same rows by pgx.CopyFrom into the same samples table over %d connections; samples/s per round, median ± half IQR",
		repeats, batches, series, points, perRound, ingest.SamplesPath, workers, workers)
	agent := e.st.agents[0]
	fw := "bench-ingest"
	if err := e.st.apply(ctx, "name: "+fw+"\nexecution:\n  script: \"#!/bin/sh\\n\"\n  hosts: ["+agent+"]\n"); err != nil {
		return []Result{failed(name, method, goal, err)}
	}
	t, err := e.st.submit(ctx, api.RunRequest{Framework: fw})
	if err == nil {
		t, err = e.st.wait(ctx, t.ID, 2*time.Minute)
	}
	if err != nil {
		return []Result{failed(name, method, goal, err)}
	}
	start := time.Now().Add(-time.Hour).UnixMilli()
	mkBatch := func(round, b int) ingest.Samples {
		s := ingest.Samples{Header: ingest.Header{TestID: t.ID, Host: agent, Batch: fmt.Sprintf("bench-%d-%d", round, b)}}
		for k := range series {
			ser := ingest.Series{Metric: fmt.Sprintf("bench.m%02d", k), TS: make([]int64, points), Values: make([]float64, points)}
			for i := range points {
				ser.TS[i] = start + int64(b*points+i)*1000
				ser.Values[i] = float64((i*7 + k) % 100)
			}
			s.Series = append(s.Series, ser)
		}
		return s
	}
	client := &http.Client{Timeout: time.Minute}
	post := func(body []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.st.url+ingest.SamplesPath, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.st.agentTokens[agent])
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ingest: %s: %s", resp.Status, bytes.TrimSpace(msg))
		}
		return nil
	}
	copyRows := func(b *ingest.Samples) error {
		conn, err := e.st.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		si, pi := 0, 0
		row := make([]any, 5)
		_, err = conn.Conn().CopyFrom(ctx, pgx.Identifier{"samples"}, []string{"test_id", "host", "metric", "ts", "value"},
			pgx.CopyFromFunc(func() ([]any, error) {
				for si < len(b.Series) && pi >= len(b.Series[si].TS) {
					si, pi = si+1, 0
				}
				if si >= len(b.Series) {
					return nil, nil
				}
				ser := &b.Series[si]
				row[0], row[1], row[2], row[3], row[4] = b.TestID, "bare-copy", ser.Metric, time.UnixMilli(ser.TS[pi]), ser.Values[pi]
				pi++
				return row, nil
			}))
		return err
	}
	// parallel runs f for each of n jobs on the workers and returns the wall time.
	parallel := func(n int, f func(i int) error) (time.Duration, error) {
		jobs := make(chan int, n)
		for i := range n {
			jobs <- i
		}
		close(jobs)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var first error
		t0 := time.Now()
		for range workers {
			wg.Go(func() {
				for i := range jobs {
					if err := f(i); err != nil {
						mu.Lock()
						first = err
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		return time.Since(t0), first
	}
	var ours, bare []float64
	for round := range repeats {
		// The agent's side (building and encoding batches) is not timed.
		bodies := make([][]byte, batches)
		raw := make([]ingest.Samples, batches)
		for b := range batches {
			raw[b] = mkBatch(round, b)
			bodies[b], _ = json.Marshal(&raw[b])
		}
		d, err := parallel(batches, func(i int) error { return post(bodies[i]) })
		if err != nil {
			return []Result{failed(name, method, goal, err)}
		}
		ours = append(ours, float64(perRound)/d.Seconds())
		d, err = parallel(batches, func(i int) error { return copyRows(&raw[i]) })
		if err != nil {
			return []Result{failed(name, method, goal, err)}
		}
		bare = append(bare, float64(perRound)/d.Seconds())
	}
	r := Result{Name: name, Method: method, Goal: goal, Ours: summarize("samples/s", ours, false),
		PeerName: "bare pgx.CopyFrom", Peer: summarize("samples/s", bare, false)}
	r.setRatio()
	r.Met = met(r.Ours.Median >= 500000 && r.Ratio >= 0.3)
	return []Result{r}
}
