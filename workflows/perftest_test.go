package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// bundle is what each workflow test needs: an environment with a fake of
// every activity, and what those fakes were asked to do. The fakes only
// record (they run on the activities' goroutines); tests assert afterwards.
type bundle struct {
	env         *testsuite.TestWorkflowEnvironment
	mu          sync.Mutex
	transitions []contract.TransitionInput
	executes    []contract.ExecuteInput
	collated    []contract.CollateInput
	collects    []contract.CollectInput
	cleaned     bool
	killed      bool
	released    int
	requests    []contract.LeaseRequest
	setups      int
	// monitors counts the Monitor activities (not the ones folded into
	// an Execute).
	monitors int
}

// fakes change what some activities do; the zero value succeeds.
type fakes struct {
	hostPick error
	setup    error
	// holder, when set, holds the host when the test asks (LeaseTake
	// queues it); the grant comes 1 s after the test starts. 0: the host
	// is free.
	holder int64
	// execute runs the script; nil: it exits 0.
	execute func(context.Context, contract.ExecuteInput) (*contract.ExecuteResult, error)
}

func setup(t *testing.T, f fakes) *bundle {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	b := &bundle{env: suite.NewTestWorkflowEnvironment()}
	b.central(f)
	b.agent(t, f)
	if f.hostPick == nil && f.holder != 0 {
		// The holder's release grants the host.
		b.env.RegisterDelayedCallback(func() {
			b.env.SignalWorkflow(contract.SignalLease, contract.LeaseEvent{Host: "bench-01", Granted: true})
		}, time.Second)
	}
	b.env.OnSignalExternalWorkflow(mock.Anything, contract.LeaseWorkflowID("bench-01"), "", contract.SignalLeaseRelease, mock.Anything).
		Return(func(_, _, _, _ string, _ any) error {
			b.released++
			return nil
		})
	return b
}

// record runs fn under the bundle's lock.
func (b *bundle) record(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fn()
}

// central registers fakes of the central activities.
func (b *bundle) central(f fakes) {
	plan := &contract.TestPlan{TestID: 7, Framework: "sample", Repeat: 1,
		Execution: contract.Execution{Script: "#!/bin/sh\n", Args: framework.ArgsPositional, Timeout: time.Minute},
		Params:    []contract.Param{{Name: "n", Value: "1"}}}
	contract.TestLoad.Register(b.env, func(context.Context, int64) (*contract.TestPlan, error) { return plan, nil })
	contract.HostPick.Register(b.env, func(context.Context, contract.HostPickInput) (*contract.HostPickResult, error) {
		if f.hostPick != nil {
			return nil, f.hostPick
		}
		return &contract.HostPickResult{Execution: "bench-01", Statistics: []string{"bench-01"}}, nil
	})
	contract.LeaseTake.Register(b.env, func(_ context.Context, in contract.LeaseRequestInput) (contract.LeaseEvent, error) {
		b.record(func() { b.requests = append(b.requests, in.Request) })
		if f.holder != 0 {
			return contract.LeaseEvent{Host: in.Host, Holder: f.holder}, nil
		}
		return contract.LeaseEvent{Host: in.Host, Granted: true}, nil
	})
	contract.ReleaseLeases.Register(b.env, func(_ context.Context, in contract.ReleaseLeasesInput) error {
		b.record(func() { b.released += len(in.Hosts) })
		return nil
	})
	contract.Transition.Register(b.env, func(_ context.Context, in contract.TransitionInput) error {
		b.record(func() { b.transitions = append(b.transitions, in) })
		return nil
	})
	contract.Collate.Register(b.env, func(_ context.Context, in contract.CollateInput) error {
		b.record(func() { b.collated = append(b.collated, in) })
		return nil
	})
	contract.Verdict.Register(b.env, func(context.Context, int64) (*contract.VerdictResult, error) {
		return &contract.VerdictResult{Verdict: "unchanged", Baseline: []int64{3, 5}}, nil
	})
}

// agent registers fakes of the agent's activities.
func (b *bundle) agent(t *testing.T, f fakes) {
	doSetup := func(_ context.Context, in contract.SetupInput) (*contract.SetupResult, error) {
		b.record(func() { b.setups++ })
		if f.setup != nil {
			return nil, f.setup
		}
		res := &contract.SetupResult{Dir: "/w/7", ResultsDir: "/w/7/results", Script: "/w/7/script"}
		for _, h := range in.Hooks {
			if res.Hooks == nil {
				res.Hooks = map[string]string{}
			}
			res.Hooks[h.Name] = "/w/7/hook-" + h.Name
		}
		return res, nil
	}
	contract.Setup.Register(b.env, doSetup)
	// Execute does a folded Setup and Collect as the agent does.
	contract.Execute.Register(b.env, func(ctx context.Context, in contract.ExecuteInput) (*contract.ExecuteResult, error) {
		var set *contract.SetupResult
		if in.Setup != nil {
			var err error
			if set, err = doSetup(ctx, *in.Setup); err != nil {
				var app *temporal.ApplicationError
				require.ErrorAs(t, err, &app)
				return nil, temporal.NewNonRetryableApplicationError(app.Message(), contract.ErrSetup, err)
			}
			in.Script, in.Dir, in.ResultsDir = set.Script, set.Dir, set.ResultsDir
		}
		b.record(func() { b.executes = append(b.executes, in) })
		res := &contract.ExecuteResult{}
		if f.execute != nil {
			var err error
			if res, err = f.execute(ctx, in); err != nil {
				return nil, err
			}
		}
		res.Setup = set
		if in.Collect != nil {
			c := *in.Collect
			c.ResultsDir = in.ResultsDir
			res.Collected = b.collect(c)
			if in.Monitor != nil {
				res.Monitor = &contract.MonitorResult{Samples: 4}
			}
		}
		return res, nil
	})
	contract.Monitor.Register(b.env, func(context.Context, contract.MonitorInput) (*contract.MonitorResult, error) {
		b.record(func() { b.monitors++ })
		return &contract.MonitorResult{Samples: 3}, nil
	})
	contract.StopMonitor.Register(b.env, func(context.Context, int64) error { return nil })
	contract.Collect.Register(b.env, func(_ context.Context, in contract.CollectInput) (*contract.CollectResult, error) {
		return b.collect(in), nil
	})
	contract.Cleanup.Register(b.env, func(context.Context, int64) error {
		b.record(func() { b.cleaned = true })
		return nil
	})
	contract.Kill.Register(b.env, func(context.Context, int64) error {
		b.record(func() { b.killed = true })
		return nil
	})
}

// collect is the fake Collect, alone or folded into an Execute.
func (b *bundle) collect(in contract.CollectInput) *contract.CollectResult {
	res := &contract.CollectResult{File: "results.csv", KPIs: []contract.KPI{{Name: "Latency", Value: 12.5, Unit: "ms"}}}
	if in.Iteration > 0 {
		res.File = fmt.Sprintf("results.%d.csv", in.Iteration)
	}
	if in.Upload {
		res.Upload = &contract.UploadResult{Files: 1, Bytes: 10}
	}
	b.record(func() {
		b.collects = append(b.collects, in)
		b.cleaned = b.cleaned || in.Cleanup
	})
	return res
}

func (b *bundle) run(t *testing.T) *contract.PerfTestResult {
	t.Helper()
	b.env.ExecuteWorkflow(PerfTest, contract.PerfTestInput{TestID: 7})
	require.True(t, b.env.IsWorkflowCompleted())
	require.NoError(t, b.env.GetWorkflowError())
	var res contract.PerfTestResult
	require.NoError(t, b.env.GetWorkflowResult(&res))
	return &res
}

func (b *bundle) states() []string {
	var s []string
	for _, tr := range b.transitions {
		s = append(s, tr.State)
	}
	return s
}

func TestPerfTestSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, fakes{})
	res := b.run(t)
	require.Equal(t, wire.StateFinished, res.State)
	require.Equal(t, "bench-01", res.Host)
	// The lean shape: the Execute sets up, so there is no setup state.
	require.Equal(t, []string{wire.StateRunning, wire.StateCollating, wire.StateFinished}, b.states())
	require.Len(t, b.executes, 1)
	require.NotNil(t, b.executes[0].Setup, "the first Execute sets the test up")
	require.NotNil(t, b.executes[0].Collect, "and collects: no after_run hook runs between them")
	require.Equal(t, 1, b.setups)
	require.Equal(t, "/w/7/script", b.executes[0].Script)
	require.Equal(t, time.Minute, b.executes[0].Timeout)
	require.Equal(t, []contract.Param{{Name: "n", Value: "1"}}, b.executes[0].Params)
	require.Len(t, b.collated, 1)
	require.Equal(t, "Latency", b.collated[0].Iterations[0].KPIs[0].Name)
	require.True(t, b.cleaned, "the last Collect cleans up: no before_cleanup hook runs there")
	require.Len(t, b.collects, 1)
	require.True(t, b.collects[0].StopMonitor, "the last Collect stops the execution host's monitor")
	require.True(t, b.collects[0].Upload, "and uploads the artifacts")
	require.Equal(t, 1, b.released, "the host is given back")
	// One run that sets up and collects: the monitor rides in it.
	require.NotNil(t, b.executes[0].Monitor, "the Execute monitors the host")
	require.True(t, b.executes[0].Monitor.ExecutionHost)
	require.Zero(t, b.monitors, "no Monitor activity of its own")
	last := b.transitions[len(b.transitions)-1]
	require.Contains(t, stageNames(last.Stages), "verdict")
	var stopped []string
	for _, tr := range b.transitions {
		for _, s := range tr.Stages {
			if s.Name == "monitor stopped on bench-01" {
				stopped = append(stopped, s.Detail)
			}
		}
	}
	require.Equal(t, []string{"4 samples"}, stopped, "the folded monitor's samples")
}

func stageNames(stages []contract.Stage) []string {
	var names []string
	for _, s := range stages {
		names = append(names, s.Name)
	}
	return names
}

func TestPerfTestScriptFailureKeepsResults(t *testing.T) {
	t.Parallel()
	b := setup(t, fakes{execute: func(context.Context, contract.ExecuteInput) (*contract.ExecuteResult, error) {
		return &contract.ExecuteResult{ExitCode: 3, StderrTail: "warming up\nerror: connection refused"}, nil
	}})
	res := b.run(t)
	require.Equal(t, wire.StateFailed, res.State)
	require.Equal(t, "script exited with status 3: error: connection refused", res.Reason)
	require.Equal(t, 3, *res.ExitCode)
	require.Len(t, b.collated, 1, "what a failed script wrote is still kept")
	require.True(t, b.cleaned)
	last := b.transitions[len(b.transitions)-1]
	require.Equal(t, wire.StateFailed, last.State)
	require.Equal(t, res.Reason, last.Reason)
}

func TestPerfTestTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, fakes{execute: func(context.Context, contract.ExecuteInput) (*contract.ExecuteResult, error) {
		return &contract.ExecuteResult{ExitCode: 143, TimedOut: true, Signal: "terminated"}, nil
	}})
	res := b.run(t)
	require.Equal(t, wire.StateTimedOut, res.State)
	require.Contains(t, res.Reason, "timeout of 1m0s")
	require.True(t, b.cleaned)
}

func TestPerfTestRepeatKeepsEachIteration(t *testing.T) {
	t.Parallel()
	b := setup(t, fakes{})
	b.env.OnActivity(contract.TestLoad.Name, mock.Anything, int64(7)).Return(&contract.TestPlan{TestID: 7, Framework: "sample",
		Warmup: 1, Repeat: 2, Execution: contract.Execution{Script: "#!/bin/sh\n", Timeout: time.Minute}}, nil)
	res := b.run(t)
	require.Equal(t, wire.StateFinished, res.State)
	require.Len(t, b.executes, 3, "one warm-up run and two kept ones")
	require.Equal(t, []int{1, 2, 3}, []int{b.executes[0].Iteration, b.executes[1].Iteration, b.executes[2].Iteration})
	require.Len(t, b.collects, 3)
	require.True(t, b.collects[0].Discard, "the warm-up run's results are dropped")
	require.Equal(t, []int{1, 2}, []int{b.collects[1].Iteration, b.collects[2].Iteration})
	require.False(t, b.collects[1].Upload, "only the last Collect uploads")
	require.True(t, b.collects[2].Upload)
	require.Len(t, b.collated[0].Iterations, 2)
	require.Equal(t, []string{"results.1.csv", "results.2.csv"}, []string{b.collated[0].Iterations[0].File, b.collated[0].Iterations[1].File},
		"each iteration names the file its KPIs came from")
}

func TestPerfTestSetupFailureStillCleansUp(t *testing.T) {
	t.Parallel()
	b := setup(t, fakes{setup: temporal.NewNonRetryableApplicationError(
		"script /opt/run.sh does not exist on agent bench-01", contract.ErrBadScript, nil)})
	res := b.run(t)
	require.Equal(t, wire.StateFailed, res.State)
	require.Equal(t, "setup: script /opt/run.sh does not exist on agent bench-01", res.Reason)
	// The setup is the first Execute's, inside the running state.
	require.Equal(t, []string{wire.StateRunning, wire.StateFailed}, b.states())
	require.Empty(t, b.executes, "nothing runs after a failed setup")
	require.True(t, b.cleaned, "the Execute may have made part of the test's directory: cleanup runs")
	require.Equal(t, 1, b.released, "the host is given back after a failure too")
}

func TestPerfTestUnknownHost(t *testing.T) {
	t.Parallel()
	b := setup(t, fakes{hostPick: temporal.NewNonRetryableApplicationError(
		`execution host "db-9" is not a registered agent`, contract.ErrNoHost, nil)})
	res := b.run(t)
	require.Equal(t, wire.StateFailed, res.State)
	require.Equal(t, `choose host: execution host "db-9" is not a registered agent`, res.Reason)
	require.Equal(t, []string{wire.StateFailed}, b.states())
}

func TestPerfTestAbortKillsAndCleansUp(t *testing.T) {
	t.Parallel()
	// The abort comes while the script runs (SignalWorkflow is safe from
	// the activity's goroutine), not at a time that load could move.
	var b *bundle
	b = setup(t, fakes{execute: func(ctx context.Context, _ contract.ExecuteInput) (*contract.ExecuteResult, error) {
		b.env.SignalWorkflow(contract.SignalAbort, contract.AbortRequest{Reason: "wrong branch"})
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	res := b.run(t)
	require.Equal(t, wire.StateAborted, res.State)
	require.Equal(t, "aborted: wrong branch", res.Reason)
	require.True(t, b.killed, "the script is killed at once")
	require.True(t, b.cleaned, "cleanup runs after an abort")
	require.Equal(t, 1, b.released, "the host is given back")
	require.Empty(t, b.collated, "an aborted run is not collated")
	require.Equal(t, wire.StateAborted, b.states()[len(b.states())-1])
}

func TestHostLeaseGrantsInOrder(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var (
		mu      sync.Mutex
		holders []int64
		told    []string
	)
	leaseFakes(env, func(wfID string, ev contract.LeaseEvent) {
		told = append(told, fmt.Sprintf("%s granted=%v holder=%d", wfID, ev.Granted, ev.Holder))
	}, func(id int64) {
		mu.Lock()
		defer mu.Unlock()
		holders = append(holders, id)
	})
	req := func(id int64) contract.LeaseRequest {
		return contract.LeaseRequest{TestID: id, WorkflowID: contract.WorkflowID(id)}
	}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(1)) }, time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(2)) }, 2*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalLeaseAcquire, req(3)) }, 3*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalLeaseRelease, contract.LeaseRelease{TestID: 2}) }, 4*time.Second)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalLeaseRelease, contract.LeaseRelease{TestID: 1}) }, 5*time.Second)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 6*time.Second)
	env.ExecuteWorkflow(HostLease, contract.HostLeaseInput{Host: "bench-01"})
	require.Equal(t, []string{
		"perftest-1 granted=true holder=0",
		"perftest-2 granted=false holder=1",
		"perftest-3 granted=false holder=1",
		"perftest-3 granted=true holder=0",
	}, told, "2 left the queue while waiting, so 3 is next")
	require.Equal(t, []int64{1, 3}, holders, "3 takes the host as 1 gives it back: no free moment is recorded")
}
