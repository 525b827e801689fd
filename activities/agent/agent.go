// Package agent holds the activities that run on an agent, on its host's
// own task queue: set a test up, run its script and hooks, monitor the
// host, collect and upload results, clean up. They touch only the agent's
// host, its work directory and the server's ingest endpoints.
package agent

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"go.temporal.io/sdk/worker"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Activities are the agent's activities and what they need: the host and
// its work directory, the server's ingest client, and what the agent
// remembers about its tests.
type Activities struct {
	Host    string
	WorkDir string
	Log     *slog.Logger
	// Ingest sends samples, output and artifacts to the server.
	Ingest *ingest.Client
	// MaxLogLines caps the output lines stored per test.
	MaxLogLines int
	// ScriptUser is the account scripts and hooks run as when the agent
	// runs as root ("" or "root": as root itself).
	ScriptUser string

	state state
}

// Register registers the agent's activities under their contract names.
// (A function, not a method: every exported method of Activities is an
// activity.)
func Register(r worker.ActivityRegistry, a *Activities) {
	contract.Setup.Register(r, a.Setup)
	contract.Execute.Register(r, a.Execute)
	contract.Collect.Register(r, a.Collect)
	contract.Cleanup.Register(r, a.Cleanup)
	contract.Kill.Register(r, a.Kill)
	contract.Monitor.Register(r, a.Monitor)
	contract.StopMonitor.Register(r, a.StopMonitor)
}

// testDir is where one test lives on the agent: the script, the logs and,
// below it, the results directory the script runs in.
func (a *Activities) testDir(testID int64) string {
	return filepath.Join(a.WorkDir, "tests", strconv.FormatInt(testID, 10))
}

func resultsDir(testDir string) string { return filepath.Join(testDir, "results") }

func (a *Activities) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// scriptCredential is the account scripts run as: ScriptUser's when the
// agent is root and one is set, else nil (the agent's own).
func (a *Activities) scriptCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 || a.ScriptUser == "" || a.ScriptUser == "root" {
		return nil, nil
	}
	u, err := user.Lookup(a.ScriptUser)
	if err != nil {
		return nil, fmt.Errorf("script user %q: %w", a.ScriptUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}
