package framework

import (
	"fmt"
	"slices"
)

// Confirm is a framework's confirmation and bisection settings
// (docs/confirmation.md).
type Confirm struct {
	// Checkout says the script checks out PITWALL_COMMIT itself, so any
	// commit can be run again on demand. A framework whose containers are
	// all built at the test's commit can be without it.
	Checkout bool `yaml:"checkout,omitempty" json:"checkout,omitempty"`
	// Auto starts a confirmation when a test's verdict is regressed.
	Auto bool `yaml:"auto,omitempty" json:"auto,omitempty"`
	// Bisect starts a bisection when a confirmation confirms a
	// regression and tested commits lie between its two ends.
	Bisect bool `yaml:"bisect,omitempty" json:"bisect,omitempty"`
	// Budget is the most pairs of runs of a confirmation, and of rounds
	// of each bisection step; 0: Pitwall's default.
	Budget int `yaml:"budget,omitempty" json:"budget,omitempty"`
	// Order is abba (the default) or random.
	Order string `yaml:"order,omitempty" json:"order,omitempty"`
	// Repo is the git repository the script checks PITWALL_COMMIT out of
	// (an absolute path on the agent or a URL, as services[].build.repo):
	// a bisection lists the commits between its ends from it. A framework
	// whose containers are built at the test's commit needs none: their
	// build's repository is used.
	Repo string `yaml:"repo,omitempty" json:"repo,omitempty"`
}

// MaxConfirmBudget bounds confirm.budget.
const MaxConfirmBudget = 50

func (f *Framework) validateConfirm() error {
	c := f.Confirm
	if c == nil {
		return nil
	}
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: "confirm." + field, Msg: fmt.Sprintf(format, args...)}
	}
	if c.Budget < 0 || c.Budget > MaxConfirmBudget {
		return bad("budget", "%d pairs; give 1-%d (or leave it out for the default)", c.Budget, MaxConfirmBudget)
	}
	if c.Order != "" && !slices.Contains([]string{"abba", "random"}, c.Order) {
		return bad("order", "%q is not abba or random", c.Order)
	}
	if c.Repo != "" {
		if err := validateRepo("confirm.repo", c.Repo); err != nil {
			return err
		}
	}
	if (c.Auto || c.Bisect) && !f.RunsAnyCommit() {
		return bad("auto", "the framework cannot run a commit on demand: set confirm.checkout: true if its "+
			"script checks out PITWALL_COMMIT, or build its containers at the test's commit")
	}
	return nil
}

// RunsAnyCommit tells whether a test of the framework can be run again
// at another commit and measure that commit: its script says it checks
// out PITWALL_COMMIT (confirm.checkout), or every container it builds is
// built at the test's commit and it has at least one.
func (f *Framework) RunsAnyCommit() bool {
	if f.Confirm != nil && f.Confirm.Checkout {
		return true
	}
	built := 0
	for _, s := range f.Services {
		if s.Build != nil {
			if s.Build.Ref != "" {
				return false
			}
			built++
		}
	}
	if f.Load != nil && f.Load.Build != nil {
		if f.Load.Build.Ref != "" {
			return false
		}
		built++
	}
	return built > 0
}

// SourceRepo is the git repository the framework's system is built or
// checked out from, where a bisection lists the commits between its ends:
// confirm.repo, else the repository of the first container built at the
// test's commit; "" when there is none.
func (f *Framework) SourceRepo() string {
	if f.Confirm != nil && f.Confirm.Repo != "" {
		return f.Confirm.Repo
	}
	for _, s := range f.Services {
		if s.Build != nil && s.Build.Ref == "" {
			return s.Build.Repo
		}
	}
	if f.Load != nil && f.Load.Build != nil && f.Load.Build.Ref == "" {
		return f.Load.Build.Repo
	}
	return ""
}
