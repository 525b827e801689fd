package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// startTest creates a test and returns it without waiting.
func startTest(t *testing.T, req wire.RunRequest) *wire.Test {
	t.Helper()
	body, _ := json.Marshal(req)
	var created wire.Test
	require.Equal(t, http.StatusCreated, st.Call(t, http.MethodPost, "/api/v1/tests", "application/json", body, &created))
	return &created
}

// waitFor polls a test until cond holds.
func waitFor(t *testing.T, id int64, what string, cond func(*wire.Test) bool) *wire.Test {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var got wire.Test
		require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d", id), "", nil, &got))
		if cond(&got) {
			return &got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("test %d: %s did not happen within a minute", id, what)
	return nil
}

func stageAt(t *testing.T, test *wire.Test, name string) time.Time {
	t.Helper()
	for _, s := range test.Timeline {
		if s.Stage == name {
			return s.At
		}
	}
	t.Fatalf("test %d has no stage %q: %+v", test.ID, name, test.Timeline)
	return time.Time{}
}

// Two tests on one host run one after the other, never overlapping, and
// the second says what it waits for while it waits.
func TestOneTestPerHost(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: exclusive
execution:
  script: "#!/bin/sh\nsleep 2\necho 'Slept, 2s' > results.csv\n"
  hosts: [%s]
`, agent3))
	first := startTest(t, wire.RunRequest{Framework: "exclusive"})
	waitFor(t, first.ID, "running", func(x *wire.Test) bool { return x.State == wire.StateRunning })
	second := startTest(t, wire.RunRequest{Framework: "exclusive"})
	waiting := waitFor(t, second.ID, "waiting", func(x *wire.Test) bool { return x.State == wire.StateWaiting })
	require.Equal(t, fmt.Sprintf("waiting for host %s, held by test %d", agent3, first.ID), waiting.Reason)
	require.Equal(t, agent3, waiting.WaitingFor)
	require.Equal(t, first.ID, waiting.HeldBy)

	var agents wire.List[wire.Agent]
	st.Call(t, http.MethodGet, "/api/v1/agents", "", nil, &agents)
	for _, a := range agents.Items {
		if a.Name == agent3 {
			require.Equal(t, first.ID, a.RunningTest, "the agents list says which test holds the host")
		}
	}

	a, b := st.Wait(t, first.ID), st.Wait(t, second.ID)
	require.Equal(t, wire.StateFinished, a.State, a.Reason)
	require.Equal(t, wire.StateFinished, b.State, b.Reason)
	require.False(t, stageAt(t, b, "script started").Before(stageAt(t, a, "script ended")),
		"the second script starts only after the first has ended")
	require.False(t, stageAt(t, b, "lease acquired "+agent3).Before(stageAt(t, a, "leases released")))
}

// A test needing hosts A+B and another needing B+A both finish, many times
// over: hosts are leased in name order, so they cannot deadlock.
func TestOverlappingHostSetsDoNotDeadlock(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: needs-ab
execution: {script: "#!/bin/sh\nsleep 0.2\n", hosts: [%s]}
statistics: {hosts: [%s, %s], interval: 100ms}
`, agent2, agent2, agent3))
	st.Apply(t, fmt.Sprintf(`
name: needs-ba
execution: {script: "#!/bin/sh\nsleep 0.2\n", hosts: [%s]}
statistics: {hosts: [%s, %s], interval: 100ms}
`, agent3, agent3, agent2))
	var ids []int64
	for range 3 {
		ids = append(ids, startTest(t, wire.RunRequest{Framework: "needs-ab"}).ID)
		ids = append(ids, startTest(t, wire.RunRequest{Framework: "needs-ba"}).ID)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			got := st.Wait(t, id)
			require.Equal(t, wire.StateFinished, got.State, got.Reason)
			require.ElementsMatch(t, []string{agent2, agent3}, got.Hosts)
		})
	}
	wg.Wait()
}
