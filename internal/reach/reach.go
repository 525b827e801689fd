// Package reach finds folders that another local user can walk down to:
// PostgreSQL runs as the postgres user and an agent's scripts as the
// per-test script users when Pitwall runs as root, and neither can enter a clone
// under /root (mode 700). Rather than open the clone or the home directory
// to other users, such a folder moves under /var/lib/pitwall.
package reach

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Check returns an error saying why when the user named username cannot
// walk down to dir (every folder above it must let that user through).
func Check(dir, username string) error {
	u, err := user.Lookup(username)
	if err != nil {
		return fmt.Errorf("look up user %s: %w", username, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return check(dir, "the "+username+" user", uid, gid)
}

// Anyone returns an error saying why when a user with no account and no
// group of its own on the way, such as an agent's per-test script user,
// cannot walk down to dir.
func Anyone(dir string) error { return check(dir, "a user of no group", -1, -1) }

func check(dir, who string, uid, gid int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		mode := st.Mode().Perm()
		ok := mode&0o001 != 0 || int(sys.Uid) == uid && mode&0o100 != 0 || int(sys.Gid) == gid && mode&0o010 != 0
		if !ok {
			return fmt.Errorf("%s cannot enter %s (mode %v), so it cannot reach %s", who, d, mode, abs)
		}
		if d == "/" {
			return nil
		}
	}
}

// Shared returns a folder of kind KIND for owner (a clone): under
// /var/lib/pitwall/KIND, named after owner's path (its last element and a
// hash of the whole), so that each clone keeps its own from run to run.
// The folders above it are created with mode 755. Only root needs it, and
// root may create it.
func Shared(kind, owner string) (string, error) {
	abs, err := filepath.Abs(owner)
	if err != nil {
		return "", err
	}
	parent := filepath.Join("/var/lib/pitwall", kind)
	for _, d := range []string{filepath.Dir(parent), parent} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("create %s: %w", d, err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return "", fmt.Errorf("open %s to other users: %w", d, err)
		}
	}
	sum := sha256.Sum256([]byte(abs))
	name := strings.TrimPrefix(filepath.Base(abs), ".") + "-" + hex.EncodeToString(sum[:6])
	return filepath.Join(parent, name), nil
}
