package supervise

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// startWait bounds how long Start waits for the supervisor to start the script.
const startWait = 30 * time.Second

// Run is the agent's handle on one supervised run.
type Run struct {
	// Dir is the run's state directory.
	Dir string
	id  identity
	// exited is closed once a supervisor this agent started has been reaped.
	exited chan struct{}
}

// Start creates the state directory stateDir (which must not exist; its
// parent must be the agent's alone), and starts the supervisor as exe
// with args and stateDir as its last argument, in a session of its own
// so it outlives the agent, with spec on a pipe (fd 4). It returns once
// the script has started, or with the reason it could not.
//
// The supervisor logs (nothing while all goes well) where the agent does,
// to the agent's standard error. Neither the spec nor that log is a file
// of the state directory: a file made and removed for every run is dear
// on a file system that must look for a free inode (ext4 without a
// journal skips every inode freed in the last minute or so).
func Start(stateDir string, spec Spec, exe string, args ...string) (*Run, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	specR, specW, err := os.Pipe()
	if err != nil {
		wr.Close()
		return nil, err
	}
	cmd := exec.Command(exe, append(args, stateDir)...)
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{wr, specR}
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	wr.Close()
	specR.Close()
	if err != nil {
		specW.Close()
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	// Written while the supervisor reads: a spec may pass a pipe's buffer.
	go func() {
		_, _ = specW.Write(b)
		specW.Close()
	}()
	r := &Run{Dir: stateDir, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.exited) }()

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(io.LimitReader(rd, 4096)).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case msg := <-line:
		if msg != "ok" {
			if msg == "" {
				msg = "supervisor ended before starting the script"
			}
			<-r.exited // its status is written: the directory is settled
			return nil, errors.New(msg)
		}
	case <-time.After(startWait):
		_ = cmd.Process.Kill()
		return nil, errors.New("supervisor did not start the script in time")
	}
	if err := ReadJSON(stateDir, supervisorFile, &r.id); err != nil {
		return nil, err
	}
	return r, nil
}

// Open returns the run whose state is in stateDir, started by this agent or
// by an earlier one (after a restart, to re-attach).
func Open(stateDir string) (*Run, error) {
	r := &Run{Dir: stateDir}
	if err := ReadJSON(stateDir, supervisorFile, &r.id); err != nil {
		return nil, err
	}
	return r, nil
}

// PID is the supervisor's process ID.
func (r *Run) PID() int { return r.id.PID }

// Alive says whether the supervisor still runs.
func (r *Run) Alive() bool { return alive(r.id.PID, r.id.StartTicks) }

// Status returns the run's status once it has ended.
func (r *Run) Status() (*Status, bool) {
	var st Status
	if err := ReadJSON(r.Dir, statusFile, &st); err != nil {
		return nil, false
	}
	return &st, true
}

// Wait waits until the run has ended and returns its status; ErrLost when
// the supervisor is gone without one (call Reap then).
func (r *Run) Wait(ctx context.Context) (*Status, error) {
	fd, err := unix.PidfdOpen(r.id.PID, 0)
	if err == nil {
		defer unix.Close(fd)
	}
	for {
		if st, ok := r.Status(); ok {
			return st, nil
		}
		if !r.Alive() {
			if st, ok := r.Status(); ok {
				return st, nil
			}
			return nil, ErrLost
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.waitExit(fd, waitPoll(fd))
	}
}

// waitPoll is how long Wait sleeps between looks at the run: with a
// pidfd the kernel wakes it the moment the supervisor exits, so it looks
// every 2 s only to notice a cancelled context (a look reads the status
// file and /proc; five a second were a tenth of an agent's CPU while a
// script ran); without one it polls every 200 ms.
func waitPoll(pidfd int) time.Duration {
	if pidfd >= 0 {
		return 2 * time.Second
	}
	return 200 * time.Millisecond
}

// waitExit waits up to d for the supervisor to exit.
func (r *Run) waitExit(pidfd int, d time.Duration) {
	if pidfd < 0 {
		time.Sleep(d)
		return
	}
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	_, _ = unix.Poll(fds, int(d.Milliseconds()))
	if fds[0].Revents != 0 && r.exited != nil {
		// Give a supervisor this agent started a moment to be reaped.
		select {
		case <-r.exited:
		case <-time.After(d):
		}
	}
}

// Stop asks the supervisor to kill the whole tree at once; Wait then
// returns a status with Stopped set.
func (r *Run) Stop() error {
	if !r.Alive() {
		return nil
	}
	return syscall.Kill(r.id.PID, syscall.SIGTERM)
}

// Reap kills what is left of a run whose supervisor is gone, through its
// cgroup, and returns how many processes it found.
func (r *Run) Reap() int {
	if r.id.Cgroup == "" {
		return 0
	}
	n := 0
	for i := 0; i < 100; i++ {
		left := signalAll(0, r.id.Cgroup, syscall.SIGKILL)
		n = max(n, left)
		if err := os.Remove(r.id.Cgroup); left == 0 && (err == nil || errors.Is(err, os.ErrNotExist)) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// Owns says whether pid is a live process of the run's tree: a member of
// its cgroup or, without one, a process below its supervisor. A PID a
// script names (in its pids file) counts only when Owns says so.
func (r *Run) Owns(pid int) bool {
	if pid <= 1 || !r.Alive() {
		return false
	}
	if r.id.Cgroup != "" {
		return slices.Contains(cgroupProcs(r.id.Cgroup), pid)
	}
	return ancestorIs(pid, r.id.PID)
}
