package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/wire"
)

// rowsTable is the old one-row-per-sample layout (samples before
// migration 00007), which the ingest measure fills for comparison.
const rowsTable = "bench_sample_rows"

// measureIngest posts sample batches to the server's ingest endpoint as an
// agent would and compares the rate with a bare pgx CopyFrom of the same
// chunk rows into the same table; it also times the old layout, one row
// per sample, as a further figure.
func measureIngest(ctx context.Context, e *env) []Result {
	const name, goal = "ingest", "≥ 500k samples/s and ≥ 0.3 × bare COPY"
	const series, points, workers = 10, 1000, 2
	batches := e.pick(2, 50)
	repeats := e.pick(1, 5)
	perRound := batches * series * points
	method := fmt.Sprintf("%d rounds, alternating: %d batches of %d series × %d points (%d samples a round) POSTed as JSON to "+
		"%s with the agent's token by %d concurrent clients over real HTTP into PostgreSQL (decode, checks, batch claim + COPY of "+
		"one sample_chunks row per series in one transaction), vs the same chunk rows by a bare pgx.CopyFrom into the same "+
		"sample_chunks table over %d connections; extra figure: the same samples by pgx.CopyFrom one row per sample into a plain "+
		"table of the old samples shape with its (test_id, host, metric, ts) index; samples/s per round, median ± half IQR",
		repeats, batches, series, points, perRound, ingest.SamplesPath, workers, workers)
	agent := e.st.Agents[0]
	fw := "bench-ingest"
	// Agents write only for a test that holds their host, so the batches
	// go to a test that runs until the measure aborts it.
	if _, err := e.st.Framework(ctx, "name: "+fw+"\nexecution:\n  script: \"#!/bin/sh\\nsleep 3600\\n\"\n  hosts: ["+agent+"]\n"); err != nil {
		return []Result{failed(name, method, goal, err)}
	}
	t, err := e.st.Submit(ctx, wire.RunRequest{Framework: fw})
	if err == nil {
		t, err = e.st.Await(ctx, t.ID, 2*time.Minute, func(t *wire.Test) bool { return t.State == wire.StateRunning || stack.Ended(t) })
	}
	if err == nil && t.State != wire.StateRunning {
		err = fmt.Errorf("test %d ended (%s) before the measure", t.ID, t.State)
	}
	if err != nil {
		return []Result{failed(name, method, goal, err)}
	}
	defer func() {
		ctx := context.WithoutCancel(ctx)
		_, _ = e.st.Do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/abort", t.ID), "application/json", []byte(`{"reason":"measure done"}`), nil)
		_, _ = e.st.Await(ctx, t.ID, 2*time.Minute, stack.Ended)
	}()
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
		req, err := http.NewRequestWithContext(ctx, http.MethodPost,
			e.st.URL+ingest.SamplesPath+"?"+ingest.Header{TestID: t.ID, Host: agent}.Query(), bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.st.AgentTokens[agent])
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
	// copyFrom runs one bare COPY on a connection of its own.
	copyFrom := func(table string, cols []string, src pgx.CopyFromSource) error {
		conn, err := e.st.Pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		_, err = conn.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, src)
		return err
	}
	copyChunks := func(b *ingest.Samples) error {
		rows := make([][]any, len(b.Series))
		for i, ser := range b.Series {
			first, last := time.UnixMilli(ser.TS[0]), time.UnixMilli(ser.TS[len(ser.TS)-1])
			// The chunk layout of 00026: times as deltas, values as real.
			dts, vals := make([]int32, len(ser.TS)), make([]float32, len(ser.TS))
			for j, t := range ser.TS {
				if j > 0 {
					dts[j] = int32(t - ser.TS[j-1])
				}
				vals[j] = float32(ser.Values[j])
			}
			rows[i] = []any{b.TestID, "bare-copy", ser.Metric, first, last, len(ser.TS), dts, vals, b.Batch}
		}
		return copyFrom("sample_chunks", []string{"test_id", "host", "metric", "first_ts", "last_ts", "n", "dts", "vals", "batch"},
			pgx.CopyFromRows(rows))
	}
	copyRows := func(b *ingest.Samples) error {
		si, pi := 0, 0
		row := make([]any, 5)
		return copyFrom(rowsTable, []string{"test_id", "host", "metric", "ts", "value"},
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
	}
	if _, err := e.st.Pool.Exec(ctx, `CREATE TABLE `+rowsTable+` (
			test_id bigint NOT NULL REFERENCES tests (id) ON DELETE CASCADE, host text NOT NULL, metric text NOT NULL,
			ts timestamptz NOT NULL, value double precision NOT NULL);
		CREATE INDEX ON `+rowsTable+` (test_id, host, metric, ts)`); err != nil {
		return []Result{failed(name, method, goal, err)}
	}
	defer func() { _, _ = e.st.Pool.Exec(context.WithoutCancel(ctx), `DROP TABLE `+rowsTable) }()
	var ours, bare, perRow []float64
	for round := range repeats {
		// The agent's side (building and encoding batches) is not timed.
		bodies := make([][]byte, batches)
		raw := make([]ingest.Samples, batches)
		for b := range batches {
			raw[b] = mkBatch(round, b)
			bodies[b], _ = json.Marshal(&raw[b])
		}
		for _, m := range []struct {
			rates *[]float64
			one   func(i int) error
		}{
			{&ours, func(i int) error { return post(bodies[i]) }},
			{&bare, func(i int) error { return copyChunks(&raw[i]) }},
			{&perRow, func(i int) error { return copyRows(&raw[i]) }},
		} {
			d, err := parallel(workers, batches, m.one)
			if err != nil {
				return []Result{failed(name, method, goal, err)}
			}
			*m.rates = append(*m.rates, float64(perRound)/d.Seconds())
		}
	}
	r := Result{Name: name, Method: method, Goal: goal, Ours: summarize("samples/s", ours, false),
		PeerName: "bare pgx.CopyFrom of the chunks", Peer: summarize("samples/s", bare, false)}
	r.Peer.Extra = map[string]float64{"one row per sample (old layout) samples/s": summarize("", perRow, false).Median}
	r.setRatio()
	r.Met = met(r.Ours.Median >= 500000 && r.Ratio >= 0.3)
	return []Result{r}
}
