// Package agent holds the activities that run on an agent, on its host's
// own task queue: set a test up, run its script and hooks, monitor the
// host, collect and upload results, clean up. They touch only the agent's
// host, its work directory and the server's ingest endpoints.
package agent

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/worker"

	"github.com/pitwall/pitwall/internal/containers"
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
	// Isolation is how scripts run: IsolationUID ("" too), each test as a
	// user of its own from UIDs; or IsolationOff, as the agent's own user.
	Isolation string
	UIDs      UIDRange
	// Supervisor is the command that starts a supervisor, with the state
	// directory as its last argument; default: this binary's supervise
	// subcommand (supervise.Command).
	Supervisor []string
	// ReattachWindow is how long a script whose Execute is gone (the agent
	// restarted) runs on before the agent stops it, unclaimed; IdleKeep how
	// long a test's files stay after its last activity on the agent when
	// no cleanup came. Defaults: DefaultReattachWindow, DefaultIdleKeep.
	ReattachWindow, IdleKeep time.Duration
	// Docker is the engine that runs tests' containers; nil when the agent
	// has none, and then it refuses tests that need containers.
	Docker *containers.Engine
	// ImageMaxBytes and ImageMaxAge prune the images the agent built
	// (least recently made first) past a total size or an age; 0: never.
	ImageMaxBytes int64
	ImageMaxAge   time.Duration
	// Samples, when set, counts the points sampled by source (host,
	// container, prometheus) for the agent's own metrics.
	Samples *prometheus.CounterVec

	state state
	// interference holds the generators this agent's Executes run.
	interference interferences
	// profilerSets are the running profilers, for Kill.
	profilerSets profilerRegistry
	// pulse wakes the once-a-second chores together.
	pulse pulse
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
	contract.ContainersUp.Register(r, a.ContainersUp)
	contract.RunLoad.Register(r, a.RunLoad)
	contract.WaitFile.Register(r, a.WaitFile)
	contract.StopScripts.Register(r, a.StopScripts)
	contract.ReadIntervals.Register(r, a.ReadIntervals)
	contract.GitCommits.Register(r, a.GitCommits)
}

// testDir is where one test lives on the agent: the script, the logs and,
// below it, the results directory the script runs in.
func (a *Activities) testDir(testID int64) string {
	return filepath.Join(a.WorkDir, "tests", strconv.FormatInt(testID, 10))
}

func resultsDir(testDir string) string { return filepath.Join(testDir, "results") }

// runsDir holds the state directories of a test's supervised runs: the
// supervisors' files and the scripts' output, the agent's alone.
func (a *Activities) runsDir(testID int64) string {
	return filepath.Join(a.WorkDir, "runs", strconv.FormatInt(testID, 10))
}

// counted adds n points of source to the agent's metrics.
func (a *Activities) counted(source string, n int) {
	if a.Samples != nil {
		a.Samples.WithLabelValues(source).Add(float64(n))
	}
}

func (a *Activities) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}
