package contract

import (
	"time"

	"github.com/pitwall/pitwall/internal/framework"
)

// SetupInput names the script and hooks a test runs on this agent.
type SetupInput struct {
	TestID int64
	// Script is an inline script; ScriptPath a file already on the agent.
	Script     string
	ScriptPath string
	// Hooks are the framework's lifecycle hooks, inline or paths.
	Hooks []Hook
}

// SetupResult says where the test runs on the agent.
type SetupResult struct {
	Dir        string
	ResultsDir string
	Script     string
	// Hooks maps a hook's name to the file that runs it.
	Hooks map[string]string
	// ScriptSHA256 and HookSHA256 fingerprint exactly what runs.
	ScriptSHA256 string
	HookSHA256   map[string]string
	// Done is when the agent finished setting up (its clock).
	Done time.Time `json:",omitempty"`
}

// ExecuteInput is one run of the execution script or of a hook.
type ExecuteInput struct {
	TestID     int64
	Framework  string
	Script     string
	Dir        string
	ResultsDir string
	Args       string
	Params     []Param
	Timeout    time.Duration
	// Name is "script" or the hook's name; Iteration counts the script's runs.
	Name      string
	Iteration int
	// Env is what the framework declares for the script's environment.
	Env map[string]string
	// ServiceEnv are the PITWALL_SERVICE_* variables (NAME=value) that
	// lead a script on the host to the test's services.
	ServiceEnv []string
	// Commit is the commit the test measures (PITWALL_COMMIT).
	Commit string
	// StartAt, when set, is the instant (the agent's clock) the script
	// starts at: a multi-host test starts every host's script at once.
	StartAt time.Time
	// RoleEnv are the PITWALL_ROLE* variables of a multi-host test.
	RoleEnv []string
	// Interference are the generators started beside this run (a script
	// run's only, never a hook's).
	Interference []framework.Interference
	// Profilers run beside the script (not hooks) while it runs.
	Profilers []framework.Profiler `json:",omitempty"`
	// Place is a multi-host run's role and index among the role's hosts
	// ("load.1"): the directory of its profiles, which hosts' names (chosen
	// anew for each test) would not match from one test to the next.
	Place string `json:",omitempty"`
	// Setup, when set, folds the test's Setup into this run (its first):
	// the agent sets the test up, unless an earlier attempt already
	// started the script, and fills Script, Dir and ResultsDir in from it.
	// Collect, when set, folds the Collect that always follows the run
	// into it (ResultsDir filled in); the results are in Collected. Each
	// saves PerfTest an agent activity and a workflow task.
	Setup   *SetupInput   `json:",omitempty"`
	Collect *CollectInput `json:",omitempty"`
	// Monitor, when set (with Collect, whose StopMonitor it answers),
	// folds this host's Monitor into the run: the agent samples from
	// before the setup until the Collect, and the result is in Monitor.
	// That saves PerfTest the Monitor's activity task.
	Monitor *MonitorInput `json:",omitempty"`
}

// ExecuteResult is how the script ended.
type ExecuteResult struct {
	ExitCode   int
	TimedOut   bool
	Signal     string
	StderrTail string
	StartedAt  time.Time
	EndedAt    time.Time
	// Reattached is when a restarted agent took the running script over
	// from its supervisor; zero when one agent saw the whole run.
	Reattached time.Time
	// UserCPU, SystemCPU and MaxRSS are the script tree's resource usage
	// as its supervisor measured it.
	UserCPU   time.Duration
	SystemCPU time.Duration
	MaxRSS    int64
	// Processes counts the processes seen in the script's tree; Leftover
	// those still running when the script ended, which were killed.
	Processes int
	Leftover  int
	// CPUMigrations counts the moves of the tree's threads between CPUs
	// (a lower bound, sampled); MigrationsCounted says the agent could
	// count them (false from older agents, and kernels without
	// /proc/PID/sched).
	CPUMigrations     int64 `json:",omitempty"`
	MigrationsCounted bool  `json:",omitempty"`
	// Interference is when each generator loaded the host.
	Interference []InterferenceSpan
	// Setup and Collected answer ExecuteInput's Setup and Collect.
	Setup     *SetupResult   `json:",omitempty"`
	Collected *CollectResult `json:",omitempty"`
	// Monitor answers ExecuteInput's Monitor.
	Monitor *MonitorResult `json:",omitempty"`
}

// MonitorInput says what a statistics host samples, and how often.
type MonitorInput struct {
	TestID   int64
	Interval time.Duration
	// ResultsDir is set on the execution host, whose script may name PIDs
	// in ResultsDir/pids for per-process figures.
	ResultsDir string
	// ExecutionHost says this is the execution host: with ResultsDir
	// empty (the Setup is folded into the first Execute and has not said
	// where it is yet), the agent reads the test's own results directory.
	ExecutionHost bool `json:",omitempty"`
}

// MonitorResult counts what a monitor sent.
type MonitorResult struct {
	Samples int
	Points  int
	// Dropped counts points lost because the server was away too long.
	Dropped int
}

// CollectInput names the results directory of a finished script.
type CollectInput struct {
	TestID     int64
	ResultsDir string
	// Iteration > 0 keeps this run's results.csv as results.<n>.csv so the
	// next run starts without one; Discard drops it (a warm-up run).
	Iteration int
	Discard   bool
	// After the test's last run, Collect also does what would otherwise
	// take the workflow three more tasks: StopMonitor ends this host's
	// monitor first, Upload sends the results directory as artifacts
	// afterwards, and Cleanup then removes the test's directory (when no
	// before_cleanup hook needs it).
	StopMonitor bool
	Upload      bool
	Cleanup     bool
	// ArtifactDir, when set, is the folder the artifacts are kept under
	// (a multi-host test's host), so the hosts' files do not collide.
	ArtifactDir string
	// Histograms are histogram files to read back (a multi-host test's
	// merge rules).
	Histograms []string
}

// NoResultsNote is Collect's note of a run that wrote no results.csv.
const NoResultsNote = "results.csv: the script wrote no results.csv, so the test has no KPIs"

// CollectResult is what the agent read from the results directory.
type CollectResult struct {
	// File names the results file read: results.csv, or results.<n>.csv
	// as it was kept.
	File  string
	KPIs  []KPI
	Notes []string
	// Upload is set when the input asked for the upload.
	Upload *UploadResult
	// Histograms maps each histogram file asked for that was read to the
	// whole run's histogram, base64 V2-compressed.
	Histograms map[string]string
}

// UploadResult counts the artifacts that were kept and says what was refused.
type UploadResult struct {
	Files int
	Bytes int64
	// Refused are the server's reasons for files it would not keep (it
	// notes them on the test itself); Skipped are files that are not
	// regular files, which are never sent.
	Refused []string
	Skipped []string
}

// ContainersUpInput asks the execution host for a test's containers: a
// network, the services' and the load generator's images (built at the
// commit or pulled), and the services started in order, each ready.
type ContainersUpInput struct {
	TestID    int64
	Framework string
	// Commit is the test's commit: the default ref of every build.
	Commit     string
	Services   []framework.Service
	Load       *framework.Load
	Params     []Param
	ResultsDir string
	// Interval is how often the containers' stats and /metrics are sampled.
	Interval time.Duration
	// NoStats leaves the containers' stats and /metrics unsampled
	// (monitoring is off); their output still goes to the test's log.
	NoStats bool
}

// ContainersUpResult says what was built and where the services answer.
type ContainersUpResult struct {
	Images   []ImageReady
	Services []ServiceReady
	// HostEnv are the PITWALL_SERVICE_* variables for a script on the host.
	HostEnv []string
	// LoadImage is the load generator's image, ready to run.
	LoadImage string
}

// ImageReady is one image a test uses: built, reused or pulled.
type ImageReady struct {
	// For is the service's name, or "load".
	For    string
	Image  string
	Built  bool
	Reused bool
	Pulled bool
	// Duration is the time the build (or the pull, or the check) took.
	Duration time.Duration
	// Log is the build log's artifact path, when there was a build.
	Log string
}

// ServiceReady is a started service: where the host reaches it and how
// long it took to become ready.
type ServiceReady struct {
	Name    string
	Address string
	Ready   time.Duration
}

// RunLoadInput runs the load-generator container once.
type RunLoadInput struct {
	TestID     int64
	Framework  string
	Image      string
	Load       framework.Load
	Services   []framework.Service
	Args       string
	Params     []Param
	ResultsDir string
	Timeout    time.Duration
	Iteration  int
}
