package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
)

// TestLoad returns the frozen framework version and parameters of a test.
func (a *Activities) TestLoad(ctx context.Context, testID int64) (*store.TestPlan, error) {
	p, err := a.Store.TestPlanGet(ctx, testID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "NotFound", err)
	}
	return p, err
}

// HostPickInput says which hosts a test may run on.
type HostPickInput struct {
	Hosts  []string
	Labels map[string]string
}

// ErrNoHost is the error type of a test that has nowhere to run.
const ErrNoHost = "NoHost"

// HostPick chooses the execution host: the named one if it is registered,
// else an online agent whose labels match. A named host that was never
// registered is bad input; no online agent yet is worth retrying.
func (a *Activities) HostPick(ctx context.Context, in HostPickInput) (string, error) {
	agents, err := a.Store.AgentList(ctx)
	if err != nil {
		return "", fmt.Errorf("list agents: %w", err)
	}
	if len(in.Hosts) > 0 {
		for _, ag := range agents {
			if ag.Name == in.Hosts[0] {
				return ag.Name, nil
			}
		}
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("execution host %q is not a registered agent", in.Hosts[0]), ErrNoHost, nil)
	}
	var names []string
	for _, ag := range agents {
		if ag.Online && labelsMatch(ag.Labels, in.Labels) {
			names = append(names, ag.Name)
		}
	}
	if len(names) == 0 {
		return "", temporal.NewApplicationError("no online agent matches the framework's hosts and labels", ErrNoHost)
	}
	slices.Sort(names)
	return names[0], nil
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Transition records a test's state change.
func (a *Activities) Transition(ctx context.Context, tr store.Transition) error {
	if tr.At.IsZero() {
		tr.At = time.Now()
	}
	return a.Store.TestTransition(ctx, tr)
}

// CollateInput carries what the agent collected to the database.
type CollateInput struct {
	TestID    int64
	Iteration int
	KPIs      []results.KPI
	Notes     []string
}

// Collate stores a test's KPIs and notes.
func (a *Activities) Collate(ctx context.Context, in CollateInput) error {
	return a.Store.TestResultsStore(ctx, in.TestID, in.Iteration, in.KPIs, in.Notes)
}
