// Package central holds the central worker's activities: the steps of
// Pitwall's workflows that touch the database or the Temporal client. The
// workflows run them as local activities. They convert between the
// contract's payloads and the store's types, so that workflow history
// never holds a database type.
package central

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/pitwall/pitwall/internal/judge"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/alerts"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Activities are the central worker's activities and what they need: the
// store and the Temporal client.
type Activities struct {
	Store    *store.Store
	Temporal client.Client
	// AnyCaller lets the steps on a test run from outside the test's own
	// workflow: for tests of the activities alone, never in a worker.
	AnyCaller bool
	// SecretsDir holds the secrets frameworks name (prometheus
	// bearer_secret, basic_secret), one file each: DIR/NAME.
	SecretsDir string
	// PriorityMaxWait is how long a test may wait for a host behind
	// higher-priority tests before it is promoted; 0 never promotes.
	PriorityMaxWait time.Duration
	// AutoBisect starts the bisection a confirmed regression's framework
	// asks for (nil: none).
	AutoBisect func(ctx context.Context, confirmationID int64) error
	// Announce starts the announcement of a bisection that found its
	// culprit: notifications and the pull request (nil: none).
	Announce func(ctx context.Context, confirmationID int64) error
	// Evaluate applies a test's ending to its alerts
	// (contract.AlertsEvaluate) from the ending's own step (nil: the
	// Notify workflow does it).
	Evaluate func(ctx context.Context, testID int64) (*contract.NotifyPlan, error)
	// Log is where the steps that run outside an activity too (the lease
	// sweep's) log (nil: slog's default).
	Log *slog.Logger
}

func (a *Activities) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}

// ErrRefused is the type of a step refused because what it was handed
// does not match the database: a stray or forged task.
const ErrRefused = "Refused"

// refuse is a non-retryable refusal of a step.
func refuse(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrRefused, nil)
}

// check trusts nothing a task says about a test blindly: the step must run
// in the test's own workflow (whose ID is unique among running workflows,
// so no other workflow can act for a running test), and the test must not
// have ended. It returns the test's state and leased hosts.
func (a *Activities) check(ctx context.Context, step string, testID int64) (st store.TestStep, err error) {
	err = a.admit(ctx, step, testID, func() (string, error) {
		st, err = a.Store.TestStepGet(ctx, testID)
		return st.State, err
	})
	return st, err
}

// checkPlan is check for a step that needs the test's plan: one read
// gives both (the plan carries the state and the leased hosts).
func (a *Activities) checkPlan(ctx context.Context, step string, testID int64) (p *store.TestPlan, err error) {
	err = a.admit(ctx, step, testID, func() (string, error) {
		if p, err = a.Store.TestPlanGet(ctx, testID); err != nil {
			return "", err
		}
		return p.State, nil
	})
	return p, err
}

// admit refuses a step asked by another workflow than the test's own, or
// of a test that has ended (its state read by load).
func (a *Activities) admit(ctx context.Context, step string, testID int64, load func() (string, error)) error {
	if err := a.caller(ctx, step, testID); err != nil {
		return err
	}
	state, err := load()
	if err != nil {
		return loadError(testID, err)
	}
	if wire.Ended(state) {
		return ended(step, testID, state)
	}
	return nil
}

// caller refuses a step asked by a workflow other than the test's own.
func (a *Activities) caller(ctx context.Context, step string, testID int64) error {
	if !a.AnyCaller {
		if got, want := activity.GetInfo(ctx).WorkflowExecution.ID, contract.WorkflowID(testID); got != want {
			return refuse("%s of test %d refused: asked by workflow %q, not the test's own %q", step, testID, got, want)
		}
	}
	return nil
}

// loadError is the error of reading a test for a step: not found is not
// retried.
func loadError(testID int64, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("test %d not found", testID), contract.ErrNotFound, err)
	}
	return fmt.Errorf("load test %d: %w", testID, err)
}

// ended refuses a step of a test that has ended.
func ended(step string, testID int64, state string) error {
	return refuse("%s of test %d refused: the test has ended (%s)", step, testID, state)
}

// Register registers the central activities under their contract names.
// (A function, not a method: every exported method of Activities is an
// activity.)
func Register(r worker.ActivityRegistry, a *Activities) {
	contract.TestLoad.Register(r, a.TestLoad)
	contract.HostPick.Register(r, a.HostPick)
	contract.Transition.Register(r, a.Transition)
	contract.Collate.Register(r, a.Collate)
	contract.Verdict.Register(r, a.Verdict)
	contract.LeaseTake.Register(r, a.LeaseTake)
	contract.LeaseAcquire.Register(r, a.LeaseAcquire)
	contract.LeaseRecord.Register(r, a.LeaseRecord)
	contract.ReleaseLeases.Register(r, a.ReleaseLeases)
	contract.LeaseGrant.Register(r, a.LeaseGrant)
	contract.WorkflowRunning.Register(r, a.WorkflowRunning)
	contract.PromQueries.Register(r, a.PromQueries)
	contract.RolesPick.Register(r, a.RolesPick)
	contract.ConfirmLoad.Register(r, a.ConfirmLoad)
	contract.ConfirmRun.Register(r, a.ConfirmRun)
	contract.ConfirmValues.Register(r, a.ConfirmValues)
	contract.ConfirmUpdate.Register(r, a.ConfirmUpdate)
	contract.BisectCommitsSet.Register(r, a.BisectCommitsSet)
	contract.NoiseLoad.Register(r, a.NoiseLoad)
	contract.NoiseRun.Register(r, a.NoiseRun)
	contract.NoiseEnd.Register(r, a.NoiseEnd)
	contract.RetentionRun.Register(r, a.RetentionRun)
}

// TestLoad returns what a test runs, from its frozen framework version
// and parameters.
func (a *Activities) TestLoad(ctx context.Context, testID int64) (*contract.TestPlan, error) {
	p, err := a.checkPlan(ctx, "loading", testID)
	if err != nil {
		return nil, err
	}
	return testPlan(p), nil
}

// testPlan is the contract's view of a stored test plan.
func testPlan(p *store.TestPlan) *contract.TestPlan {
	fw := p.Framework
	out := &contract.TestPlan{
		TestID: p.ID, Framework: fw.Name, Warmup: fw.Warmup, Repeat: fw.Repeat,
		Execution: contract.Execution{
			Script: fw.Execution.Script, ScriptPath: fw.Execution.ScriptPath, Args: fw.Execution.Args,
			Timeout: time.Duration(fw.Execution.Timeout), Hosts: fw.Execution.Hosts, Labels: fw.Execution.Labels,
			Env: fw.Execution.Env,
		},
		Statistics: contract.Statistics{Hosts: fw.Statistics.Hosts, Interval: time.Duration(fw.Statistics.Interval), Off: fw.Statistics.Off},
		Commit:     p.Commit, Services: fw.Services, Load: fw.Load, Prometheus: fw.Prometheus != nil,
		Priority: p.Priority, Roles: fw.Roles, Interference: fw.Interference, Profilers: fw.Profilers,
	}
	for _, h := range fw.Hooks.List() {
		out.Hooks = append(out.Hooks, contract.Hook{Name: h.Name, Script: h.Script, Path: h.Path})
	}
	for _, p := range p.Params {
		out.Params = append(out.Params, contract.Param{Name: p.Name, Value: p.Value})
	}
	return out
}

// hostChoice is what choosing a test's hosts starts from: every agent, the
// same by name, and the test's team (the test must still be choosing).
func (a *Activities) hostChoice(ctx context.Context, testID int64) ([]wire.Agent, map[string]wire.Agent, string, error) {
	if _, err := a.check(ctx, "choosing hosts", testID); err != nil {
		return nil, nil, "", err
	}
	agents, err := a.Store.AgentList(ctx)
	if err != nil {
		return nil, nil, "", fmt.Errorf("list agents: %w", err)
	}
	teams, err := a.Store.TestTeams(ctx, []int64{testID})
	if err != nil {
		return nil, nil, "", fmt.Errorf("team of test %d: %w", testID, err)
	}
	known := map[string]wire.Agent{}
	for _, ag := range agents {
		known[ag.Name] = ag
	}
	return agents, known, teams[testID], nil
}

// HostPick chooses the execution host: the named one if it is registered,
// else the online agent, not excluded by a site admin, whose labels match that the fewest unended tests
// have claimed, and claims it (store.HostClaim). Statistics hosts must be
// registered agents; none named means the execution host. A named host
// that was never registered is bad input; no online agent yet is worth retrying.
func (a *Activities) HostPick(ctx context.Context, in contract.HostPickInput) (*contract.HostPickResult, error) {
	agents, known, team, err := a.hostChoice(ctx, in.TestID)
	if err != nil {
		return nil, err
	}
	// usable refuses a host that is not registered or not the team's.
	usable := func(role, host string) error {
		ag, ok := known[host]
		switch {
		case !ok:
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s host %q is not a registered agent", role, host), contract.ErrNoHost, nil)
		case !ag.UsableBy(team):
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s host %q is not shared with team %q: a site admin gives it to the team (PATCH /api/v1/agents/%s)",
				role, host, team, host), contract.ErrNoHost, nil)
		}
		return nil
	}
	var candidates []string
	if len(in.Hosts) > 0 {
		if err := usable("execution", in.Hosts[0]); err != nil {
			return nil, err
		}
		if ag := known[in.Hosts[0]]; in.Containers && ag.Online && ag.Facts.Docker == "" {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"execution host %q has no Docker engine, and the framework runs containers (start its agent with --docker-host)",
				in.Hosts[0]), contract.ErrNoHost, nil)
		}
		candidates = in.Hosts[:1]
	} else {
		for _, ag := range agents {
			if ag.Online && !ag.Excluded && ag.UsableBy(team) && labelsMatch(ag.Labels, in.Labels) && (!in.Containers || ag.Facts.Docker != "") {
				candidates = append(candidates, ag.Name)
			}
		}
		if len(candidates) == 0 {
			docker := ""
			if in.Containers {
				docker = " and a Docker engine (the framework runs containers)"
			}
			return nil, temporal.NewApplicationError(fmt.Sprintf(
				"no online agent of team %q (or shared) has the framework's labels %v%s", team, in.Labels, docker), contract.ErrNoHost)
		}
	}
	res := &contract.HostPickResult{}
	claim, err := a.Store.HostClaimWaiting(ctx, in.TestID, candidates, in.RecordWaiting)
	if err != nil {
		return nil, fmt.Errorf("claim a host: %w", err)
	}
	res.Execution, res.Waiting = claim.Host, claim.Waiting
	for _, h := range in.Statistics {
		if err := usable("statistics", h); err != nil {
			return nil, err
		}
		if !slices.Contains(res.Statistics, h) {
			res.Statistics = append(res.Statistics, h)
		}
	}
	if len(res.Statistics) == 0 {
		res.Statistics = []string{res.Execution}
	}
	return res, nil
}

// lifecycle is the order of the states before a test ends; every ending
// comes after all of them.
var lifecycle = []string{wire.StateQueued, wire.StateWaiting, wire.StateSetup, wire.StateRunning, wire.StateCollating}

// forward reports whether a test may go from state from to state to: the
// same state again (a retry, or waiting for the next host), or later.
func forward(from, to string) bool {
	rank := func(s string) int {
		if i := slices.Index(lifecycle, s); i >= 0 {
			return i
		}
		return len(lifecycle)
	}
	return rank(to) >= rank(from)
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Transition records a test's state change and its stages.
//
// The test's state is checked (not ended, and moving forward) by the
// statement that records the transition (store.TestMove): a test makes
// three transitions, and a check of its own was a round trip each.
func (a *Activities) Transition(ctx context.Context, in contract.TransitionInput) error {
	step := "state " + in.State
	if err := a.caller(ctx, step, in.TestID); err != nil {
		return err
	}
	tr := store.Transition{TestID: in.TestID, State: in.State, At: in.At, Reason: in.Reason, Host: in.Host,
		ExitCode: in.ExitCode, Hosts: in.Hosts, WaitingFor: in.WaitingFor}
	if tr.At.IsZero() {
		tr.At = time.Now()
	}
	for _, s := range in.Stages {
		tr.Stages = append(tr.Stages, store.Stage{Name: s.Name, At: s.At, Detail: s.Detail})
	}
	from, err := a.Store.TestMove(ctx, tr, lifecycle)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return loadError(in.TestID, err)
	case err != nil:
		return fmt.Errorf("record state %s of test %d: %w", in.State, in.TestID, err)
	case wire.Ended(from) && in.State == from:
		// A retry of the ending that was recorded: its notifications
		// may not have started yet.
		if a.Temporal != nil {
			if err := a.notify(ctx, in.TestID); err != nil {
				return fmt.Errorf("start notifications of test %d: %w", in.TestID, err)
			}
		}
		return nil
	case wire.Ended(from):
		return ended(step, in.TestID, from)
	case in.State != "" && !forward(from, in.State):
		return refuse("state %s of test %d refused: the test is %s, and states only move forward", in.State, in.TestID, from)
	}
	if wire.Ended(in.State) && a.Temporal != nil {
		// Alerts and notifications of the ending (notify).
		if err := a.notify(ctx, in.TestID); err != nil {
			return fmt.Errorf("start notifications of test %d: %w", in.TestID, err)
		}
	}
	return nil
}

// notify evaluates a test's ending for alerts here, when the worker can
// (Evaluate set), and starts the test's Notify workflow only when that
// leads to deliveries or failed: the workflow evaluates again, with its
// own retries (evaluation is once per test, so nothing is applied twice),
// and delivers. Most endings change no alert and notify nobody: they cost
// Temporal no workflow (two workflow tasks, an activity task and two
// visibility records) that would only have found nothing to do. The
// workflow's ID is the test's, so a retried ending starts it once.
func (a *Activities) notify(ctx context.Context, testID int64) error {
	if a.Evaluate != nil {
		plan, err := a.Evaluate(ctx, testID)
		if err == nil && len(plan.Deliveries) == 0 {
			return nil
		}
		if err != nil {
			activity.GetLogger(ctx).Warn("alerts of the ending not evaluated; the Notify workflow retries", "test", testID, "error", err)
		}
	}
	return alerts.Start(ctx, a.Temporal, testID)
}

// Collate stores a test's KPIs, per iteration, and its notes, and merges
// its samples into full chunks. KPIs are held to the units their framework
// version declares (results.ApplyUnits).
func (a *Activities) Collate(ctx context.Context, in contract.CollateInput) error {
	plan, err := a.checkPlan(ctx, "collating", in.TestID)
	if err != nil {
		return err
	}
	if plan.State != wire.StateCollating {
		return refuse("collating test %d refused: the test is %s, not collating", in.TestID, plan.State)
	}
	for _, h := range in.Hosts {
		if !slices.Contains(plan.Hosts, h) {
			return refuse("collating test %d refused: host %s is not one the test leased (%v)", in.TestID, h, plan.Hosts)
		}
	}
	units := map[string]string{}
	for _, k := range plan.Framework.KPIs {
		units[k.Name] = k.Unit
	}
	var (
		notes []string
		its   []store.IterationResults
	)
	for _, it := range in.Iterations {
		notes = append(notes, it.Notes...)
		r := store.IterationResults{Iteration: it.Iteration}
		for _, k := range it.KPIs {
			r.KPIs = append(r.KPIs, results.KPI{Name: k.Name, Value: k.Value, Unit: k.Unit, Raw: k.Raw, Line: k.Line})
		}
		file := it.File
		if file == "" {
			file = "results.csv"
		}
		for _, n := range results.ApplyUnits(file, r.KPIs, units) {
			notes = append(notes, n.String())
		}
		its = append(its, r)
	}
	its, notes = withPromKPIs(its, append(notes, in.PromNotes...), in.PromKPIs)
	if err := a.Store.TestResultsStore(ctx, in.TestID, its, notes); err != nil {
		return fmt.Errorf("store results of test %d: %w", in.TestID, err)
	}
	if err := a.Store.NotesReplace(ctx, in.TestID, "upload", in.Skipped); err != nil {
		return fmt.Errorf("store upload notes of test %d: %w", in.TestID, err)
	}
	// The monitors have flushed: the samples the test keeps are merged into
	// full chunks once, whatever the server compacted on the way.
	for _, h := range in.Hosts {
		if err := a.Store.SampleCompact(ctx, in.TestID, h); err != nil {
			return fmt.Errorf("compact samples of %s: %w", h, err)
		}
	}
	// A run whose containers were CPU-throttled is flagged with a note:
	// its figures are noisier than the host's floor (docs/noise.md).
	throttled, err := a.Store.Throttled(ctx, in.TestID)
	if err != nil {
		return fmt.Errorf("throttling of test %d: %w", in.TestID, err)
	}
	var flags []string
	for _, th := range throttled {
		flags = append(flags, fmt.Sprintf("CPU throttled: container %s on %s was throttled %.0f ms in all (up to %.0f ms per second, container stats): its figures may be noisy",
			th.Container, th.Host, th.TotalMs, th.MaxMsPerSec))
	}
	if err := a.Store.NotesReplace(ctx, in.TestID, "throttling", flags); err != nil {
		return fmt.Errorf("store throttling notes of test %d: %w", in.TestID, err)
	}
	return a.fingerprint(ctx, in)
}

// fingerprint stores the environment the test ran in: each host's facts
// as its agent last reported them, and what exactly ran with what.
func (a *Activities) fingerprint(ctx context.Context, in contract.CollateInput) error {
	t, err := a.Store.TestRow(ctx, in.TestID)
	if err != nil {
		return err
	}
	// A run of a confirmation or an A/A series leased no host itself (its
	// series holds them): its execution host's facts are kept all the same.
	hosts := in.Hosts
	if t.Host != "" && !slices.Contains(hosts, t.Host) {
		hosts = append(slices.Clone(hosts), t.Host)
	}
	agents, err := a.Store.AgentFacts(ctx, hosts)
	if err != nil {
		return err
	}
	fp := wire.Fingerprint{
		Hosts: map[string]wire.HostFingerprint{}, ScriptSHA256: in.ScriptSHA256, Hooks: in.HookSHA256,
		Params: map[string]string{}, Commit: t.Commit, Branch: t.Branch, PR: t.PR, Tags: t.Tags,
	}
	for _, h := range hosts {
		ag := agents[h]
		fp.Hosts[h] = wire.HostFingerprint{Facts: ag.Facts, AgentVersion: ag.Version}
	}
	if h, ok := fp.Hosts[t.Host]; ok {
		fp.Hardware = h.Hardware()
	}
	if fp.CPUMigrations, err = a.migrations(ctx, in, fp.Hardware); err != nil {
		return err
	}
	for _, p := range t.Params {
		fp.Params[p.Name] = p.Value
	}
	return a.Store.FingerprintSet(ctx, in.TestID, fp)
}

// Verdict judges each KPI of a finished test against its baseline and
// stores the verdicts with their evidence (internal/judge).
func (a *Activities) Verdict(ctx context.Context, testID int64) (*contract.VerdictResult, error) {
	if st, err := a.check(ctx, "judging", testID); err != nil {
		return nil, err
	} else if st.State != wire.StateCollating {
		return nil, refuse("judging test %d refused: the test is %s, not collating", testID, st.State)
	}
	r, err := judge.Judge(ctx, a.Store, testID)
	if err != nil {
		return nil, fmt.Errorf("judge test %d: %w", testID, err)
	}
	return &contract.VerdictResult{Verdict: r.Verdict, Baseline: r.Baseline}, nil
}
