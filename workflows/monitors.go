package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// monitors are the Monitor activities of one test, one per statistics host.
type monitors struct {
	hosts []string
	// started are the hosts whose Monitor is an activity of its own, with
	// its future.
	started []string
	futures []workflow.Future
	// inRun is the execution host's Monitor when it rides in the run's
	// Execute (monitorFoldable); ranInRun is what it answered, nil when
	// the run failed.
	inRun    *contract.MonitorInput
	ranInRun *contract.MonitorResult
	// cancel cancels every monitor, for an agent that cannot be told to stop.
	cancel workflow.CancelFunc
	// stoppedByCollect is set when the last Collect stopped the execution
	// host's monitor.
	stoppedByCollect bool
}

// startMonitors starts a monitor on every statistics host; they run until
// the script's runs end. With monitoring off (statistics.off) it starts
// none.
func (t *perfTest) startMonitors(ctx workflow.Context) *monitors {
	mctx, cancel := workflow.WithCancel(ctx)
	m := &monitors{hosts: t.stats, cancel: cancel}
	if t.plan.Statistics.Off {
		m.hosts = nil
		t.stage(ctx, "monitoring off", "statistics.off: no host is sampled")
		return m
	}
	runs := time.Duration(t.runs())
	for _, h := range t.stats {
		in := contract.MonitorInput{TestID: t.id, Interval: t.plan.Statistics.Interval}
		if h == t.host {
			if t.setup != nil {
				in.ResultsDir = t.setup.ResultsDir
			} else {
				in.ExecutionHost = true // the first Execute sets the test up
			}
			if t.monitorFoldable() {
				m.inRun = &in
				continue
			}
		}
		actx := workflow.WithActivityOptions(mctx, workflow.ActivityOptions{
			TaskQueue:              contract.AgentQueue(h),
			ScheduleToStartTimeout: 5 * time.Minute,
			StartToCloseTimeout:    runs*(t.plan.Execution.Timeout+10*time.Minute) + time.Hour,
			HeartbeatTimeout:       agentHeartbeatTimeout,
			WaitForCancellation:    true,
			// After an agent restart a new attempt samples again.
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2,
				MaximumInterval: 5 * time.Second, MaximumAttempts: executeAttempts,
			},
		})
		m.started = append(m.started, h)
		m.futures = append(m.futures, contract.Monitor.Execute(actx, in).Future)
	}
	t.stage(ctx, "monitors started", strings.Join(t.stats, ", "))
	return m
}

// stopMonitors tells every monitor to stop and waits for each to flush,
// even when the test was aborted.
func (t *perfTest) stopMonitors(ctx workflow.Context) {
	m := t.monitors
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	defer m.cancel()
	if t.lost && workflow.GetVersion(ctx, "cancel-monitors-of-lost-agent", workflow.DefaultVersion, 1) == 1 {
		// Its monitor would be retried on the lost agent until that comes
		// back: cancel it rather than wait.
		m.cancel()
	}
	var stops []workflow.Future
	for _, h := range m.started {
		if h == t.host && (t.lost || m.stoppedByCollect) {
			continue // stopped already, or it times out by itself
		}
		sctx := workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
			TaskQueue: contract.AgentQueue(h), ScheduleToCloseTimeout: 5 * time.Second,
		})
		stops = append(stops, contract.StopMonitor.Execute(sctx, t.id))
	}
	for _, f := range stops {
		if f.Get(dctx, nil) != nil {
			m.cancel() // that agent is away: cancel instead
		}
	}
	for i, f := range m.futures {
		var res contract.MonitorResult
		if err := f.Get(dctx, &res); err != nil && !temporal.IsCanceledError(err) {
			t.stage(ctx, "monitor lost on "+m.started[i], errorMessage(err))
			continue
		}
		t.stage(ctx, "monitor stopped on "+m.started[i], fmt.Sprintf("%d samples", res.Samples))
	}
	switch {
	case m.inRun == nil:
	case m.ranInRun != nil:
		t.stage(ctx, "monitor stopped on "+t.host, fmt.Sprintf("%d samples", m.ranInRun.Samples))
	default:
		t.stage(ctx, "monitor stopped on "+t.host, "with its run, which did not end well")
	}
}

// monitorFoldable says whether the execution host's Monitor can ride in
// the run's Execute (monitorVersion): one run, which sets the test up and
// collects after it (nothing runs between them that the monitor would
// have watched), on the single-host path.
func (t *perfTest) monitorFoldable() bool {
	return t.monitorInRun && t.roles == nil && t.foldSetup && t.runs() == 1 && t.plan.Load == nil && !t.hasHook("after_run")
}
