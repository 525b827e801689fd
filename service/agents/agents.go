// Package agents is the service for agents: their heartbeats and list,
// and what they deliver for a test (samples, log lines, artifacts). It
// holds who may report for an agent and write for a test.
package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// Default artifact and log caps; the server's flags change them.
const (
	DefaultArtifactMaxFile = 64 << 20
	DefaultArtifactMaxTest = 256 << 20
	// DefaultLogMaxLines is the agent's default, so a well-behaved agent
	// never meets the server's cap.
	DefaultLogMaxLines = ingest.DefaultMaxLines
	DefaultLogMaxBytes = 64 << 20
)

// Service runs the operations of and on agents.
type Service struct {
	Store *store.Store
	Log   *slog.Logger
	// ArtifactMaxFile and ArtifactMaxTest cap what a test may store.
	ArtifactMaxFile, ArtifactMaxTest int64
	// LogMaxLines and LogMaxBytes cap the output lines a test keeps and
	// the bytes of their text.
	LogMaxLines, LogMaxBytes int64

	rows    *prometheus.CounterVec
	batches *prometheus.CounterVec

	// smallBatches counts batches of small series by test and host, so
	// their chunks are compacted every compactEvery batches.
	smallBatches struct {
		mu sync.Mutex
		n  map[testHost]int
	}
}

// New builds the service with the default caps and registers its metrics
// on reg.
func New(s *store.Store, log *slog.Logger, reg prometheus.Registerer) *Service {
	svc := &Service{Store: s, Log: log, ArtifactMaxFile: DefaultArtifactMaxFile, ArtifactMaxTest: DefaultArtifactMaxTest,
		LogMaxLines: DefaultLogMaxLines, LogMaxBytes: DefaultLogMaxBytes,
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pitwall_ingest_rows_total", Help: "Samples and log lines written, and log lines dropped past the caps (logs_dropped), by kind.",
		}, []string{"kind"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pitwall_ingest_batches_total", Help: "Ingest batches by kind and outcome (written, duplicate, refused, failed: the agent retries).",
		}, []string{"kind", "outcome"}),
	}
	reg.MustRegister(svc.rows, svc.batches)
	return svc
}

// MayList reports whether the principal of ctx may list agents: people
// and CI, not agents.
func MayList(ctx context.Context) bool { return service.Principal(ctx).Kind == auth.KindUser }

// List lists the agents people and CI may see: a site admin every one,
// others the hosts their teams may use. Which test holds a host shows only
// to those who may see that test; others see the host busy.
func (s *Service) List(ctx context.Context) ([]wire.Agent, error) {
	if !MayList(ctx) {
		return nil, service.NotAllowed("agents list is for people and CI")
	}
	list, err := s.Store.AgentList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	p := service.Principal(ctx)
	if p.SiteAdmin {
		return list, nil
	}
	var hidden []int64
	for _, a := range list {
		if a.RunningTest != 0 {
			hidden = append(hidden, a.RunningTest)
		}
	}
	teams, err := s.Store.TestTeams(ctx, hidden)
	if err != nil {
		return nil, fmt.Errorf("teams of running tests: %w", err)
	}
	out := list[:0]
	for _, a := range list {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(p.Teams)), a.UsableBy) {
			continue
		}
		if a.RunningTest != 0 && !service.MayView(ctx, teams[a.RunningTest]) {
			a.RunningTest = 0
		}
		out = append(out, a)
	}
	return out, nil
}

// MayConfigure says whether the principal of ctx may see and set hosts'
// settings: site admins only.
func (s *Service) MayConfigure(ctx context.Context) error {
	if !service.Principal(ctx).SiteAdmin {
		return service.NotAllowed("only site admins see and set an agent's labels and teams")
	}
	return nil
}

// Settings returns what a site admin set for a host (no labels and no
// team when nothing was set).
func (s *Service) Settings(ctx context.Context, name string) (wire.AgentSettings, error) {
	if err := s.MayConfigure(ctx); err != nil {
		return wire.AgentSettings{}, err
	}
	if err := CheckName(name); err != nil {
		return wire.AgentSettings{}, err
	}
	set, err := s.Store.AgentSettingsGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return wire.AgentSettings{Labels: map[string]string{}, Teams: []string{}}, nil
	}
	if err != nil {
		return set, fmt.Errorf("settings of agent %s: %w", name, err)
	}
	if set.Labels == nil {
		set.Labels = map[string]string{}
	}
	if set.Teams == nil {
		set.Teams = []string{}
	}
	return set, nil
}

// Configure sets a host's labels and teams, for site admins; the host
// need not have registered yet.
func (s *Service) Configure(ctx context.Context, name string, set wire.AgentSettings) error {
	if err := s.MayConfigure(ctx); err != nil {
		return err
	}
	if err := CheckName(name); err != nil {
		return err
	}
	for k, v := range set.Labels {
		if k == "" || len(k) > 63 || len(v) > 255 {
			return service.InvalidField("labels", fmt.Sprintf("label %q=%q: keys are 1-63 bytes, values at most 255", k, v))
		}
	}
	slices.Sort(set.Teams)
	set.Teams = slices.Compact(set.Teams)
	known, err := s.Store.TeamList(ctx)
	if err != nil {
		return fmt.Errorf("list teams: %w", err)
	}
	for _, t := range set.Teams {
		if !slices.Contains(known, t) {
			return service.InvalidField("teams", fmt.Sprintf("there is no team %q", t))
		}
	}
	if err := s.Store.AgentSettingsSet(ctx, name, set, service.Principal(ctx).Name); err != nil {
		return fmt.Errorf("set agent %s: %w", name, err)
	}
	service.Audit(ctx, s.Store, s.Log, "agent configured", "", "agent "+name,
		fmt.Sprintf("labels=%v teams=%v shared=%v", set.Labels, set.Teams, set.Shared))
	return nil
}

// Heartbeat records that agent name is alive, with its facts; only the
// agent itself (or a site admin) reports for it.
func (s *Service) Heartbeat(ctx context.Context, name string, hb wire.Heartbeat) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if p := service.Principal(ctx); !(p.Kind == auth.KindAgent && p.Name == name) && !p.SiteAdmin {
		return service.NotAllowed("only the agent " + name + " reports for itself")
	}
	if err := s.Store.AgentUpsert(ctx, name, hb); err != nil {
		return fmt.Errorf("record heartbeat of %s: %w", name, err)
	}
	return nil
}

// CheckName refuses a name no agent can have.
func CheckName(name string) error {
	if name == "" || len(name) > 128 || strings.ContainsAny(name, " /\t\n\x00") {
		return service.InvalidField("name", fmt.Sprintf("agent name %q is not valid", name))
	}
	return nil
}

// LateWrites is how long after its test ended an agent may still deliver
// for it (a batch held up by a server outage at the very end), as long
// as no other test has taken the host.
const LateWrites = 2 * time.Minute

// MayWrite lets an agent write only as itself, only for a test that holds
// its host now (setting up, running or collating), or that ended less than
// LateWrites ago while no other test holds the host. The ingest routes
// ask before they read a body.
func (s *Service) MayWrite(ctx context.Context, testID int64, host string) error {
	p := service.Principal(ctx)
	if p.Kind != auth.KindAgent || p.Name != host {
		return service.NotAllowed("only the agent of the host named in the batch writes it")
	}
	if testID <= 0 {
		return service.InvalidField("test_id", "test_id must be a positive number")
	}
	w, err := s.Store.TestHostWrite(ctx, testID, host)
	if errors.Is(err, store.ErrNotFound) {
		return service.Errorf(service.NotFound, "test_id", "no such test")
	}
	if err != nil {
		return fmt.Errorf("check host %s of test %d: %w", host, testID, err)
	}
	switch {
	case !w.Listed:
		return service.NotAllowed(fmt.Sprintf("test %d never held host %s", testID, host))
	case w.Holder != 0 && w.Holder != testID && !w.Series:
		return service.NotAllowed(fmt.Sprintf("host %s is held by test %d now, not test %d", host, w.Holder, testID))
	case w.State == wire.StateSetup || w.State == wire.StateRunning || w.State == wire.StateCollating:
		return nil
	case !w.Ended.IsZero() && time.Since(w.Ended) < LateWrites:
		return nil
	case !w.Ended.IsZero():
		return service.NotAllowed(fmt.Sprintf("test %d ended at %s and no longer takes writes from its hosts",
			testID, w.Ended.UTC().Format(time.RFC3339)))
	}
	return service.NotAllowed(fmt.Sprintf("test %d does not hold host %s (it is %s)", testID, host, w.State))
}

// Exclude keeps a host out of host picking, or lets it back, for site
// admins: a test that names the host still runs there (docs/noise.md).
func (s *Service) Exclude(ctx context.Context, name string, req wire.ExcludeRequest) error {
	if !service.Principal(ctx).SiteAdmin {
		return service.NotAllowed("only site admins exclude hosts")
	}
	if err := CheckName(name); err != nil {
		return err
	}
	if len(req.Reason) > 500 || strings.ContainsAny(req.Reason, "\x00\n\r") {
		return service.InvalidField("reason", "reason is one line of at most 500 bytes")
	}
	if !req.Excluded {
		req.Reason = ""
	}
	err := s.Store.AgentExclude(ctx, name, req.Excluded, req.Reason)
	if errors.Is(err, store.ErrNotFound) {
		return service.Errorf(service.NotFound, "name", "agent %q is not registered", name)
	}
	if err != nil {
		return fmt.Errorf("exclude agent %s: %w", name, err)
	}
	service.Audit(ctx, s.Store, s.Log, "agent excluded", "", "agent "+name, fmt.Sprintf("excluded=%v reason=%q", req.Excluded, req.Reason))
	return nil
}
