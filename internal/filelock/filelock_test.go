package filelock

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLockWaitsForAnotherProcess holds the lock while flock(1), another
// process, asks for it without waiting (refused), then releases it (taken).
func TestLockWaitsForAnotherProcess(t *testing.T) {
	flock, err := exec.LookPath("flock")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("flock(1) is not installed on this CI machine (Debian's util-linux has it)")
		}
		t.Skip("flock(1) is not installed (Debian's util-linux has it)")
	}
	path := filepath.Join(t.TempDir(), "build.lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(flock, "--nonblock", path, "true").CombinedOutput()
	if err == nil {
		t.Fatalf("another process took the held lock: %s", out)
	}
	unlock()
	out, err = exec.Command(flock, "--timeout", "10", path, "true").CombinedOutput()
	if err != nil {
		t.Fatalf("the released lock was not taken: %v %s", err, out)
	}
}

// TestLockSerializesInProcess: a second Lock on the same file waits until
// the first is released (flock locks belong to the open file, so two
// opens in one process exclude each other too).
func TestLockSerializesInProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "build.lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		second, err := Lock(path)
		if err != nil {
			t.Error(err)
		} else {
			second()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("the second Lock returned while the first was held")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the second Lock did not return after the first was released")
	}
}

func TestLockNamesAFolderItCannotCreate(t *testing.T) {
	_, err := Lock(filepath.Join(t.TempDir(), "missing", "build.lock"))
	if err == nil || !strings.Contains(err.Error(), "build.lock") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a missing folder named", err)
	}
}
