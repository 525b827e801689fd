// Package supervise runs a user's script under a small supervisor process
// that owns the script's whole process tree for its whole life.
//
// The agent starts the supervisor (a subcommand of the worker binary) in its
// own session, so it outlives an agent restart; the supervisor is the child
// subreaper of everything the script starts and, where the host has a cgroup
// v2 hierarchy, puts the script in a cgroup of its own, so that daemons
// started with setsid are known and killed when the run ends, times out or
// is stopped. All it knows is kept in a state directory that only the agent
// can write: the supervisor's identity, the script's output and, at the
// end, its exit status, resource usage and the processes seen. The run's
// spec comes from the agent on a pipe.
package supervise

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Files in a run's state directory.
const (
	supervisorFile = "supervisor.json"
	statusFile     = "status.json"
	// StdoutFile and StderrFile hold the script's output.
	StdoutFile = "stdout.log"
	StderrFile = "stderr.log"
)

// Spec is what one supervised run executes.
type Spec struct {
	// Path is the program; Args are its arguments after argv[0].
	Path string   `json:"path"`
	Args []string `json:"args"`
	// Env is the whole environment the script gets.
	Env []string `json:"env"`
	// Dir is the script's working directory.
	Dir string `json:"dir"`
	// UID and GID, when Credential is set, are who the script runs as,
	// with no supplementary groups.
	Credential bool   `json:"credential"`
	UID        uint32 `json:"uid"`
	GID        uint32 `json:"gid"`
	// Timeout, when positive, ends the run: SIGTERM to every process of the
	// tree, SIGKILL KillGrace later.
	Timeout   time.Duration `json:"timeout"`
	KillGrace time.Duration `json:"kill_grace"`
	// CgroupParent is the cgroup v2 directory under which the run gets a
	// cgroup of its own; empty: found from the host's mounts, and none
	// where the host has no usable cgroup v2 hierarchy.
	CgroupParent string `json:"cgroup_parent,omitempty"`
	// StartAt, when set and at most a minute away, is when the script
	// starts: the supervisor is ready by then, so the scripts of a
	// multi-host test's hosts start within a few milliseconds.
	StartAt time.Time `json:"start_at,omitzero"`
	// EndWith, when set, is the state directory of another run: once that
	// run is over, this one is ended too (checked every second), whether
	// or not an agent is there to stop it.
	EndWith string `json:"end_with,omitempty"`
}

// Status is how a run ended, written by the supervisor when the script and
// every process it started are gone.
type Status struct {
	// PID is the script's process ID.
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	// ExitCode is the script's exit status; 128+N when signal N ended it.
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal,omitempty"`
	// TimedOut says the spec's timeout ended the run; Stopped that the
	// agent asked for it.
	TimedOut bool `json:"timed_out,omitempty"`
	Stopped  bool `json:"stopped,omitempty"`
	// EndedWith says the run was stopped because the run its spec's
	// EndWith names was over.
	EndedWith bool `json:"ended_with,omitempty"`
	// UserCPU and SystemCPU are the whole tree's CPU time; MaxRSS is the
	// largest peak resident set (VmHWM) of any process of the tree, in
	// bytes, sampled once a second: 0 for a run too short to be sampled.
	UserCPU   time.Duration `json:"user_cpu"`
	SystemCPU time.Duration `json:"system_cpu"`
	MaxRSS    int64         `json:"max_rss"`
	// Processes are the processes seen in the tree while it ran (up to
	// maxProcesses); Leftover counts those still alive when the script
	// ended, which the supervisor then killed.
	Processes []Process `json:"processes"`
	Leftover  int       `json:"leftover"`
	// Migrations counts the tree's threads' moves between CPUs (a lower
	// bound: see migrations); MigrationsCounted says the kernel let the
	// supervisor count them.
	Migrations        int64 `json:"migrations,omitempty"`
	MigrationsCounted bool  `json:"migrations_counted,omitempty"`
	// Cgroup is the run's cgroup, if it had one.
	Cgroup string `json:"cgroup,omitempty"`
	// Error says why the script could not start.
	Error string `json:"error,omitempty"`
}

// Process is one process seen in a run's tree.
type Process struct {
	PID     int    `json:"pid"`
	PPID    int    `json:"ppid"`
	Command string `json:"command"`
}

// identity names a live supervisor: a PID and its start time in clock ticks
// since boot, so a reused PID is not taken for it.
type identity struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
	Cgroup     string `json:"cgroup,omitempty"`
}

// ErrLost is returned when a run's supervisor is gone without a status.
var ErrLost = errors.New("the script's supervisor is gone")

// WriteJSON writes v as JSON to dir/name whole (through a rename), for the
// agent's own state files beside a run's.
func WriteJSON(dir, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// The state directory is the agent's alone: no link can be planted in
	// it, and the rename makes the file appear whole.
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// ReadJSON reads dir/name, written by WriteJSON, into v.
func ReadJSON(dir, name string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// Subcommand is the argument that makes a binary that calls Dispatch run
// as a supervisor: "BINARY supervise STATE-DIR".
const Subcommand = "supervise"

// Binary is the name of the supervisor's own small binary
// (cmd/pitwall-supervise), which starts far faster than a worker.
const Binary = "pitwall-supervise"

// Command is how an agent in this process starts a supervisor: the
// pitwall-supervise binary when it lies beside this one, else this very
// binary with the supervise subcommand (which must then call Dispatch
// first thing in main; tests: in TestMain).
func Command() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary for the supervisor: %w", err)
	}
	if small := filepath.Join(filepath.Dir(exe), Binary); isExecutable(small) {
		return []string{small, Subcommand}, nil
	}
	return []string{exe, Subcommand}, nil
}

// CommandAt is how to start a supervisor from the binary at path: the
// pitwall-supervise binary or any that calls Dispatch.
func CommandAt(path string) ([]string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if !isExecutable(abs) {
		return nil, fmt.Errorf("supervisor %s: not an executable file", abs)
	}
	return []string{abs, Subcommand}, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// closeOnExecFrom marks every open file descriptor from fd on close-on-exec.
func closeOnExecFrom(fd int) {
	if err := unix.CloseRange(uint(fd), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return
	}
	// Before Linux 5.11: one by one.
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= fd {
			syscall.CloseOnExec(n)
		}
	}
}

// Dispatch runs the supervisor and exits when this process was started as
// one; otherwise it returns at once.
func Dispatch() {
	if len(os.Args) == 3 && os.Args[1] == Subcommand {
		if os.Getenv("GOMAXPROCS") == "" {
			// The supervisor wakes once a second and on signals: with one
			// P a wake-up does not also wake a second thread (a Go
			// process woken once a second used 0.06 ms/s of CPU with one,
			// 0.11 with two, on the 2-core bench machine). The script's
			// environment is not touched.
			runtime.GOMAXPROCS(1)
		}
		// Every file the supervisor was started with but its standard
		// ones (the agent's pipes, and whatever the agent itself
		// inherited without close-on-exec) is the supervisor's alone: the
		// script starts without them (a hostile one could otherwise write
		// the agent a start-up answer of its own).
		closeOnExecFrom(3)
		os.Exit(Main(os.Args[2], os.NewFile(4, "spec"), os.NewFile(3, "ready")))
	}
}
