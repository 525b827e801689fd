package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/workflows/contract"
)

// HeartbeatInterval is how often long activities heartbeat; PerfTest sets
// the heartbeat timeout to a few of these.
const HeartbeatInterval = time.Second

// killGrace is how long a timed-out script has between SIGTERM and SIGKILL.
const killGrace = 5 * time.Second

// stopWait bounds how long Kill and Cleanup wait for a stopped run's
// supervisor to report that every process of the tree is gone.
const stopWait = 10 * time.Second

// logFlushWait is how long an ending script waits for its last log lines to
// reach the server before the test moves on (the shipping goes on after).
const logFlushWait = 10 * time.Second

// Execute runs the script (or a hook) under a supervisor of its own, with
// the parameters as argv and PITWALL_* variables (never through a shell
// line), heartbeating until it ends and streaming its output to the
// server. The supervisor owns the script's whole process tree, enforces the
// timeout, and outlives the agent: a later attempt of this activity, on the
// restarted agent, takes the run over where it is and ships its output from
// where the last agent stopped. A non-zero exit is a result, not an error.
//
// An Execute may carry the test's Setup (its first run) and the Collect
// that follows the run (fold.go): then it sets up before and collects
// after, in one task.
func (a *Activities) Execute(ctx context.Context, in contract.ExecuteInput) (*contract.ExecuteResult, error) {
	info := activity.GetInfo(ctx)
	release, err := a.state.oneAttempt(ctx, info.WorkflowExecution.RunID+"/"+info.ActivityID,
		func() { activity.RecordHeartbeat(ctx, "waiting for the earlier attempt") })
	if err != nil {
		return nil, err
	}
	defer release()
	if in.Collect == nil && in.Setup == nil {
		defer a.touch(in.TestID)()
		return a.execute(ctx, in)
	}
	done := a.touch(in.TestID)
	res, err := a.executeFolded(ctx, in)
	done()
	if err == nil && in.Collect != nil && in.Collect.Cleanup {
		a.state.forget(in.TestID) // its files are gone: so is its usage
	}
	return res, err
}

// execute runs the script or hook once (or takes its run over).
func (a *Activities) execute(ctx context.Context, in contract.ExecuteInput) (*contract.ExecuteResult, error) {
	r := newScriptRun(ctx, a.runsDir(in.TestID), in)
	if err := a.interferenceReady(r); err != nil {
		return nil, err
	}
	run, res, err := a.startOrAttach(ctx, r)
	if err != nil {
		return nil, err
	}
	a.track(in.TestID, run)
	defer a.untrack(in.TestID, run)
	gens := a.startInterference(r, !res.Reattached.IsZero())
	var prof *profilerSet
	if res.Reattached.IsZero() {
		prof = a.startProfilers(ctx, r)
	}
	defer prof.kill()
	shipped := a.shipOutput(ctx, r)
	st, err := a.await(ctx, run, r)
	spans := gens.end(err)
	if err == nil {
		prof.finishBeating(ctx, r)
	}
	shipped()
	if err != nil {
		return nil, err
	}
	if st.Error != "" {
		return nil, errNotRunnable(r.in.Script, nil, errors.New(st.Error))
	}
	res = r.outcome(res, st)
	res.Interference = spans
	return res, nil
}

// scriptRun is one run of the script or a hook: its names and where its
// supervisor keeps its state and output.
type scriptRun struct {
	in contract.ExecuteInput
	// logName is "script" or the hook's name; tag adds the iteration.
	logName, tag string
	// state is the run's state directory: one per Execute of the test's
	// workflow, shared by that Execute's attempts, the agent's alone.
	state string
	// id names the run among the test's runs, and its log batches.
	id string
}

func newScriptRun(ctx context.Context, runsDir string, in contract.ExecuteInput) *scriptRun {
	r := &scriptRun{in: in, logName: in.Name}
	if r.logName == "" {
		r.logName = "script"
	}
	r.tag = r.logName
	if in.Iteration > 0 {
		r.tag = fmt.Sprintf("%s-%d", r.logName, in.Iteration)
	}
	r.id = safeName(activity.GetInfo(ctx).ActivityID) + "-" + r.tag
	r.state = filepath.Join(runsDir, r.id)
	return r
}

// safeName keeps a name to letters, digits, '-' and '_', for a file name.
func safeName(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return c
		}
		return '_'
	}, s)
}

// startOrAttach takes over the run an earlier attempt started, or starts
// it. A run happens once: a retry never starts the script again.
func (a *Activities) startOrAttach(ctx context.Context, r *scriptRun) (*supervise.Run, *contract.ExecuteResult, error) {
	if run, err := supervise.Open(r.state); err == nil {
		a.logger().Info("re-attached to a script its supervisor kept running", "test", r.in.TestID, "run", r.id, "supervisor", run.PID())
		return run, &contract.ExecuteResult{Reattached: time.Now()}, nil
	}
	if activity.GetInfo(ctx).Attempt > 1 {
		if _, err := os.Stat(r.state); errors.Is(err, os.ErrNotExist) {
			msg := fmt.Sprintf("supervisor lost: agent %s has no trace of the %s run an earlier attempt started "+
				"(its work directory was cleared, or the host restarted)", a.Host, r.tag)
			return nil, nil, temporal.NewNonRetryableApplicationError(msg, contract.ErrSupervisorLost, nil)
		}
	}
	// An earlier attempt died before its supervisor started the script.
	if err := os.RemoveAll(r.state); err != nil {
		return nil, nil, fmt.Errorf("clear run state: %w", err)
	}
	spec, u, err := a.spec(r)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Dir(r.state), 0o700); err != nil {
		return nil, nil, fmt.Errorf("create run state: %w", err)
	}
	sup, err := a.supervisor()
	if err != nil {
		return nil, nil, err
	}
	run, err := supervise.Start(r.state, spec, sup[0], sup[1:]...)
	if err != nil {
		return nil, nil, errNotRunnable(spec.Path, u, err)
	}
	return run, &contract.ExecuteResult{}, nil
}

// supervisor is the command that starts a supervisor.
func (a *Activities) supervisor() ([]string, error) {
	if len(a.Supervisor) > 0 {
		return a.Supervisor, nil
	}
	return supervise.Command()
}

// spec is what the supervisor runs: the script as the test's user, in its
// results directory, with the parameters as argv and an environment of
// allowed variables only.
func (a *Activities) spec(r *scriptRun) (supervise.Spec, *scriptUser, error) {
	u, err := a.scriptUser(r.in.TestID)
	if err != nil {
		return supervise.Spec{}, nil, err
	}
	argv := Argv(r.in.Args, r.in.Params)
	path := r.in.Script
	if !hasShebang(path) {
		// A script without a #! line is what a shell would run with sh.
		argv = append([]string{path}, argv...)
		path = "/bin/sh"
	}
	spec := supervise.Spec{Path: path, Args: argv, Dir: r.in.ResultsDir,
		Env:     ScriptEnv(os.Environ(), r.in, a.Host, homeDir(r.in.Dir)),
		Timeout: r.in.Timeout, KillGrace: killGrace, StartAt: r.in.StartAt}
	if u != nil {
		spec.Credential, spec.UID, spec.GID = true, u.uid, u.gid
	}
	return spec, u, nil
}

// await waits for the run to end, heartbeating meanwhile. When the agent
// stops, the script runs on: a later attempt re-attaches. When the
// activity is cancelled the run is left to Kill, Cleanup, its own timeout
// or, failing all of them, the agent's sweep of unclaimed runs.
func (a *Activities) await(ctx context.Context, run *supervise.Run, r *scriptRun) (*supervise.Status, error) {
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type waited struct {
		st  *supervise.Status
		err error
	}
	done := make(chan waited, 1)
	go func() {
		st, err := run.Wait(wctx)
		done <- waited{st, err}
	}()
	// HeartbeatInterval is the agent's pulse.
	tick, stop := a.pulse.listen()
	defer stop()
	stopping := activity.GetWorkerStopChannel(ctx)
	errStopping := temporal.NewApplicationError(
		fmt.Sprintf("agent %s is stopping; the script runs on under its supervisor", a.Host), contract.ErrAgentStopping)
	for {
		select {
		case w := <-done:
			if errors.Is(w.err, supervise.ErrLost) {
				return nil, a.supervisorLost(r, run)
			}
			return w.st, w.err
		case <-tick:
			activity.RecordHeartbeat(ctx, r.id)
		case <-stopping:
			return nil, errStopping
		case <-ctx.Done():
			select {
			case <-stopping:
				return nil, errStopping
			default:
				return nil, ctx.Err()
			}
		}
	}
}

// supervisorLost kills what is left of a run whose supervisor died
// without a status, and says so.
func (a *Activities) supervisorLost(r *scriptRun, run *supervise.Run) error {
	left := run.Reap()
	msg := fmt.Sprintf("supervisor lost: the supervisor of the %s run (pid %d) on %s ended without saying how the script ended",
		r.tag, run.PID(), a.Host)
	if left > 0 {
		msg += fmt.Sprintf("; %d process(es) it left were killed", left)
	}
	return temporal.NewNonRetryableApplicationError(msg, contract.ErrSupervisorLost, nil)
}

// outcome is how the run ended, as its supervisor saw it.
func (r *scriptRun) outcome(res *contract.ExecuteResult, st *supervise.Status) *contract.ExecuteResult {
	res.StartedAt, res.EndedAt = st.StartedAt, st.EndedAt
	res.ExitCode, res.Signal, res.TimedOut = st.ExitCode, st.Signal, st.TimedOut
	res.UserCPU, res.SystemCPU, res.MaxRSS = st.UserCPU, st.SystemCPU, st.MaxRSS
	res.Processes, res.Leftover = len(st.Processes), st.Leftover
	res.CPUMigrations, res.MigrationsCounted = st.Migrations, st.MigrationsCounted
	res.StderrTail = tail(filepath.Join(r.state, supervise.StderrFile), 2048)
	return res
}

// Kill ends a test's running scripts at once: every process of their
// trees, whatever group or session they moved to. PerfTest calls it when a
// test is aborted, so that the abort does not wait for the next heartbeat.
func (a *Activities) Kill(ctx context.Context, testID int64) error {
	defer a.touch(testID)()
	a.killContainers(testID)
	a.killProfilers(testID)
	a.stopRuns(testID)
	return nil
}

// stopRuns stops every live run of a test, found on disk (so also those an
// earlier run of the agent started), waits until each is gone, and kills
// what a lost supervisor left. It returns how many runs it stopped.
func (a *Activities) stopRuns(testID int64) int {
	a.stopInterference(testID)
	runs := a.runsOf(testID)
	stopped := 0
	for _, run := range runs {
		if run.Alive() {
			_ = run.Stop()
			stopped++
		}
	}
	for _, run := range runs {
		ctx, cancel := context.WithTimeout(context.Background(), stopWait)
		if _, err := run.Wait(ctx); err != nil {
			run.Reap()
		}
		cancel()
	}
	return stopped
}

// runsOf lists the supervised runs of a test this agent has state for.
func (a *Activities) runsOf(testID int64) []*supervise.Run {
	dirs, _ := filepath.Glob(filepath.Join(a.runsDir(testID), "*"))
	var runs []*supervise.Run
	for _, d := range dirs {
		if run, err := supervise.Open(d); err == nil {
			runs = append(runs, run)
		}
	}
	return runs
}

func (a *Activities) track(testID int64, run *supervise.Run) {
	a.state.with(testID, func(ts *testState) { ts.script = &runningScript{run: run} })
}

func (a *Activities) untrack(testID int64, run *supervise.Run) {
	a.state.with(testID, func(ts *testState) {
		if ts.script != nil && ts.script.run == run {
			ts.script = nil
		}
	})
}

// Argv turns parameters into the script's arguments: values in framework
// order (positional, like Daytona's arg_order) or --name value pairs (named).
func Argv(mode string, params []contract.Param) []string {
	var argv []string
	for _, p := range params {
		if mode == framework.ArgsNamed {
			argv = append(argv, "--"+p.Name)
		}
		argv = append(argv, p.Value)
	}
	return argv
}

// hasShebang says whether a script starts with "#!". It opens only a
// regular file, never waiting on a FIFO a framework may name.
func hasShebang(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return true // let exec report the real problem
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return true
	}
	b := make([]byte, 2)
	n, _ := io.ReadFull(f, b)
	return n == 2 && string(b) == "#!"
}

// tail returns up to n trailing bytes of a file, cut to whole lines.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.ToValidUTF8(strings.TrimSpace(string(b)), "?")
}
