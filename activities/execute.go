package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/framework"
)

// ExecuteInput is one run of the execution script.
type ExecuteInput struct {
	TestID     int64
	Framework  string
	Script     string
	Dir        string
	ResultsDir string
	Args       string
	Params     []framework.Param
	Timeout    time.Duration
}

// ExecuteResult is how the script ended.
type ExecuteResult struct {
	ExitCode   int
	TimedOut   bool
	Signal     string
	StderrTail string
	StartedAt  time.Time
	EndedAt    time.Time
}

// HeartbeatInterval is how often Execute heartbeats; PerfTest sets the
// heartbeat timeout to a few of these.
const HeartbeatInterval = 2 * time.Second

// killGrace is how long a timed-out or aborted script has between SIGTERM
// and SIGKILL.
const killGrace = 5 * time.Second

// Execute runs the script as a real process in its own process group, with
// the parameters as argv and PITWALL_* variables (never through a shell
// line), heartbeating until it ends. A non-zero exit is a result, not an
// error; the timeout and cancellation kill the whole process group.
func (a *Activities) Execute(ctx context.Context, in ExecuteInput) (*ExecuteResult, error) {
	argv := Argv(in.Args, in.Params)
	name := in.Script
	if !hasShebang(in.Script) {
		// A script without a #! line is what a shell would run with sh.
		argv = append([]string{in.Script}, argv...)
		name = "/bin/sh"
	}
	stdout, err := os.Create(filepath.Join(in.Dir, "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("create stdout log: %w", err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(in.Dir, "stderr.log"))
	if err != nil {
		return nil, fmt.Errorf("create stderr log: %w", err)
	}
	defer stderr.Close()

	runCtx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, name, argv...)
	cmd.Dir = in.ResultsDir
	cmd.Env = ScriptEnv(os.Environ(), in, a.Host)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = killGrace

	res := &ExecuteResult{StartedAt: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("start script: %v", err), ErrBadScript, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(HeartbeatInterval)
	defer tick.Stop()
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case <-tick.C:
			activity.RecordHeartbeat(ctx, time.Since(res.StartedAt).Round(time.Millisecond).String())
		}
	}
	// Whatever the script left running in its group goes with it.
	_ = killGroup(cmd.Process.Pid, syscall.SIGKILL)
	res.EndedAt = time.Now()
	res.StderrTail = tail(stderr.Name(), 2048)

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
		return res, fmt.Errorf("wait for script: %w", waitErr)
	}
	return res, nil
}

// Argv turns parameters into the script's arguments: values in framework
// order (positional, like Daytona's arg_order) or --name value pairs (named).
func Argv(mode string, params []framework.Param) []string {
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
func ScriptEnv(base []string, in ExecuteInput, host string) []string {
	env := make([]string, 0, len(base)+len(in.Params)+4)
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
