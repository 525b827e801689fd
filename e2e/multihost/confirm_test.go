package multihost

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// confirmFramework is a multi-host framework that can run any commit
// (its scripts read PITWALL_COMMIT): a service on sutHost and two load
// hosts chosen by count, each reporting a throughput of 100 req/s, 130 at
// commit "fast", times 1 + 1% of a normal draw seeded by the test and the
// host, summed over the load hosts.
func confirmFramework(name string) string {
	return fmt.Sprintf(`
name: %[1]s
execution:
  timeout: 2m
roles:
  - name: sut
    hosts: [%[2]s]
    serve: true
    script: |
      #!/bin/sh
      touch ready
      exec sleep 600
  - name: load
    count: 2
    script: |
      #!/bin/sh
      awk -v commit="$PITWALL_COMMIT" -v id="$PITWALL_TEST_ID" -v i="$PITWALL_ROLE_INDEX" 'BEGIN {
        srand((id * 7919 + i * 104729 + 17) %% 2147483647); rand(); base = 100; if (commit == "fast") base = 130
        u1 = rand(); u2 = rand(); if (u1 < 1e-12) u1 = 1e-12
        z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2)
        printf "Throughput, %%.4freq/s\n", base * (1 + 0.01 * z) }' > results.csv
    merge:
      - {kpi: Throughput, how: sum}
kpis:
  - {name: Throughput, unit: req/s, better: higher, threshold: 5%%}
confirm: {checkout: true}
`, name, sutHost)
}

// A multi-host test can be confirmed: the confirmation picks the roles'
// hosts once (the confirmed test's), leases all of them for the series,
// and runs the two commits as child tests interleaved on that same set of
// hosts, each role on the same host every run, until a verdict.
func TestConfirmMultiHost(t *testing.T) {
	const name = "roles-confirm"
	st.Apply(t, confirmFramework(name))
	base := st.Run(t, wire.RunRequest{Framework: name, Commit: "slow", Baseline: true})
	require.Equal(t, wire.StateFinished, base.State, base.Reason)
	test := st.Run(t, wire.RunRequest{Framework: name, Commit: "fast"})
	require.Equal(t, wire.StateFinished, test.State, test.Reason)
	hosts := slices.Sorted(slices.Values(test.Hosts))
	require.Len(t, hosts, 3, "the test ran on every agent")

	body, _ := json.Marshal(wire.ConfirmRequest{KPIs: []string{"Throughput"}, BaseTest: base.ID, Budget: 6})
	var c wire.Confirmation
	require.Equal(t, http.StatusCreated, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/confirm", test.ID),
		"application/json", body, &c))
	deadline := time.Now().Add(4 * time.Minute)
	for c.State == wire.ConfirmRunning {
		require.True(t, time.Now().Before(deadline), "confirmation %d still running: %d runs", c.ID, len(c.Runs))
		time.Sleep(300 * time.Millisecond)
		require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/confirmations/%d", c.ID), "", nil, &c))
	}
	t.Logf("confirmation %d: %s after %d runs: %s", c.ID, c.State, len(c.Runs), c.Reason)
	// 30% better is no regression: the sequential test says so.
	require.Equal(t, wire.ConfirmNotConfirmed, c.State, c.Reason)
	require.Len(t, c.Outcomes, 1)
	require.Greater(t, c.Outcomes[0].ChangePct, 20.0, "B (fast) measured about 30%% more than A: %+v", c.Outcomes[0])
	require.GreaterOrEqual(t, len(c.Runs), 4)

	// Every run was a multi-host child test on the same hosts as the
	// confirmed test, each role on the same host, in ABBA order.
	var order string
	var loadHosts []string
	for _, r := range c.Runs {
		x := st.Wait(t, r.TestID)
		require.Equal(t, wire.StateFinished, x.State, x.Reason)
		require.Equal(t, hosts, slices.Sorted(slices.Values(x.Hosts)), "run %d played on the confirmed test's hosts", x.ID)
		require.Equal(t, sutHost, x.Host, "the service role's host leads every run")
		var perHost []string
		for _, k := range x.KPIs {
			if len(k.Name) > len("Throughput@") && k.Name[:len("Throughput@")] == "Throughput@" {
				perHost = append(perHost, k.Name[len("Throughput@"):])
			}
		}
		slices.Sort(perHost)
		require.Len(t, perHost, 2, "run %d merged two load hosts: %+v", x.ID, x.KPIs)
		if loadHosts == nil {
			loadHosts = perHost
		}
		require.Equal(t, loadHosts, perHost, "the load role played on the same two hosts every run")
		stageAt(t, x, "hosts chosen")
		order += r.Arm
	}
	require.Equal(t, "ABBAABBAABBA"[:len(order)], order)
	st.RecordHistory(t, contract.WorkflowID(c.Runs[0].TestID), "../../workflows/testdata/perftest-take-multihost-confirmed.json")
	st.RecordHistory(t, contract.ConfirmWorkflowID(c.ID), "../../workflows/testdata/confirm-take-multihost.json")
	t.Logf("runs %s on %v (load on %v)", order, hosts, loadHosts)
}
