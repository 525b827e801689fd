package supervise

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Migrations counts how often the scheduler moved the run's threads from
// one CPU to another: se.nr_migrations of /proc/PID/task/TID/sched, the
// largest value seen of each thread, summed. The supervisor reads it with
// every look at the tree (once a second) and, for its ended children,
// right before it reaps them; a thread that ends between two looks, and whose parent is
// not the supervisor, is counted as last seen (or not at all), so the
// count is a lower bound. A kernel without sched files
// (CONFIG_SCHED_DEBUG off) gives none: Status.MigrationsCounted is false.
type migrations struct {
	byTask  map[int]int64
	counted bool
}

// look adds what the sched files of pid's threads say.
func (m *migrations) look(pid int) {
	m.lookThreads(pid, 0)
}

// lookThreads is look of a process known to have threads threads (0:
// unknown): a single-threaded one's only thread is the process itself,
// read without listing its task folder.
func (m *migrations) lookThreads(pid, threads int) {
	var buf [4096]byte
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	if threads == 1 {
		m.add(pid, dir+"/"+strconv.Itoa(pid)+"/sched", buf[:])
		return
	}
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		m.add(tid, dir+"/"+t.Name()+"/sched", buf[:])
	}
}

// add reads one thread's sched file.
func (m *migrations) add(tid int, path string, buf []byte) {
	n, ok := readMigrations(path, buf)
	if !ok {
		return
	}
	m.counted = true
	if m.byTask == nil {
		m.byTask = map[int]int64{}
	}
	m.byTask[tid] = max(m.byTask[tid], n)
}

// total is the sum over every thread seen.
func (m *migrations) total() int64 {
	var sum int64
	for _, n := range m.byTask {
		sum += n
	}
	return sum
}

// readMigrations reads a sched file into buf and parses it.
func readMigrations(path string, buf []byte) (int64, bool) {
	// se.nr_migrations is in the first lines; a read of 4 KiB holds them.
	b, ok := readPrefix(path, buf)
	if !ok {
		return 0, false
	}
	return ParseSchedMigrations(b)
}

var nrMigrations = []byte("se.nr_migrations")

// ParseSchedMigrations returns se.nr_migrations from the content of a
// /proc/PID/sched (or task/TID/sched) file: lines "name : value".
func ParseSchedMigrations(b []byte) (int64, bool) {
	i := bytes.Index(b, nrMigrations)
	if i < 0 {
		return 0, false
	}
	line := b[i+len(nrMigrations):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	_, v, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// zombieChildren lists root's children that have ended and wait to be
// reaped, from /proc/ROOT/task/*/children (empty where the kernel does
// not offer it).
func zombieChildren(root int) []int {
	dir := "/proc/" + strconv.Itoa(root) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []int
	var buf [4096]byte
	for _, t := range tasks {
		b, ok := readSmall(dir+"/"+t.Name()+"/children", buf[:])
		if !ok {
			continue
		}
		for _, f := range bytes.Fields(b) {
			pid, err := strconv.Atoi(string(f))
			if err != nil {
				continue
			}
			if st, ok := readStat(pid); ok && st.state == 'Z' {
				out = append(out, pid)
			}
		}
	}
	return out
}

// childWaiting says whether a child of this process has ended and waits
// to be reaped (waitid with WNOWAIT: it stays waiting), in one system
// call.
func childWaiting() bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && info.Signo == int32(unix.SIGCHLD)
	}
}
