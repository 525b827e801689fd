package answer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/verdict"
	"github.com/pitwall/pitwall/internal/wire"
)

func kpi(name, v, method string, delta, lo, hi, p float64, baseTests ...int64) wire.KPIVerdict {
	return wire.KPIVerdict{Name: name, BaselineTests: baseTests, Result: verdict.Result{Verdict: v, Method: method,
		DeltaPct: delta, CILowPct: lo, CIHighPct: hi, PValue: p, CandidateN: 3, BaselineN: 18}}
}

func TestSummaryLeadsWithRegressions(t *testing.T) {
	tt := &wire.Test{Verdicts: []wire.KPIVerdict{
		kpi("mem", verdict.Unchanged, "welch-t", 0.3, -1, 1.5, 0.6, 1, 2, 3),
		kpi("p50", verdict.Regressed, "welch-t", 12.4, 10.2, 14.9, 1e-5, 1, 2, 3),
		kpi("p99", verdict.Regressed, "welch-t", 51.2, 48.1, 54.3, 1e-6, 1, 2, 3),
		kpi("rps", verdict.Improved, "prediction-interval", 4.26, -2.1, 2.1, -1, 1, 2, 3),
		kpi("new", verdict.NoBaseline, "none", 0, 0, 0, -1),
	}}
	require.Equal(t, "2 of 6 KPIs regressed: p99 +51% (99% CI +48..+54%), p50 +12% (99% CI +10..+15%); "+
		"1 improved: rps +4.3% (noise band -2.1..+2.1%); 1 unchanged; 1 without a baseline; "+
		"1 not judged (not declared in the framework).", Summary(tt, 6))
	require.Equal(t, "", Summary(&wire.Test{}, 2), "no verdict, no summary")
	tt.Verdicts = tt.Verdicts[:1]
	require.Equal(t, "No KPI regressed (1 judged); 1 unchanged.", Summary(tt, 1))
}

func TestEvidenceStrength(t *testing.T) {
	strong := kpi("a", verdict.Regressed, "welch-t", 50, 48, 54, 1e-6)
	level, why := Evidence(&strong, 6)
	require.Equal(t, Strong, level)
	require.Equal(t, "6 baseline tests, p=1e-06, n=3 vs 18", why)
	level, why = Evidence(&strong, 1)
	require.Equal(t, Weak, level, "one baseline test is weak whatever its p-value")
	require.Equal(t, "one baseline test, p=1e-06", why)
	moderate := kpi("a", verdict.Regressed, "welch-t", 8, 2, 14, 0.004)
	level, _ = Evidence(&moderate, 6)
	require.Equal(t, Moderate, level)
	threshold := kpi("a", verdict.Regressed, "threshold", 8, 8, 8, -1)
	level, why = Evidence(&threshold, 2)
	require.Equal(t, Weak, level)
	require.Contains(t, why, "threshold only")
	pi := kpi("a", verdict.Regressed, "prediction-interval", 8, -3, 3, -1)
	level, _ = Evidence(&pi, 12)
	require.Equal(t, Strong, level)
	level, _ = Evidence(&pi, 5)
	require.Equal(t, Moderate, level)
}

func TestDeltaColouredOnlyByVerdict(t *testing.T) {
	for v, want := range map[string]string{verdict.Regressed: "delta worse", verdict.Improved: "delta better",
		verdict.Unchanged: "delta", verdict.NoBaseline: "delta"} {
		k := kpi("a", v, "welch-t", 20, 10, 30, 0.5)
		require.Equal(t, want, DeltaClasses(&k), v)
	}
	require.Equal(t, "delta", DeltaClasses(nil))
}

func TestAnchorAndCompareURL(t *testing.T) {
	require.Equal(t, "kpi-p99_latency_ms_", Anchor("p99 latency(ms)"))
	require.Equal(t, "/compare?test=7#kpi-Latency-ms", CompareURL(7, "Latency-ms"))
	require.Equal(t, "/compare?test=7", CompareURL(7, ""))
}
