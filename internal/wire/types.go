// Package wire holds the JSON shapes of Pitwall's HTTP API under /api/v1,
// shared by the server that writes them and the starter that reads them.
package wire

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/verdict"
)

// Test states, in lifecycle order.
const (
	StateQueued    = "queued"
	StateWaiting   = "waiting"
	StateSetup     = "setup"
	StateRunning   = "running"
	StateCollating = "collating"
	StateFinished  = "finished"
	StateFailed    = "failed"
	StateAborted   = "aborted"
	StateTimedOut  = "timed_out"
)

// Verdicts, per KPI and per test.
const (
	VerdictImproved   = "improved"
	VerdictUnchanged  = "unchanged"
	VerdictRegressed  = "regressed"
	VerdictNoBaseline = "no-baseline"
)

// Ended reports whether a test in this state will change no more.
func Ended(state string) bool {
	switch state {
	case StateFinished, StateFailed, StateAborted, StateTimedOut:
		return true
	}
	return false
}

// Test is a numbered run of a framework, as GET /api/v1/tests/{id} returns it.
type Test struct {
	ID               int64             `json:"id"`
	Framework        string            `json:"framework"`
	FrameworkVersion int               `json:"framework_version"`
	Team             string            `json:"team"`
	State            string            `json:"state"`
	Reason           string            `json:"reason"`
	Verdict          string            `json:"verdict"`
	URL              string            `json:"url"`
	Params           []framework.Param `json:"params"`
	Commit           string            `json:"commit"`
	Branch           string            `json:"branch"`
	PR               *int              `json:"pr"`
	Tags             map[string]string `json:"tags"`
	Baseline         bool              `json:"baseline"`
	Owner            string            `json:"owner"`
	Host             string            `json:"host"`
	ExitCode         *int              `json:"exit_code"`
	KPIs             []KPI             `json:"kpis"`
	Timeline         []Stage           `json:"timeline"`
	Notes            []string          `json:"notes"`
	CreatedAt        time.Time         `json:"created_at"`
	EndedAt          *time.Time        `json:"ended_at"`
	WorkflowID       string            `json:"workflow_id"`
	// Hosts are every host the test holds or held: execution and statistics.
	Hosts []string `json:"hosts"`
	// WaitingFor and HeldBy say, while the test waits, for which host and
	// which test holds it.
	WaitingFor string `json:"waiting_for,omitempty"`
	HeldBy     int64  `json:"held_by,omitempty"`
	// Fingerprint is the environment the test ran in.
	Fingerprint Fingerprint `json:"fingerprint"`
	// KPISummary has one line per KPI over its iterations.
	KPISummary []KPISummary `json:"kpi_summary"`
	// Verdicts explain each KPI's verdict; BaselineTests are the tests the
	// verdicts compared against; CompareTo is a chosen baseline test.
	Verdicts      []KPIVerdict `json:"verdicts"`
	BaselineTests []int64      `json:"baseline_tests"`
	CompareTo     *int64       `json:"compare_to"`
	// Priority orders the test in its hosts' queues: low, normal or high.
	Priority string `json:"priority"`
}

// KPIVerdict is the verdict on one KPI with its evidence.
type KPIVerdict struct {
	Name string `json:"name"`
	verdict.Result
	// BaselineTests are the tests this KPI was judged against, newest
	// first (empty for verdicts stored before they were kept per KPI).
	BaselineTests []int64 `json:"baseline_tests,omitempty"`
}

// Fingerprint is the environment a test ran in, to tell why two tests differ.
type Fingerprint struct {
	Hosts        map[string]HostFingerprint `json:"hosts,omitempty"`
	ScriptSHA256 string                     `json:"script_sha256,omitempty"`
	Hooks        map[string]string          `json:"hook_sha256,omitempty"`
	Params       map[string]string          `json:"params,omitempty"`
	Commit       string                     `json:"commit,omitempty"`
	Branch       string                     `json:"branch,omitempty"`
	PR           *int                       `json:"pr,omitempty"`
	Tags         map[string]string          `json:"tags,omitempty"`
	// Hardware is the execution host's hardware fingerprint
	// (Facts.Hardware): baselines are drawn from tests of the same one
	// unless the framework says baseline_hardware: any.
	Hardware string `json:"hardware,omitempty"`
	// CPUMigrations counts the script's moves between CPUs while it ran
	// (nil: the agent could not count them).
	CPUMigrations *CPUMigrations `json:"cpu_migrations,omitempty"`
}

// HostFingerprint describes one host of a test.
type HostFingerprint struct {
	Facts
	AgentVersion string `json:"agent_version"`
}

// KPISummary sums up one KPI over a test's iterations.
type KPISummary struct {
	Name   string  `json:"name"`
	Unit   string  `json:"unit"`
	Count  int     `json:"count"`
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Stddev float64 `json:"stddev"`
}

// Artifact is a file a test's script left in its results directory.
type Artifact struct {
	Path        string    `json:"path"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	ContentType string    `json:"content_type"`
	CreatedAt   time.Time `json:"created_at"`
}

// KPI is one reported figure of a test.
type KPI struct {
	Name      string  `json:"name"`
	Iteration int     `json:"iteration"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Raw       string  `json:"raw"`
	Verdict   string  `json:"verdict"`
}

// Stage is one time-stamped step of a test's timeline: a state it entered
// (kind "state") or a stage within one (kind "stage").
type Stage struct {
	Stage  string    `json:"stage"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
	Kind   string    `json:"kind"`
}

// PromQuery is one PromQL query a test ran over its window
// (GET /api/v1/tests/{id}/queries): the query as sent, the window, when it
// was evaluated (a KPI's instant query at the window's end), Prometheus's
// raw answer ({"resultType", "result"} as its HTTP API gives them) and
// the value Pitwall took from it, or why it took none.
type PromQuery struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"` // kpi or series
	Query       string    `json:"query"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	StepMS      int64     `json:"step_ms,omitempty"`
	// Aggregate is how a KPI's range query became its value.
	Aggregate   string          `json:"aggregate,omitempty"`
	EvaluatedAt time.Time       `json:"evaluated_at"`
	Raw         json.RawMessage `json:"raw,omitempty"`
	Value       *float64        `json:"value,omitempty"`
	// Samples are a KPI's range query's points: what a rank test compares.
	Samples  []float64 `json:"samples,omitempty"`
	Problem  string    `json:"problem,omitempty"`
	Warnings []string  `json:"warnings"`
}

// RunRequest is the body of POST /api/v1/tests.
type RunRequest struct {
	Framework string            `json:"framework"`
	Team      string            `json:"team,omitempty"`
	Params    map[string]string `json:"params,omitempty"`
	Commit    string            `json:"commit,omitempty"`
	Branch    string            `json:"branch,omitempty"`
	PR        *int              `json:"pr,omitempty"`
	Tags      map[string]string `json:"tags,omitempty"`
	Baseline  bool              `json:"baseline,omitempty"`
	// CompareTo judges the test against this test instead of the baseline branch.
	CompareTo *int64 `json:"compare_to,omitempty"`
	// Priority is low, normal or high; empty means normal.
	Priority string `json:"priority,omitempty"`
}

// FrameworkInfo is a framework as the API lists and returns it.
type FrameworkInfo struct {
	framework.Framework
	Version   int       `json:"version"`
	Digest    string    `json:"digest"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ApplyResult answers PUT/POST of a framework file.
type ApplyResult struct {
	Framework FrameworkInfo `json:"framework"`
	// Changed is false when the file matched the current version exactly.
	Changed bool `json:"changed"`
}

// Agent is a registered host-pinned worker.
type Agent struct {
	Name string `json:"name"`
	// Labels are what frameworks' execution.labels match: set by site
	// admins, never by the agent.
	Labels map[string]string `json:"labels"`
	// DeclaredLabels are the labels the agent's heartbeat states, shown so
	// an admin can adopt them; they steer nothing.
	DeclaredLabels map[string]string `json:"declared_labels"`
	// Teams are the teams whose tests may use the host; Shared lets every
	// team's.
	Teams   []string `json:"teams"`
	Shared  bool     `json:"shared"`
	Facts   Facts    `json:"facts"`
	Version string   `json:"version"`
	Online  bool     `json:"online"`
	// RunningTest is the test that holds the host, 0 when it is free or
	// when the test is one the caller may not see (Busy says which).
	RunningTest  int64     `json:"running_test"`
	Busy         bool      `json:"busy"`
	LastSeen     time.Time `json:"last_seen"`
	RegisteredAt time.Time `json:"registered_at"`
	// Excluded: a site admin keeps the host out of host picking (a test
	// that names it still runs there); ExcludedReason says why.
	Excluded       bool   `json:"excluded"`
	ExcludedReason string `json:"excluded_reason"`
	// NoiseJumped: the latest noise measurement of some framework's KPI
	// on the host was noisier than the ones before (docs/noise.md).
	NoiseJumped bool `json:"noise_jumped"`
}

// UsableBy reports whether tests of team may run on the host or watch it.
func (a Agent) UsableBy(team string) bool { return a.Shared || slices.Contains(a.Teams, team) }

// AgentSettings are what a site admin sets for a host: the labels that
// steer host choice and the teams that may use it.
type AgentSettings struct {
	Labels map[string]string `json:"labels"`
	Teams  []string          `json:"teams"`
	Shared bool              `json:"shared"`
}

// Facts describe an agent's host.
type Facts struct {
	CPUModel       string `json:"cpu_model"`
	Cores          int    `json:"cores"`
	ThreadsPerCore int    `json:"threads_per_core"`
	Governor       string `json:"governor"`
	// Turbo is "on" or "off" (Intel no_turbo, or cpufreq boost), empty
	// when the host does not say.
	Turbo       string `json:"turbo,omitempty"`
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	OS          string `json:"os"`
	// Isolation says how the agent runs scripts: "uid FIRST-LAST" (each
	// test as a user of its own), or "off: ..." / "unavailable: ..." and why.
	Isolation string `json:"isolation,omitempty"`
	// Docker is the engine the agent runs tests' containers with, as
	// "20.10.24 (API 1.41)"; empty when it has none.
	Docker string `json:"docker,omitempty"`
}

// Isolated reports whether the agent runs each test's scripts as a user
// of its own; an agent that does not say is taken as not isolated.
func (f Facts) Isolated() bool { return strings.HasPrefix(f.Isolation, "uid ") }

// Heartbeat is what an agent sends to PUT /api/v1/agents/{name}.
type Heartbeat struct {
	Labels  map[string]string `json:"labels"`
	Facts   Facts             `json:"facts"`
	Version string            `json:"version"`
}

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// List wraps a page of items; Next is the cursor for the following page.
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// LogLine is one line of a test's output.
type LogLine struct {
	ID     int64     `json:"id"`
	TS     time.Time `json:"ts"`
	Stream string    `json:"stream"`
	Line   string    `json:"line"`
}

// AbortRequest is the body of POST /api/v1/tests/{id}/abort.
type AbortRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Series is one host's metric over time: parallel slices of Unix
// milliseconds and values.
type Series struct {
	Host   string    `json:"host"`
	Metric string    `json:"metric"`
	TS     []int64   `json:"ts"`
	Values []float64 `json:"values"`
	// Rollup is set once the test's raw samples have expired: the step
	// (milliseconds) of the roll-up whose bucket means these points are.
	Rollup int64 `json:"rollup_ms,omitempty"`
}

// Comparison is GET /api/v1/compare: KPIs side by side, deltas against the first test.
type Comparison struct {
	Tests []Test        `json:"tests"`
	KPIs  []CompareKPI  `json:"kpis"`
	Diffs []CompareDiff `json:"differences"`
}

// CompareKPI is one KPI across the compared tests (the mean over
// iterations); nil where a test lacks it.
type CompareKPI struct {
	Name     string     `json:"name"`
	Unit     string     `json:"unit"`
	Values   []*float64 `json:"values"`
	DeltaPct []*float64 `json:"delta_pct"`
	// Verdicts are each test's own verdict on the KPI (against its baseline).
	Verdicts []string `json:"verdicts"`
}

// CompareDiff is a parameter or environment fact that differs between tests.
type CompareDiff struct {
	What   string   `json:"what"`
	Values []string `json:"values"`
}
