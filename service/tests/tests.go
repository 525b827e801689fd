// Package tests is the service for tests: start, view, list, clone,
// rerun, abort and delete them, read their logs, series and artifacts,
// export and import them. It holds the rules about tests: who may see and
// change one, the states a test goes through, the verdict a test without
// one shows, why a test waits.
package tests

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// Service runs the operations on tests.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// PublicURL is where people reach the server, for tests' URLs.
	PublicURL string
	Log       *slog.Logger
	// MaxTimeout is the longest execution timeout a test may run with (0:
	// DefaultMaxTimeout).
	MaxTimeout time.Duration

	created prometheus.Counter
	// searchAttributes is set once the namespace has Pitwall's search attributes.
	searchAttributes atomic.Bool
}

// New builds the service and registers its metrics on reg. tc may be nil
// for callers that never start, abort or rerun a test.
func New(s *store.Store, tc client.Client, publicURL string, log *slog.Logger, reg prometheus.Registerer) *Service {
	svc := &Service{Store: s, Temporal: tc, PublicURL: strings.TrimRight(publicURL, "/"), Log: log}
	svc.created = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pitwall_tests_created_total", Help: "Tests created through the API.",
	})
	reg.MustRegister(svc.created)
	return svc
}

// States are a test's states in lifecycle order.
var States = []string{wire.StateQueued, wire.StateWaiting, wire.StateSetup, wire.StateRunning, wire.StateCollating,
	wire.StateFinished, wire.StateFailed, wire.StateAborted, wire.StateTimedOut}

// ValidState reports whether s is one of States.
func ValidState(s string) bool {
	for _, st := range States {
		if s == st {
			return true
		}
	}
	return false
}

// Failed reports whether a test in state s ended without finishing for a
// reason of its own (not an abort), which pages show as an error.
func Failed(s string) bool { return s == wire.StateFailed || s == wire.StateTimedOut }

// Verdict is the verdict a test in state shows: a finished test without a
// stored verdict (from before verdicts existed) had no baseline to be
// judged against.
func Verdict(state, verdict string) string {
	if state == wire.StateFinished && verdict == "" {
		return wire.VerdictNoBaseline
	}
	return verdict
}

// WaitReason says why a test in state that has not started waits: for the
// host it named, or for the scheduler.
func WaitReason(state, host string) string {
	if state != wire.StateWaiting || host == "" {
		return "waiting for the scheduler"
	}
	return "waiting for host " + host
}

// PagePath is the path of a test's page.
func PagePath(id int64) string { return fmt.Sprintf("/tests/%d", id) }

// MayModify reports whether the principal of ctx may delete, abort or
// rerun t: its owner and the team's admins.
func MayModify(ctx context.Context, t *wire.Test) bool {
	return service.Principal(ctx).CanModify(t.Team, t.Owner)
}

// MayRun reports whether the principal of ctx may run tests (and create
// frameworks) in team: its members.
func MayRun(ctx context.Context, team string) bool {
	return service.Principal(ctx).Can(team, auth.Member)
}

// View loads a test, as the API shows it, that the principal of ctx may
// see; another team's test is NotFound (its existence is not theirs to know).
func (s *Service) View(ctx context.Context, id int64) (*wire.Test, error) {
	t, err := s.Store.TestGet(ctx, id)
	if err == nil && !service.MayView(ctx, t.Team) {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "id", "test %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", id, err)
	}
	s.decorate(t)
	return t, nil
}

// get loads a test without checking who asks, for operations that just
// made it.
func (s *Service) get(ctx context.Context, id int64) (*wire.Test, error) {
	t, err := s.Store.TestGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", id, err)
	}
	s.decorate(t)
	return t, nil
}

// decorate fills in what the service derives: the test's URL, its
// workflow, the waiting reason, verdicts, and empty lists for none.
func (s *Service) decorate(t *wire.Test) {
	t.URL = s.PublicURL + PagePath(t.ID)
	t.WorkflowID = workflowID(t.ID)
	if t.State == wire.StateWaiting && t.WaitingFor != "" {
		t.Reason = WaitReason(t.State, t.WaitingFor)
		if t.HeldBy > 0 {
			t.Reason += fmt.Sprintf(", held by test %d", t.HeldBy)
		}
	}
	t.Verdict = Verdict(t.State, t.Verdict)
	if t.State == wire.StateFinished {
		byName := map[string]string{}
		for _, v := range t.Verdicts {
			byName[v.Name] = v.Verdict
		}
		for i := range t.KPIs {
			// A KPI not declared in the framework's kpis has no direction to judge by.
			t.KPIs[i].Verdict = byName[t.KPIs[i].Name]
		}
	}
	if t.Verdicts == nil {
		t.Verdicts = []wire.KPIVerdict{}
	}
	if t.BaselineTests == nil {
		t.BaselineTests = []int64{}
	}
	if t.KPIs == nil {
		t.KPIs = []wire.KPI{}
	}
	t.KPISummary = wire.Summarize(t.KPIs)
	if t.Notes == nil {
		t.Notes = []string{}
	}
	if t.Timeline == nil {
		t.Timeline = []wire.Stage{}
	}
}
