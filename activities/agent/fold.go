package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/workflows/contract"
)

// executeFolded is an Execute that carries the test's Setup, the Collect
// that follows the run, the host's Monitor, or several: what took PerfTest
// up to four agent activities, each with a workflow task of its own, takes
// one.
//
// Retries keep Execute's rule that a run happens once. A Setup is done
// again only when no earlier attempt started the script: the run's state
// directory is not there, and either the test's directory is (the earlier
// attempt stopped between setting up and starting) or the setup failed on
// this agent. With no trace at all (the work directory was cleared) the
// run is reported lost, as an Execute without a Setup reports it. A retry
// after the folded Collect cleaned up answers with the result it kept.
func (a *Activities) executeFolded(ctx context.Context, in contract.ExecuteInput) (*contract.ExecuteResult, error) {
	if in.Collect != nil && in.Collect.Cleanup {
		var kept *contract.ExecuteResult
		a.state.with(in.TestID, func(ts *testState) { kept = ts.ran })
		if kept != nil {
			return kept, nil
		}
	}
	var mon *foldedMonitor
	if in.Monitor != nil && in.Collect != nil {
		mon = a.startMonitor(ctx, *in.Monitor)
	}
	res, err := a.setupRunCollect(ctx, in)
	if mon != nil {
		// The Collect stopped it; it stops here on a failure.
		got, merr := mon.stop()
		if err == nil {
			if merr != nil {
				return nil, merr
			}
			res.Monitor = got
		}
	}
	if err != nil {
		return nil, err
	}
	if in.Collect != nil && in.Collect.Cleanup {
		a.state.keepRan(in.TestID, res)
	}
	return res, nil
}

// setupRunCollect sets up (when asked), runs, and collects (when asked).
func (a *Activities) setupRunCollect(ctx context.Context, in contract.ExecuteInput) (*contract.ExecuteResult, error) {
	var setup *contract.SetupResult
	if in.Setup != nil {
		var err error
		stop := beating(ctx)
		setup, err = a.foldedSetup(ctx, &in)
		stop()
		if err != nil {
			return nil, err
		}
	}
	res, err := a.execute(ctx, in)
	if err != nil {
		return nil, err
	}
	res.Setup = setup
	if in.Collect == nil {
		return res, nil
	}
	cin := *in.Collect
	if cin.ResultsDir == "" {
		cin.ResultsDir = in.ResultsDir
	}
	if res.Collected, err = a.Collect(ctx, cin); err != nil {
		return nil, err
	}
	return res, nil
}

// foldedMonitor is a Monitor that runs inside an Execute.
type foldedMonitor struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    *contract.MonitorResult
	err    error
}

// startMonitor starts the test's Monitor within the Execute's activity
// (its batches and heartbeats are the Execute's); the folded Collect
// stops it as a StopMonitor would.
func (a *Activities) startMonitor(ctx context.Context, in contract.MonitorInput) *foldedMonitor {
	mctx, cancel := context.WithCancel(ctx)
	m := &foldedMonitor{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		m.res, m.err = a.Monitor(mctx, in)
	}()
	return m
}

// stop ends the monitor if nothing did and waits until it has flushed.
func (m *foldedMonitor) stop() (*contract.MonitorResult, error) {
	m.cancel()
	<-m.done
	return m.res, m.err
}

// foldedSetup sets the test up for the Execute that carries its Setup
// (unless an earlier attempt started the script) and fills the run's
// paths in from it.
func (a *Activities) foldedSetup(ctx context.Context, in *contract.ExecuteInput) (*contract.SetupResult, error) {
	r := newScriptRun(ctx, a.runsDir(in.TestID), *in)
	again := true
	if _, err := os.Stat(r.state); err == nil {
		again = false // the script started: the run is taken over below
	} else if activity.GetInfo(ctx).Attempt > 1 {
		var failed bool
		a.state.with(in.TestID, func(ts *testState) { failed = ts.setupFailed })
		if _, err := os.Stat(a.testDir(in.TestID)); errors.Is(err, os.ErrNotExist) && !failed {
			again = false // no trace: startOrAttach says what was lost
		}
	}
	var res *contract.SetupResult
	if again {
		var err error
		if res, err = a.Setup(ctx, *in.Setup); err != nil {
			a.state.with(in.TestID, func(ts *testState) { ts.setupFailed = true })
			return nil, setupError(err)
		}
		a.state.with(in.TestID, func(ts *testState) { ts.setupFailed = false })
	} else {
		res = a.setupDone(*in.Setup)
	}
	in.Dir, in.ResultsDir, in.Script = res.Dir, res.ResultsDir, res.Script
	return res, nil
}

// setupDone describes a test an earlier attempt set up: where its files
// are, and their digests, as Setup said then.
func (a *Activities) setupDone(in contract.SetupInput) *contract.SetupResult {
	dir := a.testDir(in.TestID)
	res := &contract.SetupResult{Dir: dir, ResultsDir: resultsDir(dir), Script: in.ScriptPath, Done: time.Now()}
	if res.Script == "" {
		res.Script = filepath.Join(dir, "script")
	}
	res.ScriptSHA256 = fileSHA256(res.Script)
	for _, h := range in.Hooks {
		switch {
		case h.Path != "":
			addHook(res, h.Name, h.Path)
		case h.Script != "":
			addHook(res, h.Name, filepath.Join(dir, "hook-"+h.Name))
		}
	}
	return res
}

// setupError marks a folded Setup's failure as the setup's (ErrSetup),
// with its own message, retried as the setup's own error would be.
func setupError(err error) error {
	msg := err.Error()
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msg = app.Message()
		if app.NonRetryable() {
			return temporal.NewNonRetryableApplicationError(msg, contract.ErrSetup, err)
		}
	}
	return temporal.NewApplicationErrorWithCause(msg, contract.ErrSetup, err)
}

// beating heartbeats the activity of ctx ("collecting") every
// HeartbeatInterval until the function it returns is called.
func beating(ctx context.Context) func() {
	h := &heartbeat{}
	h.set("collecting")
	return h.beat(ctx)
}
