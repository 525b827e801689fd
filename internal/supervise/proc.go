package supervise

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procStat is what /proc/PID/stat says of a process.
type procStat struct {
	pid, ppid  int
	state      byte
	comm       string
	startTicks uint64
}

// readStat reads /proc/PID/stat; ok is false when the process is gone.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command may hold spaces and parentheses: it ends at the last ')'.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procStat{}, false
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 {
		return procStat{}, false
	}
	st := procStat{pid: pid, state: f[0][0], comm: string(b[open+1 : end])}
	st.ppid, _ = strconv.Atoi(f[1])
	st.startTicks, _ = strconv.ParseUint(f[19], 10, 64)
	return st, true
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
	f, err := os.Open(filepath.Join(cg, "cgroup.procs"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var pids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
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
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	var buf [4096]byte
	n, _ := io.ReadFull(f, buf[:])
	b := buf[:n]
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
