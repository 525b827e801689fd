// Package proc runs a command as a child process in its own process group,
// its output appended to a log file, so that it can be stopped as a whole,
// killed as a crash would kill it, and started again: the dev stack's
// services, the tests' Temporal dev server and the crash tests' binaries.
package proc

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Options say how to run a command.
type Options struct {
	// Name is what errors call it.
	Name string
	// LogPath receives its stdout and stderr, appended.
	LogPath string
	// Env is its environment; nil inherits ours.
	Env []string
	// Dir is its working directory; empty inherits ours.
	Dir string
	// Pdeathsig, if not zero, is sent to it when our process dies, so
	// nothing outlives a parent killed with -9.
	Pdeathsig syscall.Signal
}

// Proc is a running (or ended) child process.
type Proc struct {
	opts Options
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs bin with args.
func Start(o Options, bin string, args ...string) (*Proc, error) {
	p := &Proc{opts: o, args: append([]string{bin}, args...)}
	return p, p.Restart()
}

// Restart starts the process again as it was first started; the previous
// run must have ended.
func (p *Proc) Restart() error {
	logf, err := os.OpenFile(p.opts.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open the log of %s: %w", p.opts.Name, err)
	}
	defer logf.Close()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env, cmd.Dir = p.opts.Env, p.opts.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own group, so a Ctrl-C meant for us does not reach it and Stop
	// reaches its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: p.opts.Pdeathsig}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.opts.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() { _ = cmd.Wait(); close(done) }()
	return nil
}

// Name is the name it was started with.
func (p *Proc) Name() string { return p.opts.Name }

// Pid is the process ID of its latest run.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// LogPath is the file its output goes to.
func (p *Proc) LogPath() string { return p.opts.LogPath }

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group and, after grace, SIGKILL, and
// waits until the process has ended.
func (p *Proc) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill9 kills the process alone (not its group: what it started lives on),
// as a crash would, and waits until it has ended.
func (p *Proc) Kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Log is what the process has written so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.opts.LogPath)
	return string(b)
}
