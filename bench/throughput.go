package bench

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pitwall/pitwall/internal/wire"
)

// measureThroughput submits many short tests at once across every agent
// and counts how many finish per second and how many are lost or stuck;
// the full run does it in three rounds on the same stack.
func measureThroughput(ctx context.Context, e *env) []Result {
	const name, goal = "throughput", "≥ 20 tests/s, 0 lost"
	n, rounds := e.pick(12, 500), e.pick(1, 3)
	if e.ThroughputTests > 0 {
		n = e.ThroughputTests
	}
	limit := time.Duration(e.pick(60, 300)) * time.Second
	method := fmt.Sprintf("%d rounds of %d tests of a script that exits at once, POSTed at once (16 concurrent clients) to %d agents "+
		"(one machine, agents under different names, one test per host at a time); per round finished / (last ended_at − first submit), "+
		"median ± half IQR; lost = ended other than finished, stuck = not ended %s after the last submit, summed over the rounds", rounds, n, e.agents, limit)
	fw := "bench-throughput"
	if _, err := e.st.Framework(ctx, "name: "+fw+"\nexecution:\n  script: \"#!/bin/sh\\nexit 0\\n\"\n  labels: {pool: bench}\n"); err != nil {
		return []Result{failed(name, method, goal, err)}
	}
	var rates []float64
	var total throughputRound
	for r := range rounds {
		got, err := throughputOnce(ctx, e, fw, n, limit)
		if err != nil {
			return []Result{failed(name, method, goal, err)}
		}
		e.logf("throughput round %d: %.2f tests/s, %d lost, %d stuck, submit %.2f s, wall %.2f s, %.1f PostgreSQL transactions and %.0f ms CPU a test",
			r+1, got.rate, got.lost, got.stuck, got.submit, got.wall, got.xacts, got.cpu*1000)
		if got.steps != nil {
			got.steps.log(e, r+1)
			total.wft += got.steps.wft / float64(rounds)
			total.act += got.steps.act / float64(rounds)
			total.leaseWFT += got.steps.leaseWFT / float64(rounds)
			total.notifyWFT += got.steps.notifyWFT / float64(rounds)
			total.cycle += got.steps.cycle / float64(rounds)
			total.longest = max(total.longest, got.steps.longest)
		}
		rates = append(rates, got.rate)
		total.lost += got.lost
		total.stuck += got.stuck
		total.hosts = max(total.hosts, got.hosts)
		total.submit += got.submit / float64(rounds)
		total.xacts += got.xacts / float64(rounds)
		total.cpu += got.cpu / float64(rounds)
		total.wall += got.wall / float64(rounds)
		if got.submitErr != nil {
			total.submitErr = got.submitErr
		}
	}
	r := Result{Name: name, Method: method, Goal: goal, Ours: summarize("tests/s", rates, false), Peer: Figure{Text: "no peer measured"}}
	r.Ours.Extra = map[string]float64{"lost": float64(total.lost), "stuck": float64(total.stuck), "mean wall s": total.wall,
		"hosts used": float64(total.hosts), "mean submit s": total.submit, "pg xacts/test": total.xacts,
		"cpu ms/test": total.cpu * 1000, "perftest workflow tasks/test": total.wft, "agent activity tasks/test": total.act,
		"lease workflow tasks/test": total.leaseWFT, "notify workflow tasks/test": total.notifyWFT, "host cycle ms/test": total.cycle * 1000,
		"longest hand-off s": total.longest.Seconds()}
	if total.submitErr != nil {
		r.Ours.Text = "submit error: " + total.submitErr.Error()
	}
	r.Met = met(r.Ours.Median >= 20 && total.lost == 0 && total.stuck == 0)
	return []Result{r}
}

// throughputRound is what one round of the throughput measure saw.
type throughputRound struct {
	rate, submit, wall float64
	// xacts is PostgreSQL transactions per test: the server's, the
	// workers' and the agents' heartbeats, not the bench's own polls.
	xacts float64
	// cpu is CPU seconds per finished test of the bench's process tree:
	// the server, workers and agents (in-process), the Temporal server,
	// PostgreSQL, from the first submit to the last ending.
	cpu                float64
	lost, stuck, hosts int
	submitErr          error
	// steps is where the tests' time and Temporal tasks went (nil when
	// their histories could not be read); the totals are its means.
	steps                                *stepsReport
	wft, act, leaseWFT, notifyWFT, cycle float64
	// longest is the longest hand-off of a host to its next test.
	longest time.Duration
}

// throughputOnce submits n tests at once and waits until they have ended
// or limit has passed.
func throughputOnce(ctx context.Context, e *env, fw string, n int, limit time.Duration) (*throughputRound, error) {
	ids := make(chan int64, n)
	res := &throughputRound{}
	x0, err := xactCount(ctx, e)
	if err != nil {
		return nil, err
	}
	cpu0, err := readTree(os.Getpid())
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	submit, err := parallel(16, n, func(int) error {
		t, err := e.st.Submit(ctx, wire.RunRequest{Framework: fw})
		if err == nil {
			ids <- t.ID
		}
		return err
	})
	res.submitErr = err
	close(ids)
	res.submit = submit.Seconds()
	var all []int64
	for id := range ids {
		all = append(all, id)
	}

	// Count states straight from the store until every test has ended,
	// once a second: the rate comes from the tests' own ended_at, so
	// looking more often would only add the bench's own queries to the
	// CPU a test (at 10 a second they took about 2 ms of PostgreSQL's
	// time a test in pg_stat_statements, 2026-11-28).
	deadline := time.Now().Add(limit)
	var finished int
	var lastEnd time.Time
	polls := 0
	for {
		polls++
		row := e.st.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'finished'),
			count(*) FILTER (WHERE ended_at IS NOT NULL AND state <> 'finished'),
			count(*) FILTER (WHERE ended_at IS NULL), coalesce(max(ended_at), now()),
			count(DISTINCT host) FILTER (WHERE host <> '')
			FROM tests WHERE id = ANY($1)`, all)
		if err := row.Scan(&finished, &res.lost, &res.stuck, &lastEnd, &res.hosts); err != nil {
			return nil, err
		}
		if res.stuck == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	if res.lost > 0 {
		// Say why: a lost test is a bug or a timeout worth reading.
		rows, err := e.st.Pool.Query(ctx, `SELECT id, state, reason FROM tests
			WHERE id = ANY($1) AND ended_at IS NOT NULL AND state <> 'finished' ORDER BY id LIMIT 5`, all)
		if err == nil {
			for rows.Next() {
				var id int64
				var state, reason string
				if rows.Scan(&id, &state, &reason) == nil {
					e.logf("throughput: test %d ended %s: %s", id, state, reason)
				}
			}
			rows.Close()
		}
	}
	res.lost += n - len(all) // refused at submit
	cpu1, err := readTree(os.Getpid())
	if err != nil {
		return nil, err
	}
	if finished > 0 {
		res.cpu = (cpu1.cpu - cpu0.cpu) / float64(finished)
		// Whose CPU it was: processes by command name, largest first.
		type part struct {
			name string
			ms   float64
		}
		var parts []part
		for name, v := range cpu1.byName {
			if ms := (v - cpu0.byName[name]) * 1000 / float64(finished); ms >= 0.5 {
				parts = append(parts, part{name, ms})
			}
		}
		slices.SortFunc(parts, func(a, b part) int { return cmp.Compare(b.ms, a.ms) })
		var b strings.Builder
		for _, p := range parts {
			fmt.Fprintf(&b, "; %s %.1f", p.name, p.ms)
		}
		e.logf("throughput: CPU ms a test by process%s", b.String())
	}
	// Backends report their transactions to the statistics when idle at
	// most every 10 s (PGSTAT_IDLE_INTERVAL): wait that out.
	time.Sleep(11 * time.Second)
	x1, err := xactCount(ctx, e)
	if err != nil {
		return nil, err
	}
	res.xacts = float64(x1-x0-int64(polls)-1) / float64(n)
	res.wall = lastEnd.Sub(t0).Seconds()
	res.rate = float64(finished) / res.wall
	// Read last: reading the histories costs Temporal work the round's
	// figures above must not count.
	if res.steps, err = readSteps(ctx, e, all, t0, lastEnd.Add(time.Second)); err != nil {
		e.logf("throughput: histories not read: %v", err)
		res.steps = nil
	}
	return res, nil
}

// parallel runs f for each of n jobs on the given number of workers and
// returns the wall time and the last error.
func parallel(workers, n int, f func(i int) error) (time.Duration, error) {
	jobs := make(chan int, n)
	for i := range n {
		jobs <- i
	}
	close(jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last error
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if err := f(i); err != nil {
					mu.Lock()
					last = err
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return time.Since(t0), last
}

// xactCount is how many transactions the database has committed or
// rolled back, as its statistics say.
func xactCount(ctx context.Context, e *env) (int64, error) {
	var n int64
	err := e.st.Pool.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n, err
}
