package contract

import (
	"time"

	"github.com/pitwall/pitwall/internal/framework"
)

// PerfTestInput names the test to run; everything else is loaded from the
// database so workflow history stays small.
type PerfTestInput struct {
	TestID int64
	// Host, when set, pins the execution host: a confirmation's runs all
	// run where the confirmed test ran.
	Host string `json:",omitempty"`
	// Held are hosts the parent workflow (a confirmation) holds the leases
	// of for the test: the test neither asks for nor releases them.
	Held []string `json:",omitempty"`
	// RoleHosts, for a multi-host test, are the hosts each role plays on,
	// chosen by the parent (a confirmation runs every run on the same
	// ones); the roles must be the framework's, in its order.
	RoleHosts []RoleHosts `json:",omitempty"`
}

// PerfTestResult is how a test ended.
type PerfTestResult struct {
	State    string
	Reason   string
	Host     string
	ExitCode *int
}

// AbortRequest says who aborted a test and why.
type AbortRequest struct {
	Reason string
}

// TestPlan is what a test runs: the parts of its frozen framework version
// the workflow and the agent need, and its parameter values.
type TestPlan struct {
	TestID     int64
	Framework  string
	Execution  Execution
	Statistics Statistics
	// Hooks are the framework's lifecycle hooks that are set, inline or paths.
	Hooks []Hook
	// Warmup runs are discarded; Repeat runs are kept.
	Warmup int
	Repeat int
	Params []Param
	// Commit is the commit the test measures (the default ref of builds).
	Commit string
	// Services and Load are the framework's containers, if any.
	Services []framework.Service
	Load     *framework.Load
	// Prometheus says whether the framework has PromQL queries to run
	// after the runs (the central worker reads them itself).
	Prometheus bool
	// Priority is the test's priority (wire.Priority*); empty, as in
	// histories from before priorities, is normal.
	Priority string
	// Roles make a multi-host test (docs/multihost.md).
	Roles []framework.Role
	// Interference are the generators started beside each script run.
	Interference []framework.Interference
	// Profilers are the framework's profilers (docs/profilers.md).
	Profilers []framework.Profiler `json:",omitempty"`
}

// Containers says whether the test runs containers.
func (p *TestPlan) Containers() bool { return len(p.Services) > 0 || p.Load != nil }

// Execution says how and where the script runs.
type Execution struct {
	// Script is an inline script; ScriptPath a file already on the agent.
	Script     string
	ScriptPath string
	// Args is how parameters are passed: positional or named.
	Args    string
	Timeout time.Duration
	// Hosts names the execution host; else Labels choose one.
	Hosts  []string
	Labels map[string]string
	// Env is what the framework declares for the script's environment.
	Env map[string]string
}

// Statistics names the hosts monitored while the script runs.
type Statistics struct {
	Hosts    []string
	Interval time.Duration
	// Off turns host monitoring off: no Monitor runs, and containers'
	// stats and /metrics are not sampled.
	Off bool
}

// Hook is one lifecycle hook: an inline script or a path on the agent.
type Hook struct {
	Name   string
	Script string
	Path   string
}

// Param is one parameter value of a test.
type Param struct {
	Name  string
	Value string
}

// Stage is one named step of a test, stored with the next state change.
type Stage struct {
	Name   string
	At     time.Time
	Detail string
}

// TransitionInput is a test's state change.
type TransitionInput struct {
	TestID   int64
	State    string
	At       time.Time
	Reason   string
	Host     string
	ExitCode *int
	// Hosts are all the hosts the test holds: execution and statistics.
	Hosts []string
	// WaitingFor names the host a waiting test waits for.
	WaitingFor string
	Stages     []Stage
}

// HostPickInput says which hosts a test may run on and which it watches.
type HostPickInput struct {
	// TestID claims the chosen host for the test.
	TestID int64
	// RecordWaiting asks HostPick to record the test as waiting for the
	// execution host when other unended tests claimed it first, so that
	// the lease workflow need not send a queued notice (LeaseRequest.Quiet).
	RecordWaiting bool `json:",omitempty"`
	Hosts         []string
	Labels        map[string]string
	Statistics    []string
	// Containers asks for an execution host with a Docker engine.
	Containers bool
}

// HostPickResult names the execution host and the statistics hosts.
type HostPickResult struct {
	Execution  string
	Statistics []string
	// Waiting is set when the input asked for RecordWaiting and other
	// unended tests had claimed the execution host first: the test was
	// recorded as waiting for it in the claim's own transaction.
	Waiting bool `json:",omitempty"`
}

// KPI is one key performance indicator a run reported.
type KPI struct {
	Name  string
	Value float64
	Unit  string
	Raw   string
	// Line is the KPI's line in its results file (0: unknown, as from
	// an agent older than the field).
	Line int
}

// Iteration is what one kept run of the script reported.
type Iteration struct {
	Iteration int
	// File names the results file the KPIs were read from ("": not
	// known, as in a history older than the field).
	File  string
	KPIs  []KPI
	Notes []string
}

// CollateInput carries what the agent collected to the database.
type CollateInput struct {
	TestID     int64
	Iterations []Iteration
	// Hosts, ScriptSHA256 and HookSHA256 go into the test's fingerprint.
	Hosts        []string
	ScriptSHA256 string
	HookSHA256   map[string]string
	// Skipped are results-directory entries that were not regular files.
	Skipped []string
	// PromKPIs are the KPIs the framework's PromQL queries gave: the
	// test's own, stored beside the iterations' (as iteration 0) with
	// PromNotes, the queries' notes.
	PromKPIs  []KPI
	PromNotes []string
	// Migrations are the kept script runs' CPU migrations on the
	// execution host (nil: not counted).
	Migrations *Migrations `json:",omitempty"`
}

// Migrations sums the CPU migrations of a test's kept runs on Host, which
// took Seconds in all.
type Migrations struct {
	Host    string
	Count   int64
	Seconds float64
}

// PromQueriesInput is the window a test's PromQL queries run over: from
// the start of its first kept run to the end of its last.
type PromQueriesInput struct {
	TestID     int64
	Start, End time.Time
}

// PromQueriesResult is what the queries gave: KPIs, notes on the test for
// each query that gave nothing usable, and Failed when a query that must
// have data had none (the reason of the failed test).
type PromQueriesResult struct {
	KPIs   []KPI
	Notes  []string
	Failed string
	// Window is the window the queries used (after the ramp), for a stage.
	Start, End time.Time
}

// Fail sets the reason the test fails, keeping the first one.
func (r *PromQueriesResult) Fail(why string) {
	if r.Failed == "" {
		r.Failed = why
	}
}

// VerdictResult is a test's overall verdict and the tests it was judged against.
type VerdictResult struct {
	Verdict  string
	Baseline []int64
}

// Progress is what a running PerfTest answers QueryProgress with.
type Progress struct {
	// Run is the run under way or last started, counting warm-ups
	// (0: none yet); Warmup and Repeat are how many of each the test has.
	Run, Warmup, Repeat int
	// Stages are the steps not yet stored (they go out with the next
	// state change): the runs' starts and ends.
	Stages []Stage
	// Iterations are the kept runs collected so far, with their KPIs.
	Iterations []Iteration
	// Hosts are a multi-host test's hosts (none for one host), in the
	// roles' order; LoadStart is the load's common start instant once
	// the barrier has passed.
	Hosts     []HostProgress `json:",omitempty"`
	LoadStart time.Time      `json:",omitzero"`
}

// HostProgress is how far one host of a multi-host test is.
type HostProgress struct {
	Role, Host string
	// Serve: the host plays a service (serve role).
	Serve bool
	// State is "preparing" (leased, being set up), "ready" (set up, its
	// script not started), "serving" (a service, started), "running" (a
	// load script under way), "ended", "failed" or "stopped" (told to
	// stop: a service after the load, or every host on an abort).
	State string
}
