package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// A busy host: one test holds it, three low-priority tests queue, then a
// high one. The high one runs next; while it runs another high one
// queues, but the first low one has by then waited the package's
// promotion limit (priorityMaxWait), so it goes first and its timeline and
// page say it was promoted. Not parallel: the order on the host is the
// point, and other tests' tests would join its queue.
func TestPriorityServesHighFirstAndPromotesTheStarved(t *testing.T) {
	applySleeper(t, "prio-work", "1")
	run := func(secs, priority string) *wire.Test {
		return startTest(t, wire.RunRequest{Framework: "prio-work", Params: map[string]string{"secs": secs}, Priority: priority})
	}
	waiting := func(x *wire.Test) bool { return x.State == wire.StateWaiting }

	holder := run("3", "")
	require.Equal(t, wire.PriorityNormal, holder.Priority, "normal by default")
	waitFor(t, holder.ID, "running", func(x *wire.Test) bool { return x.State == wire.StateRunning })
	var lows []*wire.Test
	for range 3 {
		// One through the starter, to check its flag.
		r := starter(t, "run", "prio-work", "-p", "secs=1", "--priority", "low", "--json")
		require.Equal(t, 0, r.Code, r.Stderr)
		var low wire.Test
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &low))
		require.Equal(t, wire.PriorityLow, low.Priority)
		lows = append(lows, waitFor(t, low.ID, "waiting", waiting))
	}
	high := run("4", wire.PriorityHigh)
	waitFor(t, high.ID, "waiting", waiting)
	waitFor(t, high.ID, "running", func(x *wire.Test) bool { return x.State == wire.StateRunning || wire.Ended(x.State) })
	high2 := run("1", wire.PriorityHigh)
	waitFor(t, high2.ID, "waiting", waiting)

	lease := "lease acquired " + agent3
	type ran struct {
		name string
		test *wire.Test
		at   time.Time
	}
	var order []ran
	for i, x := range []*wire.Test{holder, lows[0], lows[1], lows[2], high, high2} {
		name := []string{"holder", "low-1", "low-2", "low-3", "high-1", "high-2"}[i]
		got := st.Wait(t, x.ID)
		require.Equal(t, wire.StateFinished, got.State, got.Reason)
		order = append(order, ran{name, got, stageAt(t, got, lease)})
	}
	slices.SortFunc(order, func(a, b ran) int { return a.at.Compare(b.at) })
	var names []string
	for _, r := range order {
		names = append(names, r.name)
		var promo string
		for _, s := range r.test.Timeline {
			if s.Stage == wire.StagePromoted {
				promo = " — " + s.Stage + ": " + s.Reason
			}
		}
		t.Logf("#%d %-6s %-6s lease at %s%s", r.test.ID, r.name, r.test.Priority, r.at.Format("15:04:05.000"), promo)
	}
	require.Equal(t, []string{"holder", "high-1", "low-1"}, names[:3],
		"the high test goes before the lows queued before it; then the first low one, overdue, before high-2")

	low := order[2].test
	var promoted *wire.Stage
	for i, s := range low.Timeline {
		if s.Stage == wire.StagePromoted {
			promoted = &low.Timeline[i]
		}
	}
	require.NotNil(t, promoted, "the promotion is on the timeline: %+v", low.Timeline)
	require.Regexp(t, `^waited \d+s for host `+agent3+` behind higher-priority tests$`, promoted.Reason)
	for _, r := range order {
		if r.name == "holder" || r.name == "high-1" {
			require.NotContains(t, stages(r.test), wire.StagePromoted, r.name)
		}
	}
	// It waited its limit and then only for the test holding the host.
	waited := stageAt(t, low, lease).Sub(stageAt(t, low, wire.StateWaiting))
	require.Less(t, waited, priorityMaxWait+4*time.Second+5*time.Second, "low-1 ran within its limit plus high-1's run")

	code, page := st.Page(t, fmt.Sprintf("/tests/%d", low.ID))
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `id="promoted"`)
	require.Contains(t, page, "<dt>Priority</dt><dd>low</dd>")
	require.True(t, strings.Contains(page, promoted.Reason), "the page shows the promotion's reason")

	recordHistory(t, low.WorkflowID, "perftest-take-promoted.json")
}

// applySleeper applies a framework whose script sleeps secs seconds (its
// parameter's default) on agent3.
func applySleeper(t *testing.T, name, secs string) {
	st.Apply(t, fmt.Sprintf(`
name: %s
execution: {script: "#!/bin/sh\nsleep \"$1\"\n", hosts: [%s]}
parameters: [{name: secs, default: "%s"}]
`, name, agent3, secs))
}

func stages(t *wire.Test) []string {
	var out []string
	for _, s := range t.Timeline {
		out = append(out, s.Stage)
	}
	return out
}
