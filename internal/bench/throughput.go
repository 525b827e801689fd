package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pitwall/pitwall/internal/api"
)

// measureThroughput submits many short tests at once across every agent
// and counts how many finish per second and how many are lost or stuck.
func measureThroughput(ctx context.Context, e *env) []Result {
	const name, goal = "throughput", "≥ 20 tests/s, 0 lost"
	n := e.pick(12, 500)
	limit := time.Duration(e.pick(60, 300)) * time.Second
	method := fmt.Sprintf("%d tests of a script that exits at once, POSTed at once (16 concurrent clients) to %d agents "+
		"(one machine, agents under different names, one test per host at a time); finished / (last ended_at − first submit); "+
		"lost = ended other than finished, stuck = not ended %s after the last submit", n, e.agents, limit)
	fw := "bench-throughput"
	if err := e.st.apply(ctx, "name: "+fw+"\nexecution:\n  script: \"#!/bin/sh\\nexit 0\\n\"\n  labels: {pool: bench}\n"); err != nil {
		return []Result{failed(name, method, goal, err)}
	}
	ids := make(chan int64, n)
	jobs := make(chan int, n)
	for i := range n {
		jobs <- i
	}
	close(jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var submitErr error
	t0 := time.Now()
	for range 16 {
		wg.Go(func() {
			for range jobs {
				t, err := e.st.submit(ctx, api.RunRequest{Framework: fw})
				if err != nil {
					mu.Lock()
					submitErr = err
					mu.Unlock()
					continue
				}
				ids <- t.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	submitted := time.Since(t0)
	var all []int64
	for id := range ids {
		all = append(all, id)
	}
	e.logf("throughput: %d tests submitted in %s", len(all), submitted.Round(time.Millisecond))

	// Count states straight from the store until every test has ended.
	deadline := time.Now().Add(limit)
	var finished, lost, stuck, hosts int
	var lastEnd time.Time
	for {
		row := e.st.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'finished'),
			count(*) FILTER (WHERE ended_at IS NOT NULL AND state <> 'finished'),
			count(*) FILTER (WHERE ended_at IS NULL), coalesce(max(ended_at), now()),
			count(DISTINCT host) FILTER (WHERE host <> '')
			FROM tests WHERE id = ANY($1)`, all)
		if err := row.Scan(&finished, &lost, &stuck, &lastEnd, &hosts); err != nil {
			return []Result{failed(name, method, goal, err)}
		}
		if stuck == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	lost += n - len(all) // refused at submit
	wall := lastEnd.Sub(t0).Seconds()
	rate := float64(finished) / wall
	r := Result{Name: name, Method: method, Goal: goal,
		Ours: Figure{Unit: "tests/s", N: 1, Median: rate, P50: rate,
			Extra: map[string]float64{"lost": float64(lost), "stuck": float64(stuck), "wall s": wall, "hosts used": float64(hosts), "submit s": submitted.Seconds()}},
		Peer: Figure{Text: "no peer measured"}}
	if submitErr != nil {
		r.Ours.Text = "submit error: " + submitErr.Error()
	}
	r.Met = met(rate >= 20 && lost == 0 && stuck == 0)
	return []Result{r}
}
