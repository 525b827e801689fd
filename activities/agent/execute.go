package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/workflows/contract"
)

// HeartbeatInterval is how often long activities heartbeat; PerfTest sets
// the heartbeat timeout to a few of these.
const HeartbeatInterval = time.Second

// killGrace is how long a timed-out script has between SIGTERM and SIGKILL.
const killGrace = 5 * time.Second

// logFlushWait is how long an ending script waits for its last log lines to
// reach the server before the test moves on (the shipping goes on after).
const logFlushWait = 10 * time.Second

// Execute runs the script (or a hook) as a real process in its own process
// group, with the parameters as argv and PITWALL_* variables (never through
// a shell line), heartbeating until it ends and streaming its output to the
// server. A non-zero exit is a result, not an error; the timeout and
// cancellation kill the whole process group.
func (a *Activities) Execute(ctx context.Context, in contract.ExecuteInput) (*contract.ExecuteResult, error) {
	r, err := newScriptRun(in)
	if err != nil {
		return nil, err
	}
	defer r.close()
	runCtx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	cmd, err := a.command(runCtx, r)
	if err != nil {
		return nil, err
	}
	res := &contract.ExecuteResult{StartedAt: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("start %s: %v", r.logName, err), contract.ErrBadScript, err)
	}
	pgid := cmd.Process.Pid
	a.track(in.TestID, pgid, in.Dir)
	defer a.untrack(in.TestID)
	shipped, err := a.shipOutput(ctx, r)
	if err != nil {
		_ = killGroup(pgid, syscall.SIGKILL)
		return nil, fmt.Errorf("follow output: %w", err)
	}
	waitErr := waitHeartbeating(ctx, cmd, res.StartedAt)
	// Whatever the script left running in its group, or named in pids, goes with it.
	_ = killGroup(pgid, syscall.SIGKILL)
	killPids(in.ResultsDir)
	res.EndedAt = time.Now()
	res.StderrTail = tail(r.paths["stderr"], 2048)
	shipped()
	return r.outcome(ctx, runCtx, res, waitErr)
}

// scriptRun is one run of the script or a hook: its names and output files.
type scriptRun struct {
	in contract.ExecuteInput
	// logName is "script" or the hook's name; tag adds the iteration.
	logName, tag   string
	paths          map[string]string
	stdout, stderr *os.File
}

// newScriptRun names the run and creates its output files.
func newScriptRun(in contract.ExecuteInput) (*scriptRun, error) {
	r := &scriptRun{in: in, logName: in.Name}
	if r.logName == "" {
		r.logName = "script"
	}
	r.tag = r.logName
	if in.Iteration > 0 {
		r.tag = fmt.Sprintf("%s-%d", r.logName, in.Iteration)
	}
	r.paths = map[string]string{
		"stdout": filepath.Join(in.Dir, r.tag+".stdout.log"),
		"stderr": filepath.Join(in.Dir, r.tag+".stderr.log"),
	}
	var err error
	if r.stdout, err = os.Create(r.paths["stdout"]); err != nil {
		return nil, fmt.Errorf("create stdout log: %w", err)
	}
	if r.stderr, err = os.Create(r.paths["stderr"]); err != nil {
		r.stdout.Close()
		return nil, fmt.Errorf("create stderr log: %w", err)
	}
	return r, nil
}

func (r *scriptRun) close() {
	r.stdout.Close()
	r.stderr.Close()
}

// command is the run's process: in its own process group, as the script
// user, with the parameters as argv and in the environment.
func (a *Activities) command(runCtx context.Context, r *scriptRun) (*exec.Cmd, error) {
	argv := Argv(r.in.Args, r.in.Params)
	name := r.in.Script
	if !hasShebang(r.in.Script) {
		// A script without a #! line is what a shell would run with sh.
		argv = append([]string{r.in.Script}, argv...)
		name = "/bin/sh"
	}
	cmd := exec.CommandContext(runCtx, name, argv...)
	cmd.Dir = r.in.ResultsDir
	cmd.Env = ScriptEnv(os.Environ(), r.in, a.Host)
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cred, err := a.scriptCredential()
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrBadScript, err)
	}
	cmd.SysProcAttr.Credential = cred
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = killGrace
	return cmd, nil
}

// shipOutput streams the run's output to the server while it runs. The
// returned function says the run has ended and waits a while for its last
// lines to go out.
func (a *Activities) shipOutput(ctx context.Context, r *scriptRun) (func(), error) {
	if a.Ingest == nil {
		return func() {}, nil
	}
	prefix := ""
	if r.logName != "script" {
		prefix = r.logName
	}
	ship, err := a.newLogShipper(r.in.TestID, prefix, r.tag, r.paths)
	if err != nil {
		return nil, err
	}
	done, shipped := make(chan struct{}), make(chan struct{})
	go func() {
		// Detached from ctx: lines still go out if the activity ends first.
		ship.run(context.WithoutCancel(ctx), done)
		a.sendDropMarker(context.WithoutCancel(ctx), r.in.TestID, r.tag)
		close(shipped)
	}()
	return func() {
		close(done)
		a.awaitDelivery(shipped, "output", r.in.TestID)
	}, nil
}

// awaitDelivery waits up to logFlushWait for what is being sent to the
// server to get there; the test goes on after that, and so does the sending.
func (a *Activities) awaitDelivery(sent <-chan struct{}, what string, testID int64) {
	select {
	case <-sent:
	case <-time.After(logFlushWait):
		a.logger().Warn(what+" still being delivered; the test goes on", "test", testID)
	}
}

// waitHeartbeating waits for the process to end, heartbeating meanwhile.
func waitHeartbeating(ctx context.Context, cmd *exec.Cmd, started time.Time) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			activity.RecordHeartbeat(ctx, time.Since(started).Round(time.Millisecond).String())
		}
	}
}

// outcome fills in how the run ended: its exit status, the signal that
// killed it, or that it ran past its timeout.
func (r *scriptRun) outcome(ctx, runCtx context.Context, res *contract.ExecuteResult, waitErr error) (*contract.ExecuteResult, error) {
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		res.TimedOut = true
	}
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		res.ExitCode = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal().String()
			res.ExitCode = 128 + int(ws.Signal())
		}
	case errors.Is(waitErr, exec.ErrWaitDelay):
	default:
		return res, fmt.Errorf("wait for %s: %w", r.logName, waitErr)
	}
	return res, nil
}

// Kill ends a test's running script at once: its process group and the
// processes it listed in pids. PerfTest calls it when a test is aborted, so
// that the abort does not wait for the next heartbeat.
func (a *Activities) Kill(ctx context.Context, testID int64) error {
	var run *runningScript
	a.state.with(testID, func(ts *testState) { run = ts.script })
	if run == nil {
		return nil
	}
	_ = killGroup(run.pgid, syscall.SIGKILL)
	killPids(resultsDir(run.dir))
	return nil
}

func (a *Activities) track(testID int64, pgid int, dir string) {
	a.state.with(testID, func(ts *testState) { ts.script = &runningScript{pgid: pgid, dir: dir} })
	// On disk too, so an agent restarted after a crash can end what it left.
	_ = os.WriteFile(filepath.Join(dir, "pgid"), []byte(strconv.Itoa(pgid)), 0o644)
}

func (a *Activities) untrack(testID int64) {
	a.state.with(testID, func(ts *testState) {
		if ts.script != nil {
			_ = os.Remove(filepath.Join(ts.script.dir, "pgid"))
			ts.script = nil
		}
	})
}

// ReapOrphans kills the process groups that a previous run of the agent
// working in workDir left behind when it died, removes that run's test
// directories, and returns how many scripts it ended. It runs before the
// agent takes work, so nothing in workDir/tests is current.
// (A function, not a method: every method of Activities is an activity.)
func ReapOrphans(workDir string) int {
	files, _ := filepath.Glob(filepath.Join(workDir, "tests", "*", "pgid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			if pgid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = killGroup(pgid, syscall.SIGKILL)
				killPids(resultsDir(filepath.Dir(f)))
			}
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(workDir, "tests", "*"))
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
	return len(files)
}

// killPids kills the processes the script listed in its pids file.
func killPids(resultsDir string) {
	for _, pid := range readPids(resultsDir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
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

// ScriptEnv is the script's environment: the agent's own, less its
// PITWALL_ settings, plus the test's PITWALL_ variables.
func ScriptEnv(base []string, in contract.ExecuteInput, host string) []string {
	env := make([]string, 0, len(base)+len(in.Params)+5)
	for _, kv := range base {
		if !strings.HasPrefix(kv, "PITWALL_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		fmt.Sprintf("PITWALL_TEST_ID=%d", in.TestID),
		"PITWALL_FRAMEWORK="+in.Framework,
		"PITWALL_RESULTS_DIR="+in.ResultsDir,
		"PITWALL_HOST="+host,
	)
	if in.Iteration > 0 {
		env = append(env, fmt.Sprintf("PITWALL_ITERATION=%d", in.Iteration))
	}
	for _, p := range in.Params {
		env = append(env, "PITWALL_PARAM_"+strings.ToUpper(p.Name)+"="+p.Value)
	}
	return env
}

func hasShebang(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // let exec report the real problem
	}
	defer f.Close()
	b := make([]byte, 2)
	n, _ := io.ReadFull(f, b)
	return n == 2 && string(b) == "#!"
}

func killGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	return syscall.Kill(-pid, sig)
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
