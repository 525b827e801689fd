package wire

import (
	"fmt"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/confirm"
)

// States of a confirmation: running until the sequential test answers for
// every KPI, the run budget is spent, or it fails or is cancelled.
const (
	ConfirmRunning      = "running"
	ConfirmConfirmed    = "confirmed"
	ConfirmNotConfirmed = "not-confirmed"
	ConfirmUnknown      = "unknown"
	// A bisection ends found (one first bad commit) or range (the first
	// bad commit is one of several that do not build), or unknown.
	BisectFound      = "found"
	BisectRange      = "range"
	ConfirmFailed    = "failed"
	ConfirmCancelled = "cancelled"
)

// Arms of a confirmation: A runs the baseline's commit, B the test's; a
// bisection's runs are A (its good end), M (the step's middle commit) and
// B (its bad end).
const (
	ArmBaseline  = "A"
	ArmCandidate = "B"
	ArmMiddle    = "M"
)

// Kinds of series: a confirmation or a bisection.
const (
	KindConfirm = "confirm"
	KindBisect  = "bisect"
)

// Where a bisection's commits come from.
const (
	CommitsRequest = "request"
	CommitsHistory = "history"
	// CommitsGit: listed from the framework's git repository on the
	// test's host, first-parent, good end excluded (it is put first).
	CommitsGit = "git"
)

// BisectRequest asks for a bisection of a test's regression
// (POST /api/v1/tests/{id}/bisect); every field is optional.
type BisectRequest struct {
	// Good is the last commit known good; default: the baseline test's.
	Good string `json:"good,omitempty"`
	// Commits are the commits from the good end to the test's (both
	// included), oldest first; default: the commits of the framework's
	// tests on the test's branch between the two, in the order they were
	// first tested.
	Commits []string `json:"commits,omitempty"`
	// KPI is the KPI to bisect on; default: the first the test regressed
	// on.
	KPI string `json:"kpi,omitempty"`
	// Budget is the most rounds (one run of each of the three commits) a
	// step may use; Order is abba (the default) or random.
	Budget   int    `json:"budget,omitempty"`
	Order    string `json:"order,omitempty"`
	BaseTest int64  `json:"base_test,omitempty"`
}

// ConfirmRequest asks for a confirmation of a test's verdict
// (POST /api/v1/tests/{id}/confirm); every field is optional.
type ConfirmRequest struct {
	// Budget is the most pairs of runs (one of each commit) it may use.
	Budget int `json:"budget,omitempty"`
	// Order is abba (the default) or random.
	Order string `json:"order,omitempty"`
	// KPIs are the KPIs to confirm; default: those the test regressed on.
	KPIs []string `json:"kpis,omitempty"`
	// BaseTest is the test whose commit is the baseline; default: the
	// newest of the tests the verdict compared against.
	BaseTest int64 `json:"base_test,omitempty"`
}

// ConfirmKPI is one KPI a confirmation tests: its direction and the
// smallest change that matters.
type ConfirmKPI struct {
	Name          string  `json:"name"`
	LowerIsBetter bool    `json:"lower_is_better"`
	Threshold     float64 `json:"threshold"`
}

// ConfirmOutcome is the sequential test's answer on one KPI.
type ConfirmOutcome struct {
	KPI string `json:"kpi"`
	confirm.Result
}

// ConfirmationRun is one run of a confirmation: a test of one arm.
type ConfirmationRun struct {
	TestID int64  `json:"test_id"`
	Arm    string `json:"arm"`
	Commit string `json:"commit"`
	State  string `json:"state"`
	// Values are the run's KPI values (the mean over its iterations).
	Values    map[string]float64 `json:"values"`
	CreatedAt time.Time          `json:"created_at"`
	EndedAt   *time.Time         `json:"ended_at,omitempty"`
}

// Confirmation is a confirmation of a test's verdict by interleaved runs
// of its baseline's commit and its own on one host.
type Confirmation struct {
	ID int64 `json:"id"`
	// Kind is confirm or bisect; Parent the confirmation a bisection
	// followed.
	Kind   string `json:"kind"`
	Parent *int64 `json:"parent_id"`
	// Commits are a bisection's commits, good end first; Bisect where it
	// stands (nil for a confirmation).
	Commits []string `json:"commits"`
	// CommitsSource says where a bisection's commits came from
	// (CommitsRequest, CommitsHistory or CommitsGit); "" for a confirmation.
	CommitsSource string                `json:"commits_source"`
	Bisect        *confirm.BisectResult `json:"bisect,omitempty"`
	TestID        int64                 `json:"test_id"`
	Framework     string                `json:"framework"`
	Team          string                `json:"team"`
	BaseTest      *int64                `json:"base_test"`
	BaseCommit    string                `json:"base_commit"`
	CandCommit    string                `json:"cand_commit"`
	Host          string                `json:"host"`
	KPIs          []ConfirmKPI          `json:"kpis"`
	Budget        int                   `json:"budget"`
	Order         string                `json:"order"`
	State         string                `json:"state"`
	Reason        string                `json:"reason"`
	Outcomes      []ConfirmOutcome      `json:"outcomes"`
	Runs          []ConfirmationRun     `json:"runs"`
	StartedBy     string                `json:"started_by"`
	Auto          bool                  `json:"auto"`
	CreatedAt     time.Time             `json:"created_at"`
	EndedAt       *time.Time            `json:"ended_at"`
	WorkflowID    string                `json:"workflow_id"`
	URL           string                `json:"url"`
}

// Culprit says what a bisection that ended found, in one line: the
// first bad commit with the effect its steps measured, or the range, and
// the runs it took; "" while it runs or when it found nothing.
func (c *Confirmation) Culprit() string {
	r := c.Bisect
	if c.Kind != KindBisect || r == nil {
		return ""
	}
	kpi := ""
	if len(c.KPIs) > 0 {
		kpi = c.KPIs[0].Name
	}
	switch r.Outcome {
	case confirm.Found:
		s := fmt.Sprintf("culprit %s (first bad commit after %s)", r.FirstBad, r.Good)
		if e, against, ok := r.CulpritEffect(); ok {
			if against == "" {
				against = "the good end"
			}
			s += fmt.Sprintf(": %s %+.2f%% (%.3g%% CI %+.2f..%+.2f%%) against %s", kpi, e.ChangePct,
				100*e.Confidence, e.CILowPct, e.CIHighPct, against)
		}
		return s + fmt.Sprintf("; %d runs in %d steps", r.Runs, len(r.Steps))
	case confirm.Range:
		return fmt.Sprintf("culprit one of %s (the commits between do not build); %d runs in %d steps",
			strings.Join(r.Candidates, ", "), r.Runs, len(r.Steps))
	}
	return ""
}
