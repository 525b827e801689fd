package main

import (
	"syscall"

	"github.com/pitwall/pitwall/internal/proc"
)

// startProc runs a service in its own process group (so Ctrl-C reaches
// devstack alone and children stop in order), logging to logPath; it gets
// SIGTERM if devstack is killed with -9, so nothing outlives it.
func startProc(name, logPath string, env []string, bin string, args ...string) (*proc.Proc, error) {
	return proc.Start(proc.Options{Name: name, LogPath: logPath, Env: env, Pdeathsig: syscall.SIGTERM}, bin, args...)
}
