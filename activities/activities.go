// Package activities holds the work PerfTest schedules: central activities
// that touch the database and host-pinned activities that run on an agent.
package activities

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/store"
)

// Activities holds what the activities need. A central worker sets Store;
// an agent sets Host and WorkDir.
type Activities struct {
	Store    *store.Store
	Temporal client.Client
	Host     string
	WorkDir  string
	Version  string
	Log      *slog.Logger
	// Ingest sends samples and output to the server (agents only).
	Ingest *ingest.Client
	// MaxLogLines caps the output lines stored per test.
	MaxLogLines int
	// ScriptUser is the account scripts and hooks run as when the agent
	// runs as root ("" or "root": as root itself).
	ScriptUser string

	mu       sync.Mutex
	running  map[int64]runningScript
	monitors map[int64]*monitorRun
	// stopsEarly are StopMonitors that came before their Monitor started.
	stopsEarly kept[struct{}]
	// collected are the results of Collects that removed their directory.
	collected  kept[*CollectResult]
	logLines   map[int64]int
	logDropped map[int64]int
}

// CentralQueue is the central worker's task queue (workflows.CentralQueue,
// repeated here because workflows imports this package).
const CentralQueue = "pitwall"

// RegisterCentral registers the activities that run on the central queue.
// (Package functions, not methods: every exported method of Activities is
// an activity.)
func RegisterCentral(w worker.Registry, a *Activities) {
	w.RegisterActivity(a.TestLoad)
	w.RegisterActivity(a.HostPick)
	w.RegisterActivity(a.Transition)
	w.RegisterActivity(a.Collate)
	w.RegisterActivity(a.Verdict)
	w.RegisterActivity(a.LeaseRequest)
	w.RegisterActivity(a.LeaseRecord)
	w.RegisterActivity(a.WorkflowRunning)
}

// RegisterAgent registers the activities that run on an agent's own queue.
func RegisterAgent(w worker.Registry, a *Activities) {
	w.RegisterActivity(a.Setup)
	w.RegisterActivity(a.Execute)
	w.RegisterActivity(a.Collect)
	w.RegisterActivity(a.Cleanup)
	w.RegisterActivity(a.Kill)
	w.RegisterActivity(a.Monitor)
	w.RegisterActivity(a.StopMonitor)
	w.RegisterActivity(a.Upload)
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
