package supervise

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxProcesses bounds the processes a status lists.
const maxProcesses = 1000

// sampleEvery is how often the supervisor notes the processes of the tree.
const sampleEvery = time.Second

// firstSample is when the supervisor first notes the tree, after the start.
const firstSample = 100 * time.Millisecond

// Main is the supervisor process: it runs the spec read from spec (JSON,
// to its end) with stateDir as its state directory and returns the
// supervisor's exit status once the script and every process it started
// are gone. ready, when not nil, gets "ok" once the script has started,
// or why it could not, and is closed.
func Main(stateDir string, spec io.Reader, ready *os.File) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("state", stateDir)
	s, err := newSupervisor(stateDir, spec, log)
	if err == nil {
		err = s.start()
	}
	if ready != nil {
		msg := "ok"
		if err != nil {
			msg = err.Error()
		}
		_, _ = ready.WriteString(msg + "\n")
		_ = ready.Close()
	}
	if err != nil {
		log.Error("script not started", "err", err)
		if s != nil {
			s.status.Error = err.Error()
			s.finish()
		}
		return 1
	}
	s.loop()
	s.finish()
	return 0
}

// supervisor is the state of one supervised run.
type supervisor struct {
	dir    string
	spec   Spec
	log    *slog.Logger
	cgroup string
	cmd    *exec.Cmd
	sigs   chan os.Signal
	status Status
	seen   map[int]Process
	order  []int
	// peak is the largest VmHWM (KiB) seen of any process of the tree.
	peak int64
	// migr counts the tree's threads' CPU migrations.
	migr migrations
}

func newSupervisor(dir string, spec io.Reader, log *slog.Logger) (*supervisor, error) {
	s := &supervisor{dir: dir, log: log, seen: map[int]Process{}}
	// Every process the script starts stays below the supervisor, even
	// when its parent exits: orphans are re-parented here, not to init.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return s, fmt.Errorf("become child subreaper: %w", err)
	}
	b, err := io.ReadAll(spec)
	if err != nil {
		return s, fmt.Errorf("read spec: %w", err)
	}
	if err := json.Unmarshal(b, &s.spec); err != nil {
		return s, fmt.Errorf("read spec: %w", err)
	}
	me, _ := readStat(os.Getpid())
	s.cgroup = s.makeCgroup()
	s.status.Cgroup = s.cgroup
	return s, WriteJSON(dir, supervisorFile, identity{PID: os.Getpid(), StartTicks: me.startTicks, Cgroup: s.cgroup})
}

// makeCgroup creates the run's cgroup, or returns "" where the host has no
// usable cgroup v2 hierarchy (the subreaper still knows the whole tree).
func (s *supervisor) makeCgroup() string {
	parent := s.spec.CgroupParent
	if parent == "" {
		mnt := cgroup2Mount()
		if mnt == "" {
			return ""
		}
		parent = filepath.Join(mnt, "pitwall")
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		s.log.Warn("no cgroup for the script", "err", err)
		return ""
	}
	cg := filepath.Join(parent, "run-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		s.log.Warn("no cgroup for the script", "err", err)
		return ""
	}
	return cg
}

// start starts the script in its own process group (and cgroup), as the
// spec's user with no supplementary groups, output to the state directory.
func (s *supervisor) start() error {
	stdout, err := openLog(s.dir, StdoutFile)
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := openLog(s.dir, StderrFile)
	if err != nil {
		return err
	}
	defer stderr.Close()
	s.sigs = make(chan os.Signal, 16)
	signal.Notify(s.sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)

	newCmd := func() *exec.Cmd {
		return &exec.Cmd{Path: s.spec.Path, Args: append([]string{s.spec.Path}, s.spec.Args...),
			Env: s.spec.Env, Dir: s.spec.Dir, Stdout: stdout, Stderr: stderr}
	}
	s.cmd = newCmd()
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.spec.Credential {
		attr.Credential = &syscall.Credential{Uid: s.spec.UID, Gid: s.spec.GID, Groups: []uint32{}}
	}
	if s.cgroup != "" {
		fd, err := unix.Open(s.cgroup, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			defer unix.Close(fd)
			attr.UseCgroupFD, attr.CgroupFD = true, fd
		}
	}
	s.cmd.SysProcAttr = attr
	if d := time.Until(s.spec.StartAt); d > 0 && d <= time.Minute {
		time.Sleep(d)
	}
	s.status.StartedAt = time.Now()
	err = s.cmd.Start()
	// ETXTBSY: a process the agent forked while the script was open for
	// writing still holds that descriptor until its own exec (Go issue
	// 22315). It is gone within milliseconds: try again, as the go command
	// does for the test binaries it writes and runs.
	for try := 1; try <= 10 && errors.Is(err, syscall.ETXTBSY); try++ {
		time.Sleep(time.Duration(try) * 5 * time.Millisecond)
		s.cmd = newCmd()
		s.cmd.SysProcAttr = attr
		s.status.StartedAt = time.Now()
		err = s.cmd.Start()
	}
	if err != nil && attr.UseCgroupFD {
		s.log.Warn("start in cgroup failed; starting without", "err", err)
		s.dropCgroup()
		attr.UseCgroupFD = false
		s.cmd = newCmd()
		s.cmd.SysProcAttr = attr
		err = s.cmd.Start()
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", s.spec.Path, err)
	}
	s.status.PID = s.cmd.Process.Pid
	return nil
}

// openLog creates an output file in the state directory, never through a link.
func openLog(dir, name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return f, nil
}

// loop waits for the script, enforces the timeout and stop requests, and
// kills whatever the script left once it has ended.
func (s *supervisor) loop() {
	var timeout, grace <-chan time.Time
	if s.spec.Timeout > 0 {
		timeout = time.After(s.spec.Timeout)
	}
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	// A first look soon after the start, so a short run is seen too.
	first := time.After(firstSample)
	scriptDone := false
	for {
		select {
		case sig := <-s.sigs:
			// An ended child's migrations are read by reap, below.
			if sig != syscall.SIGCHLD && !s.status.Stopped {
				s.status.Stopped = true
				s.killTree(syscall.SIGKILL)
			}
		case <-timeout:
			s.status.TimedOut = true
			s.killTree(syscall.SIGTERM)
			grace = time.After(max(s.spec.KillGrace, 0))
		case <-grace:
			s.killTree(syscall.SIGKILL)
		case <-first:
			s.note()
		case <-tick.C:
			s.note()
			s.checkEndWith()
		}
		if !scriptDone && s.reap() {
			scriptDone = true
			s.note()
			s.status.Leftover = len(s.tree())
		}
		if scriptDone {
			if len(s.tree()) == 0 && s.reap() && s.drained() {
				return
			}
			s.killTree(syscall.SIGKILL)
		}
	}
}

// reap collects every ended child and says whether the script has ended.
// The ended children are zombies until reaped: their sched files still
// hold their final counts, read first.
func (s *supervisor) reap() bool {
	if childWaiting() {
		for _, pid := range zombieChildren(os.Getpid()) {
			s.migr.look(pid)
		}
	}
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if pid <= 0 {
			return !s.status.EndedAt.IsZero()
		}
		if pid == s.status.PID {
			s.status.EndedAt = time.Now()
			s.status.ExitCode = ws.ExitStatus()
			if ws.Signaled() {
				s.status.Signal = ws.Signal().String()
				s.status.ExitCode = 128 + int(ws.Signal())
			}
		}
	}
}

// drained says whether no child is left to wait for.
func (s *supervisor) drained() bool {
	_, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
	return errors.Is(err, unix.ECHILD)
}

// tree lists the live processes of the run: the members of its cgroup or,
// without one, every process below the supervisor (a walk of /proc, which
// costs more).
func (s *supervisor) tree() []procStat {
	if s.cgroup == "" {
		return descendants(os.Getpid())
	}
	var procs []procStat
	for _, pid := range cgroupProcs(s.cgroup) {
		if st, ok := readStat(pid); ok && st.state != 'Z' {
			procs = append(procs, st)
		}
	}
	return procs
}

// killTree signals the script's process group and every process of the run.
func (s *supervisor) killTree(sig syscall.Signal) {
	if s.status.PID > 0 {
		_ = syscall.Kill(-s.status.PID, sig)
	}
	signalAll(os.Getpid(), s.cgroup, sig)
}

// note records the processes of the tree, their CPU migrations and the
// largest peak resident set any of them has reached.
func (s *supervisor) note() {
	tree := s.tree()
	s.countMigrations(tree)
	for _, p := range tree {
		s.peak = max(s.peak, peakRSS(p.pid))
		if _, ok := s.seen[p.pid]; ok || len(s.seen) >= maxProcesses {
			continue
		}
		s.seen[p.pid] = Process{PID: p.pid, PPID: p.ppid, Command: p.comm}
		s.order = append(s.order, p.pid)
	}
}

// countMigrations reads the CPU migrations of every process of the
// tree, the script's own too while it is not yet reaped (its ended
// children's are read as they are reaped).
func (s *supervisor) countMigrations(tree []procStat) {
	script := false
	for _, p := range tree {
		s.migr.lookThreads(p.pid, p.threads)
		script = script || p.pid == s.status.PID
	}
	if !script && s.status.PID > 0 && s.status.EndedAt.IsZero() {
		s.migr.look(s.status.PID)
	}
}

// finish writes the run's status and removes its cgroup.
func (s *supervisor) finish() {
	if s.status.EndedAt.IsZero() {
		s.status.EndedAt = time.Now()
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_CHILDREN, &ru) == nil {
		s.status.UserCPU = time.Duration(ru.Utime.Nano())
		s.status.SystemCPU = time.Duration(ru.Stime.Nano())
	}
	// Not ru_maxrss: a child forked by Go shares the supervisor's memory
	// until exec, and the kernel counts that peak as the child's.
	s.status.MaxRSS = s.peak * 1024
	s.status.Migrations, s.status.MigrationsCounted = s.migr.total(), s.migr.counted
	s.status.Processes = make([]Process, 0, len(s.order))
	for _, pid := range s.order {
		s.status.Processes = append(s.status.Processes, s.seen[pid])
	}
	s.dropCgroup()
	if err := WriteJSON(s.dir, statusFile, s.status); err != nil {
		s.log.Error("write status", "err", err)
	}
}

// dropCgroup removes the run's cgroup once it is empty.
func (s *supervisor) dropCgroup() {
	if s.cgroup == "" {
		return
	}
	for i := 0; i < 50; i++ {
		if err := os.Remove(s.cgroup); err == nil || errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cgroup = ""
}
