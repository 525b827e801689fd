package dashboard

import (
	"fmt"
	"sort"
	"time"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
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
}

// verdict is the verdict a test shows: a finished test judged before
// verdicts existed had no baseline (as the API says).
func verdict(t store.DashTest) string {
	if t.State == wire.StateFinished && t.Verdict == "" {
		return wire.VerdictNoBaseline
	}
	return t.Verdict
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

// waitReason says why a queued test has not started, in the API's words.
func waitReason(t store.DashTest) string {
	if t.State != wire.StateWaiting || t.WaitingFor == "" {
		return "waiting for the scheduler"
	}
	return "waiting for host " + t.WaitingFor
}

func testURL(id int64) string { return fmt.Sprintf("/tests/%d", id) }

// gib formats a byte count in GiB.
func gib(b int64) string {
	if b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
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
