// Package bench is Pitwall's benchmark suite: it starts what it needs
// in-process (a private PostgreSQL cluster, a real Temporal server, the
// server on loopback, real agents running real scripts), measures each
// figure several times, measures a peer's figure in the same run where
// there is one, and reports medians, spread and the ratio ours/peer.
//
//	go tool task bench                  # full run
//	go tool task bench -- --smoke       # a few seconds, every measure
//	go tool task bench -- --only ingest # one measure
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/pitwall/pitwall/e2e/stack"
)

// Options of a run.
type Options struct {
	// Smoke makes every measure short: figures prove the code runs, not
	// how fast it is.
	Smoke bool
	// ThroughputTests, when above 0, is the throughput measure's tests per
	// round (full size: 500), for a shorter run on a busy machine.
	ThroughputTests int
	// Only runs the measures whose name is in the list (empty: all).
	Only []string
	// Log receives progress lines.
	Log io.Writer
	// Root is the module root, where `go build` and `go test` run.
	Root string
	// NoInstall keeps the suite from installing missing peers with apt-get
	// even as root (the smoke test reports them as skipped instead).
	NoInstall bool
}

// measure is one entry of the suite.
type measure struct {
	name string
	// stack says the measure needs the in-process Pitwall stack.
	stack bool
	run   func(ctx context.Context, e *env) []Result
}

// Measures lists the measure names --only accepts, in run order.
func Measures() []string {
	var out []string
	for _, m := range measures {
		out = append(out, m.name)
	}
	return out
}

var measures = []measure{
	{"latency", true, measureLatency},
	{"overhead", true, measureOverhead},
	{"throughput", true, measureThroughput},
	{"ingest", true, measureIngest},
	{"changepoint", false, measureChangepoint},
	{"ui", true, measureUI},
	{"monitor", false, measureMonitor},
	{"footprint", true, measureFootprint},
	// Last: it fills the stack's database with a year of tests.
	{"year", true, measureSeededYear},
}

// aliases let --only name a row of the table: the measure that produces it.
var aliases = map[string]string{
	"submit-to-running": "latency", "exit-to-verdict": "latency",
	"changepoint-detect-1000": "changepoint", "changepoint-detect-5000": "changepoint", "changepoint-append": "changepoint",
	"ui-test-page": "ui", "ui-dashboard": "ui", "ui-series-api": "ui",
	"monitor-cpu": "monitor", "monitor-rss": "monitor", "monitor-vs-node-exporter": "monitor",
	"footprint-cpu": "footprint", "footprint-cpu-off": "footprint", "footprint-cpu-idle": "footprint", "footprint-rss": "footprint", "footprint-aa": "footprint",
	"year-bytes-per-sample": "year", "year-bytes-per-test": "year", "year-rollup": "year", "year-ingest": "year",
	"year-dashboard": "year", "year-test-page": "year", "year-test-page-rolled-up": "year", "year-search": "year",
	"year-compare": "year", "year-trends": "year", "year-changepoint": "year", "year-retention": "year",
}

// env is what measures share.
type env struct {
	Options
	st *stack.Stack
	// agents is how many agents the stack has.
	agents int
}

func (e *env) logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, "bench: "+format+"\n", args...)
	}
}

// pick returns n in smoke mode, else full.
func (e *env) pick(smoke, full int) int {
	if e.Smoke {
		return smoke
	}
	return full
}

// Run runs the suite and returns its report.
func Run(ctx context.Context, o Options) (*Report, error) {
	for i, name := range o.Only {
		if a, ok := aliases[name]; ok {
			o.Only[i], name = a, a
		}
		if !contains(Measures(), name) {
			return nil, fmt.Errorf("unknown measure %q (have %s)", name, strings.Join(Measures(), ", "))
		}
	}
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	rep := &Report{Started: time.Now(), Smoke: o.Smoke, Host: host, CPUs: runtime.NumCPU(),
		Load: strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " ")}
	e := &env{Options: o}
	e.agents = e.pick(2, 10)
	var selected []measure
	needStack := false
	for _, m := range measures {
		if len(o.Only) == 0 || contains(o.Only, m.name) {
			selected = append(selected, m)
			needStack = needStack || m.stack
		}
	}
	if needStack {
		t0 := time.Now()
		st, err := startStack(ctx, e.agents)
		if err != nil {
			return nil, fmt.Errorf("start the stack: %w", err)
		}
		defer st.Close()
		e.st = st
		e.logf("stack ready with %d agents in %s (%s)", e.agents, time.Since(t0).Round(time.Millisecond), st.URL)
	}
	for _, m := range selected {
		t0 := time.Now()
		e.logf("%s ...", m.name)
		res := m.run(ctx, e)
		for _, r := range res {
			if r.Met == "" {
				r.Met = "n/a"
			}
			rep.Results = append(rep.Results, r)
		}
		e.logf("%s done in %s", m.name, time.Since(t0).Round(time.Millisecond))
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	rep.Duration = time.Since(rep.Started).Round(time.Second).String()
	return rep, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// failed is the result of a measure that could not run.
func failed(name, method, goal string, err error) Result {
	return Result{Name: name, Method: method, Goal: goal, Met: "no", Error: err.Error(),
		Ours: Figure{Text: "error"}, Peer: Figure{Text: "-"}}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
