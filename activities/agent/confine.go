package agent

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The script owns its results directory, and the agent is often root:
// every file the agent reads there, and the directory itself, is opened
// through the helpers below. They open
// only what the name holds at that moment, never through a symbolic link
// (not even one pointing inside the directory), never blocking on a FIFO,
// and accept only regular files and directories; whatever else is there is
// a *refusal, which callers note and go on.

// maxPidsFile bounds how much of a script's pids file is read.
const maxPidsFile = 64 << 10

// refusal says why an entry of a results directory was not opened.
type refusal struct{ why string }

func (r *refusal) Error() string { return r.why }

// errChanged is the refusal of an entry that was swapped for another
// between its look-up and its opening.
var errChanged = &refusal{"changed while it was being opened"}

// refusalFor names what an entry of this mode is, when it is neither a
// regular file nor a directory.
func refusalFor(m fs.FileMode) *refusal {
	switch {
	case m&fs.ModeSymlink != 0:
		return &refusal{"is a symbolic link"}
	case m&fs.ModeNamedPipe != 0:
		return &refusal{"is a named pipe (FIFO)"}
	case m&fs.ModeSocket != 0:
		return &refusal{"is a socket"}
	case m&fs.ModeDevice != 0:
		return &refusal{"is a device"}
	case m.IsDir():
		return &refusal{"is a directory"}
	}
	return &refusal{"is not a regular file"}
}

// testHookOpen, when set by a test, runs between an entry's look-up and
// its opening: the moment a swap would have to win.
var testHookOpen func(name string)

// openEntry opens name, one entry directly in root, when want accepts its
// own mode (a link's is the link's): open does the opening, stat says what
// was opened, and it must be the very file the look-up saw (os.Root itself
// follows links that stay inside it, and this one must not).
func openEntry[T io.Closer](root *os.Root, name string, want func(fs.FileMode) bool,
	open func() (T, error), stat func(T) (fs.FileInfo, error)) (T, fs.FileInfo, error) {
	var none T
	before, err := root.Lstat(name)
	if err != nil {
		return none, nil, err
	}
	if !want(before.Mode()) {
		return none, nil, refusalFor(before.Mode())
	}
	if testHookOpen != nil {
		testHookOpen(name)
	}
	v, err := open()
	if err != nil {
		if now, lerr := root.Lstat(name); lerr == nil && !os.SameFile(before, now) {
			return none, nil, errChanged
		}
		return none, nil, err
	}
	after, err := stat(v)
	if err == nil && !os.SameFile(before, after) {
		err = errChanged
	}
	if err != nil {
		v.Close()
		return none, nil, err
	}
	return v, after, nil
}

// openRegular opens name, a regular file directly in root, for reading.
// O_NONBLOCK keeps a FIFO swapped in at the last moment from hanging the
// open (the check after it refuses the FIFO).
func openRegular(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	return openEntry(root, name, fs.FileMode.IsRegular,
		func() (*os.File, error) {
			return root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		},
		(*os.File).Stat)
}

// openSubdir opens name, a directory directly in root, as a root of its
// own: what is below it is then reached through this very directory,
// whatever becomes of its name.
func openSubdir(root *os.Root, name string) (*os.Root, error) {
	sub, _, err := openEntry(root, name, fs.FileMode.IsDir,
		func() (*os.Root, error) { return root.OpenRoot(name) },
		func(r *os.Root) (fs.FileInfo, error) { return r.Stat(".") })
	return sub, err
}

// openResultsDir opens a test's results directory as a root, refusing a
// link in its place: the test directory holding it is the agent's, except
// when scripts run as the agent's own user (--isolation off).
func openResultsDir(dir string) (*os.Root, error) {
	parent, err := os.OpenRoot(filepath.Dir(dir))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	return openSubdir(parent, filepath.Base(dir))
}

// readRegular reads up to limit bytes of name, a regular file directly in
// root; truncated says there was more.
func readRegular(root *os.Root, name string, limit int64) (data []byte, truncated bool, err error) {
	f, _, err := openRegular(root, name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return data[:limit], true, nil
	}
	return data, false, nil
}

// readPids reads the pids file a script may write in its results
// directory: PIDs separated by white space or commas, at most maxPidsFile
// bytes of them, never PID 1 or the agent's own. A missing, odd or
// unreadable file lists none. The PIDs are only what the script says:
// whoever acts on one checks that it belongs to the script.
func readPids(resultsDir string) []int {
	root, err := openResultsDir(resultsDir)
	if err != nil {
		return nil
	}
	defer root.Close()
	return readPidsIn(root)
}

// readPidsIn is readPids of a results directory already open.
func readPidsIn(root *os.Root) []int {
	data, truncated, err := readRegular(root, "pids", maxPidsFile)
	if err != nil {
		return nil
	}
	sep := func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }
	if truncated {
		// The last figure may be cut short: a different PID.
		data = data[:strings.LastIndexFunc(string(data), sep)+1]
	}
	var pids []int
	for _, f := range strings.FieldsFunc(string(data), sep) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}
