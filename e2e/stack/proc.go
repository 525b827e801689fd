package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Proc is a built Pitwall command running as its own process, which a test
// may kill -9 and start again.
type Proc struct {
	name    string
	args    []string
	env     []string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Start runs the built command bin (from Options.Build) with args and the
// stack's Env, logging to NAME.log in Dir.
func (s *Stack) Start(name, bin string, args ...string) *Proc {
	p := &Proc{name: name, args: append([]string{filepath.Join(s.Bin, bin)}, args...), env: s.Env(),
		logPath: filepath.Join(s.Dir, name+".log")}
	p.Restart()
	return p
}

// Restart starts the process again, as it was first started.
func (p *Proc) Restart() {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		panic(fmt.Sprintf("open %s: %v", p.logPath, err))
	}
	defer logf.Close()
	p.cmd = exec.Command(p.args[0], p.args[1:]...)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		panic(fmt.Sprintf("start %s: %v", p.name, err))
	}
	p.done = make(chan struct{})
	done := p.done
	go func() { _ = p.cmd.Wait(); close(done) }()
}

// Kill9 kills the process as a crash would, with no chance to clean up.
func (p *Proc) Kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and, after 10 s, SIGKILL.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Kill9()
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Log is what the process has written so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}
