package dashboard

import (
	"fmt"
	"sort"
	"time"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// model is what the dashboard draws.
type model struct {
	// Now is the server's clock, for elapsed times.
	Now     time.Time
	Running []store.DashTest
	Queue   []store.DashTest
	Recent  []store.DashTest
	// Agents is nil for principals that may not list agents.
	Agents     []wire.Agent
	ShowAgents bool
	// Alerts and ChangePoints are the open regressions the principal may
	// see (the whole page only, not its live part).
	Alerts       []wire.Alert
	ChangePoints []store.ChangePoint
}

// dur formats a duration for people: 4s, 2m05s, 1h02m.
func dur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// duration is how long an ended test took, from creation to its end.
func duration(t store.DashTest) string {
	if t.EndedAt == nil {
		return ""
	}
	return dur(t.EndedAt.Sub(t.CreatedAt))
}

// memory formats an agent's memory ("" when unknown).
func memory(b int64) string {
	if b <= 0 {
		return ""
	}
	return service.Bytes(b)
}

// isolation says how an agent runs scripts, as it reported it.
func isolation(f wire.Facts) string {
	if f.Isolation == "" {
		return "not reported (an agent older than per-test users)"
	}
	return f.Isolation
}

// labels lists an agent's labels as k=v, sorted.
func labels(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// agentsModel is the agents page: the agents, each host's latest noise
// floors, and whether the viewer may exclude hosts.
type agentsModel struct {
	Agents []wire.Agent
	Noise  map[string][]wire.NoiseKPI
	Admin  bool
	Notice string
}
