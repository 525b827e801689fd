package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
)

// daytonaFloorMS is the least submit → running time Daytona's design
// allows: its scheduler polls the database every 5 s and sleeps 6 s
// before setup, so 6-13 s.
const daytonaFloorMS = 6000

// measureLatency runs short tests one after another on the idle stack and
// reads two latencies from each test's timeline: submit → script started
// (measure 1) and script ended → collated, the stage stamped once the
// KPIs and the verdict are stored (measure 2).
func measureLatency(ctx context.Context, e *env) []Result {
	const name1, name2 = "submit-to-running", "exit-to-verdict"
	n := e.pick(3, 60)
	method1 := fmt.Sprintf("%d tests one at a time on the idle stack (Temporal dev server, private PostgreSQL, %d agents); "+
		"from the client's clock before POST /api/v1/tests to the timeline stage 'script started'; "+
		"script: one results.csv line; branch main, so later tests have a baseline; "+
		"peer: Daytona's design floor (5 s DB poll + 6 s sleep), a reference, not a run; ratio is p50 / 6 s", n, e.agents)
	method2 := fmt.Sprintf("same %d tests; timeline stage 'script ended' → 'collated' (stamped after Collate stored KPIs, "+
		"per-KPI verdicts against the baseline and the test verdict)", n)
	goal1, goal2 := "p50 ≤ 100 ms, p99 ≤ 300 ms", "p50 and p99 ≤ 1 s"
	fw := "bench-latency"
	_, err := e.st.Framework(ctx, "name: "+fw+"\nexecution:\n  script: \"#!/bin/sh\\necho 'Latency, 12.5ms' > results.csv\\n\"\n  labels: {pool: bench}\n"+
		"kpis: [{name: Latency, unit: ms, better: lower}]\n")
	if err != nil {
		return []Result{failed(name1, method1, goal1, err), failed(name2, method2, goal2, err)}
	}
	var toRun, toVerdict []float64
	for i := range n {
		t0 := time.Now()
		created, err := e.st.Submit(ctx, wire.RunRequest{Framework: fw, Branch: "main", Commit: fmt.Sprintf("%040x", i)})
		if err == nil {
			created, err = e.st.Await(ctx, created.ID, 2*time.Minute, stack.Ended)
		}
		if err == nil && created.State != wire.StateFinished {
			err = fmt.Errorf("test %d %s: %s", created.ID, created.State, created.Reason)
		}
		if err != nil {
			return []Result{failed(name1, method1, goal1, err), failed(name2, method2, goal2, err)}
		}
		started, ok1 := stageAt(created, "script started")
		ended, ok2 := stageAt(created, "script ended")
		collated, ok3 := stageAt(created, "collated")
		if !ok1 || !ok2 || !ok3 {
			err := errors.New("timeline lacks script started / script ended / collated")
			return []Result{failed(name1, method1, goal1, err), failed(name2, method2, goal2, err)}
		}
		toRun = append(toRun, ms(started.Sub(t0)))
		toVerdict = append(toVerdict, ms(collated.Sub(ended)))
	}
	r1 := Result{Name: name1, Method: method1, Goal: goal1, Ours: summarize("ms", toRun, true),
		PeerName: "Daytona", Peer: Figure{Text: "reference 6,000-13,000 ms (design floor, not a run)"}}
	r1.Ratio = r1.Ours.P50 / daytonaFloorMS
	r1.Met = met(r1.Ours.P50 <= 100 && r1.Ours.P99 <= 300)
	r2 := Result{Name: name2, Method: method2, Goal: goal2, Ours: summarize("ms", toVerdict, true),
		Peer: Figure{Text: "no peer measured"}}
	r2.Met = met(r2.Ours.P50 <= 1000 && r2.Ours.P99 <= 1000)
	return []Result{r1, r2}
}

// measureOverhead runs a script that sleeps 1 s and takes the test's wall
// time (client's submit → ended_at stored) minus 1 s.
func measureOverhead(ctx context.Context, e *env) []Result {
	const name, goal = "overhead", "median ≤ 0.5 s"
	n := e.pick(1, 10)
	method := fmt.Sprintf("%d tests one at a time whose script is 'sleep 1'; wall time from the client's clock before POST "+
		"/api/v1/tests to the stored ended_at, minus 1 s", n)
	fw := "bench-overhead"
	if _, err := e.st.Framework(ctx, "name: "+fw+"\nexecution:\n  script: \"#!/bin/sh\\nsleep 1\\n\"\n  labels: {pool: bench}\n"); err != nil {
		return []Result{failed(name, method, goal, err)}
	}
	var over []float64
	for range n {
		t0 := time.Now()
		t, err := e.st.Submit(ctx, wire.RunRequest{Framework: fw})
		if err == nil {
			t, err = e.st.Await(ctx, t.ID, 2*time.Minute, stack.Ended)
		}
		if err == nil && (t.State != wire.StateFinished || t.EndedAt == nil) {
			err = fmt.Errorf("test %d %s: %s", t.ID, t.State, t.Reason)
		}
		if err != nil {
			return []Result{failed(name, method, goal, err)}
		}
		over = append(over, t.EndedAt.Sub(t0).Seconds()-1)
	}
	r := Result{Name: name, Method: method, Goal: goal, Ours: summarize("s", over, false),
		Peer: Figure{Text: "no peer measured (Daytona's floor alone is 6 s before setup)"}}
	r.Met = met(r.Ours.Median <= 0.5)
	return []Result{r}
}
