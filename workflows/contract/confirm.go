package contract

import (
	"strconv"

	"github.com/pitwall/pitwall/internal/confirm"
)

// ConfirmWorkflow confirms a test's verdict with interleaved runs of its
// baseline's commit and its own on one host (workflows.Confirm).
const ConfirmWorkflow = "Confirm"

// ConfirmWorkflowID is the ID of confirmation id's workflow.
func ConfirmWorkflowID(id int64) string { return "confirm-" + strconv.FormatInt(id, 10) }

// BisectWorkflow bisects the commits between a good and a bad end to the
// first bad one (workflows.Bisect).
const BisectWorkflow = "Bisect"

// BisectWorkflowID is the ID of bisection id's workflow.
func BisectWorkflowID(id int64) string { return "bisect-" + strconv.FormatInt(id, 10) }

// SeriesWorkflowID is the workflow ID of a confirmation or bisection.
func SeriesWorkflowID(kind string, id int64) string {
	if kind == "bisect" {
		return BisectWorkflowID(id)
	}
	return ConfirmWorkflowID(id)
}

// ConfirmInput names the confirmation to run; the rest is loaded.
type ConfirmInput struct {
	ID int64
}

// ConfirmKPI is one KPI a confirmation tests.
type ConfirmKPI struct {
	Name          string
	LowerIsBetter bool
	Threshold     float64
}

// ConfirmPlan is what a confirmation runs: the two commits, where, the
// KPIs, the budget in pairs of runs and the order of the runs.
type ConfirmPlan struct {
	ID     int64
	TestID int64
	// BaseCommit is arm A's commit, CandCommit arm B's.
	BaseCommit, CandCommit string
	// Host is the execution host every run is pinned to; Hosts are every
	// host the runs need (Host and the statistics hosts), leased once for
	// the whole series, in the global order.
	Host  string
	Hosts []string
	KPIs  []ConfirmKPI
	// Budget is the most pairs; Order abba or random, Seed its seed.
	Budget int
	Order  string
	Seed   uint64
	// Commits are a bisection's commits, good end first.
	Commits []string `json:",omitempty"`
	// CommitsSource is where they came from; with wire.CommitsGit the
	// bisection lists them from Repo on Host first (Commits, the
	// history's, are the fallback).
	CommitsSource string `json:",omitempty"`
	Repo          string `json:",omitempty"`
	// RoleHosts, for a multi-host test, are each role's hosts, picked
	// once (the confirmed test's first): every run plays its roles on
	// them, and Hosts holds them all.
	RoleHosts []RoleHosts `json:",omitempty"`
}

// GitCommitsInput asks a host for the commits of a git repository after
// Good up to Bad, first-parent.
type GitCommitsInput struct {
	Repo, Good, Bad string
	// Max bounds the answer: more commits is an error.
	Max int
}

// GitCommitsResult are the commits after Good up to Bad, oldest first,
// full hashes (Bad's last).
type GitCommitsResult struct {
	Commits []string
}

// BisectCommitsInput records the commits a bisection goes through.
type BisectCommitsInput struct {
	ID      int64
	Commits []string
	Source  string
}

// ConfirmRunInput asks for a run of one arm: a new test at its commit.
type ConfirmRunInput struct {
	ID     int64
	Arm    string
	Commit string
}

// ConfirmRunValues is what a run measured: its state and each KPI's mean
// over its iterations.
type ConfirmRunValues struct {
	State  string
	Values map[string]float64
}

// ConfirmOutcome is the sequential test's answer on one KPI.
type ConfirmOutcome struct {
	KPI string
	confirm.Result
}

// ConfirmUpdateInput records where a confirmation stands.
type ConfirmUpdateInput struct {
	ID int64
	// Host is set once the runs' host is held.
	Host     string
	State    string
	Reason   string
	Outcomes []ConfirmOutcome
	// Bisect is a bisection's standing.
	Bisect *confirm.BisectResult `json:",omitempty"`
}

// The confirmation's central activities.
var (
	// ConfirmLoad loads a confirmation's plan.
	ConfirmLoad = Activity[int64, *ConfirmPlan]{"ConfirmLoad"}
	// ConfirmRun creates a run's test and returns its ID.
	ConfirmRun = Activity[ConfirmRunInput, int64]{"ConfirmRun"}
	// ConfirmValues reads what a run measured.
	ConfirmValues = Activity[int64, *ConfirmRunValues]{"ConfirmValues"}
	// ConfirmUpdate records the confirmation's progress or ending.
	ConfirmUpdate = Action[ConfirmUpdateInput]{"ConfirmUpdate"}
	// BisectCommitsSet records a bisection's commits and their source.
	BisectCommitsSet = Action[BisectCommitsInput]{"BisectCommitsSet"}
	// GitCommits lists a repository's commits between two ends (agent).
	GitCommits = Activity[GitCommitsInput, *GitCommitsResult]{"GitCommits"}
)
