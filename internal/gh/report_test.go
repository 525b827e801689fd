package gh

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/verdict"
	"github.com/pitwall/pitwall/internal/wire"
)

func finished(id int64, overall string, kpis ...wire.KPIVerdict) *wire.Test {
	t := &wire.Test{ID: id, State: wire.StateFinished, Verdict: overall, BaselineTests: []int64{1, 2}}
	for _, k := range kpis {
		t.KPISummary = append(t.KPISummary, wire.KPISummary{Name: k.Name, Unit: "ms", Mean: 10 * (1 + k.DeltaPct/100)})
	}
	t.Verdicts = kpis
	return t
}

func kpi(name, v string, delta float64) wire.KPIVerdict {
	return wire.KPIVerdict{Name: name, Result: verdict.Result{Verdict: v, DeltaPct: delta, CILowPct: delta - 2, CIHighPct: delta + 2}}
}

// One regressed KPI among unchanged ones is on top, in bold, with the
// framework that has it, whatever the alphabet says; the status fails.
func TestCommentPutsRegressionsFirst(t *testing.T) {
	t.Parallel()
	slow := Result{Framework: "zeta", TestURL: "http://p/tests/9", CompareURL: "http://p/compare?ids=1,2,9",
		Baseline: map[string]float64{"Apdex": 10, "LatencyP50": 10, "Throughput": 10},
		Test: finished(9, wire.VerdictRegressed, kpi("Apdex", wire.VerdictUnchanged, 0.4),
			kpi("Throughput", wire.VerdictUnchanged, -1.1), kpi("LatencyP50", wire.VerdictRegressed, 19.1))}
	fine := Result{Framework: "alpha", TestURL: "http://p/tests/8",
		Test: finished(8, wire.VerdictUnchanged, kpi("A", wire.VerdictUnchanged, 0.2))}
	body := Comment("0123456789abcdef", "", []Result{fine, slow})
	t.Log("\n" + body)
	require.Contains(t, body, "### Pitwall: 🔴 1 of 2 frameworks regressed at `0123456789ab`")
	require.Less(t, strings.Index(body, "| zeta |"), strings.Index(body, "| alpha |"), "the regressed framework first")
	require.Contains(t, body, "**🔴 regressed: LatencyP50 +19.1%**")
	table := body[strings.Index(body, "#### zeta"):]
	require.Less(t, strings.Index(table, "LatencyP50"), strings.Index(table, "Apdex"), "the regressed KPI first")
	require.Contains(t, table, "| **LatencyP50 (ms)** | 10 | 11.91 | **+19.1% (+17.1% … +21.1%)** | **🔴 regressed** |")
	require.Contains(t, body, "[compare](http://p/compare?ids=1,2,9)")

	state, desc := Status(slow)
	require.Equal(t, StateFailure, state)
	require.Equal(t, "regressed: LatencyP50 +19.1%", desc)
	state, desc = Status(fine)
	require.Equal(t, StateSuccess, state)
	require.Equal(t, "unchanged: 1 unchanged", desc)
	state, _ = Status(Result{Test: &wire.Test{ID: 3, State: wire.StateRunning}})
	require.Equal(t, StatePending, state)
	state, desc = Status(Result{Test: &wire.Test{ID: 3, State: wire.StateFailed, Reason: "script exited 2"}})
	require.Equal(t, StateError, state)
	require.Equal(t, "test 3 failed: script exited 2", desc)
}

// Names cannot break the table or mention people; a comment past
// MaxComment ends with links to the frameworks left out, and a framework
// with more KPIs than MaxKPIRows links to the rest.
func TestCommentIsBounded(t *testing.T) {
	t.Parallel()
	require.Equal(t, `a\|b &lt;img&gt; @`+"\u200b"+`team 'x'`, Cell("a|b <img>\n@team `x`"))
	var many []wire.KPIVerdict
	for i := range 40 {
		many = append(many, kpi(fmt.Sprintf("K%02d", i), wire.VerdictUnchanged, 0.1))
	}
	var rs []Result
	for i := range 300 {
		rs = append(rs, Result{Framework: fmt.Sprintf("fw-%03d", i), TestURL: fmt.Sprintf("http://p/tests/%d", i),
			Test: finished(int64(i), wire.VerdictUnchanged, many...)})
	}
	body := Comment("abc", "", rs)
	require.Less(t, len(body), 65536, "GitHub's limit")
	require.Contains(t, body, "15 more KPIs: [all of them](http://p/tests/0)")
	require.Contains(t, body, "**More results than fit in a comment:**")
	require.Contains(t, body, "and ")
	require.Contains(t, body, " more\n")
}
