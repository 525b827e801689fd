package stack

import (
	"path/filepath"

	"github.com/pitwall/pitwall/internal/proc"
)

// Spawn runs the built command bin (from Options.Build) with args and the
// stack's Env as its own process, logging to NAME.log in Dir; a test may
// Kill9 it and Restart it.
func (s *Stack) Spawn(name, bin string, args ...string) (*proc.Proc, error) {
	return proc.Start(proc.Options{Name: name, LogPath: filepath.Join(s.Dir, name+".log"), Env: s.Env()},
		filepath.Join(s.Bin, bin), args...)
}
