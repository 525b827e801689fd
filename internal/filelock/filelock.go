// Package filelock serializes work between processes with an exclusive
// flock(2) on a file. Test packages run in parallel, and on a fresh clone
// several of them start the same one-off build or download at once: one
// does it while the others wait, then find it done.
package filelock

import (
	"fmt"
	"os"
	"syscall"
)

// Lock creates path if needed and waits for an exclusive lock on it;
// unlock releases the lock. The lock also ends with the process.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
