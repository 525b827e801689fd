package agent

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// maxPidsFile bounds how much of a pids file is read.
const maxPidsFile = 64 << 10

// scriptPids are the PIDs a script named in its pids file that belong to
// its running tree. The file is read only when it is a regular file, never
// through a link, and only up to maxPidsFile; any other PID is ignored.
func (a *Activities) scriptPids(testID int64, resultsDir string) []int {
	f, err := os.OpenFile(filepath.Join(resultsDir, "pids"), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(f, maxPidsFile))
	var pids []int
	for _, field := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if pid, err := strconv.Atoi(field); err == nil && a.owns(testID, pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
