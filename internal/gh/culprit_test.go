package gh

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/wire"
)

// The culprit's comment names the commit, the effect with its interval's
// confidence, the runs of each step and links to the bisection.
func TestCulpritComment(t *testing.T) {
	t.Parallel()
	c := &wire.Confirmation{ID: 12, Kind: wire.KindBisect, Framework: "api|bench", TestID: 40, BaseCommit: "c01",
		CandCommit: "c32", Host: "bench-01", KPIs: []wire.ConfirmKPI{{Name: "Latency"}},
		Commits: []string{"c01", "c02", "c03", "c04"},
		Bisect: &confirm.BisectResult{Outcome: confirm.Found, FirstBad: "c03", Good: "c02", Bad: "c03", Runs: 21,
			Candidates: []string{"c03"}, Steps: []confirm.StepReport{
				{Commit: "c02", Outcome: confirm.StepGood, Runs: 9, VsGood: confirm.Result{Decision: confirm.Same, ChangePct: 0.1},
					VsBad: confirm.Result{Decision: confirm.Different, ChangePct: 2.9}},
				{Commit: "c03", Outcome: confirm.StepBad, Runs: 12, VsBad: confirm.Result{Decision: confirm.Same, ChangePct: 0.2},
					VsGood: confirm.Result{Decision: confirm.Different, ChangePct: 3.04, CILowPct: 1.5, CIHighPct: 4.6, Confidence: 0.999, Pairs: 6, PValue: 0.0003}},
			}}}
	body := CulpritComment(c, "https://pitwall.example/confirmations/12")
	require.Contains(t, body, "### Pitwall bisected api\\|bench: the first bad commit is `c03`")
	require.Contains(t, body, "**Latency +3.04%** (99.9% confidence interval +1.50% .. +4.60%, 6 pairs, p = 0.0003) against `c02`.")
	require.Contains(t, body, "bisected over 4 commits in 2 steps and 21 runs, interleaved on `bench-01`")
	require.Contains(t, body, "| 1 | `c02` | good | 9 | +0.10% (same) | +2.90% (different) |")
	require.Contains(t, body, "| 2 | `c03` | bad | 12 | +3.04% (different) | +0.20% (same) |")
	require.Contains(t, body, "[Bisection #12](https://pitwall.example/confirmations/12)")

	c.Bisect = &confirm.BisectResult{Outcome: confirm.Range, Candidates: []string{"c02", "c03"}, Runs: 9}
	body = CulpritComment(c, "u")
	require.Contains(t, body, "the first bad commit is one of 2")
	require.Contains(t, body, "- `c02`\n- `c03`")
}
