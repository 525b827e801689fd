package supervise

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procStat is what /proc/PID/stat says of a process.
type procStat struct {
	pid, ppid  int
	threads    int
	state      byte
	comm       string
	startTicks uint64
}

// readStat reads /proc/PID/stat; ok is false when the process is gone.
func readStat(pid int) (procStat, bool) {
	var buf [1024]byte
	b, ok := readSmall("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	if !ok {
		return procStat{}, false
	}
	// The command may hold spaces and parentheses: it ends at the last ')'.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procStat{}, false
	}
	// After the command: state(0) ppid(1) ... num_threads(17) ...
	// starttime(19).
	var state, ppid, threads, start []byte
	rest := b[end+1:]
	for i := 0; i <= 19; i++ {
		rest = bytes.TrimLeft(rest, " ")
		j := bytes.IndexAny(rest, " \n")
		if j < 0 {
			j = len(rest)
		}
		switch i {
		case 0:
			state = rest[:j]
		case 1:
			ppid = rest[:j]
		case 17:
			threads = rest[:j]
		case 19:
			start = rest[:j]
		}
		rest = rest[j:]
	}
	if len(state) == 0 || len(start) == 0 {
		return procStat{}, false
	}
	st := procStat{pid: pid, state: state[0], comm: string(b[open+1 : end])}
	st.ppid, _ = strconv.Atoi(string(ppid))
	st.threads, _ = strconv.Atoi(string(threads))
	st.startTicks, _ = strconv.ParseUint(string(start), 10, 64)
	return st, true
}

// readSmall reads a small file (of /proc or /sys) whole into buf; ok is
// false when it cannot be read or does not fit.
func readSmall(path string, buf []byte) ([]byte, bool) {
	b, ok := readPrefix(path, buf)
	return b, ok && len(b) < len(buf)
}

// readPrefix reads as much of a file as fits in buf, with plain system
// calls (open, read, close: no poller, no allocation); ok is false when it
// cannot be read.
func readPrefix(path string, buf []byte) ([]byte, bool) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for errors.Is(err, syscall.EINTR) {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, false
	}
	defer syscall.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, false
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], true
}

// alive says whether the process with this PID and start time still runs
// (a zombie has ended).
func alive(pid int, startTicks uint64) bool {
	st, ok := readStat(pid)
	return ok && st.startTicks == startTicks && st.state != 'Z' && st.state != 'X'
}

// descendants lists the live processes below root, found by walking every
// process's parent: with the supervisor as child subreaper, every process
// the script started stays below it, whoever its parent was.
func descendants(root int) []procStat {
	entries, _ := os.ReadDir("/proc")
	all := make(map[int]procStat, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			all[pid] = st
		}
	}
	var out []procStat
	for pid, st := range all {
		if st.state == 'Z' || pid == root {
			continue
		}
		for p, hops := st.ppid, 0; p > 1 && hops < 64; hops++ {
			if p == root {
				out = append(out, st)
				break
			}
			parent, ok := all[p]
			if !ok {
				break
			}
			p = parent.ppid
		}
	}
	return out
}

// cgroupProcs lists the PIDs in a cgroup.
func cgroupProcs(cg string) []int {
	var buf [4096]byte
	b, ok := readSmall(filepath.Join(cg, "cgroup.procs"), buf[:])
	if !ok {
		// A cgroup with a great many processes.
		b, _ = os.ReadFile(filepath.Join(cg, "cgroup.procs"))
	}
	var pids []int
	for _, f := range bytes.Fields(b) {
		if pid, err := strconv.Atoi(string(f)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// signalAll sends sig to every process of the tree: the cgroup's members
// when there is a cgroup (cgroup.kill for SIGKILL), else every process
// below root. It returns how many processes it signalled.
func signalAll(root int, cg string, sig syscall.Signal) int {
	n := 0
	if cg != "" {
		pids := cgroupProcs(cg)
		n = len(pids)
		if sig == syscall.SIGKILL && os.WriteFile(filepath.Join(cg, "cgroup.kill"), []byte("1"), 0) == nil {
			pids = nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, sig)
		}
	}
	if root > 0 && cg == "" {
		for _, st := range descendants(root) {
			_ = syscall.Kill(st.pid, sig)
			n++
		}
	}
	return n
}

// cgroup2Mount returns where the host's cgroup v2 hierarchy is mounted, or
// "" when it has none.
func cgroup2Mount() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(pre); len(f) >= 5 {
			return f[4]
		}
	}
	return ""
}

// ancestorIs says whether root is pid's parent, grandparent or further up.
func ancestorIs(pid, root int) bool {
	for hops := 0; pid > 1 && hops < 64; hops++ {
		st, ok := readStat(pid)
		if !ok {
			return false
		}
		if st.ppid == root {
			return true
		}
		pid = st.ppid
	}
	return false
}

// peakRSS is a process's peak resident set in KiB (VmHWM), 0 when gone.
// It runs for every process of the tree each second, so it reads into a
// buffer on the stack and scans bytes.
func peakRSS(pid int) int64 {
	var buf [4096]byte
	b, ok := readPrefix("/proc/"+strconv.Itoa(pid)+"/status", buf[:])
	if !ok {
		return 0
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	b = bytes.TrimLeft(b[i+len("VmHWM:"):], " \t")
	var kib int64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		kib = kib*10 + int64(c-'0')
	}
	return kib
}
