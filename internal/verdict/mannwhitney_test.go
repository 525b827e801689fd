package verdict

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Exact p-values of small samples without ties, as tables of U give them
// (and scipy.stats.mannwhitneyu(method="exact") computes).
func TestMannWhitneyExact(t *testing.T) {
	t.Parallel()
	p, d := MannWhitney([]float64{1, 2, 3}, []float64{4, 5, 6})
	require.InDelta(t, 0.1, p, 1e-12) // 2 × 1/20
	require.Equal(t, -1.0, d)
	p, d = MannWhitney([]float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5})
	require.InDelta(t, 2.0/252, p, 1e-12)
	require.Equal(t, 1.0, d)
	// Interleaved: U = 6 of 16; P(U <= 6) = 24/70.
	p, d = MannWhitney([]float64{1, 3, 5, 7}, []float64{2, 4, 6, 8})
	require.InDelta(t, 48.0/70, p, 1e-12)
	require.InDelta(t, -0.25, d, 1e-12)
}

// Large or tied samples use the normal approximation.
func TestMannWhitneyApproximate(t *testing.T) {
	t.Parallel()
	var a, b, same []float64
	for i := range 30 {
		a = append(a, float64(i))
		b = append(b, float64(i+15))
		same = append(same, float64(i%5)) // ties
	}
	p, d := MannWhitney(a, b)
	require.Less(t, p, 0.001)
	require.InDelta(t, -0.75, d, 1e-12)
	p, d = MannWhitney(same, same)
	require.InDelta(t, 1, p, 1e-9)
	require.Zero(t, d)
}

// A KPI that asks for the rank test gets it, and the evidence says so.
func TestDecideWithMannWhitney(t *testing.T) {
	t.Parallel()
	base := []float64{10, 10.2, 9.9, 10.1, 10, 9.8, 10.3, 10.1, 9.9, 10}
	slow := []float64{12, 12.3, 11.9, 12.1, 12.2, 11.8, 12, 12.4, 12.1, 12}
	r := Decide(Input{Candidate: slow, Baseline: base, BaselineMeans: []float64{10}, LowerIsBetter: true,
		Threshold: 0.05, Method: MethodMannWhitney})
	require.Equal(t, MethodMannWhitney, r.Method)
	require.Equal(t, Regressed, r.Verdict)
	require.Less(t, r.PValue, 0.01)
	require.InDelta(t, 20, r.DeltaPct, 1)
	require.Contains(t, r.Evidence, "Mann-Whitney U")
	require.Contains(t, r.Evidence, "Cliff's delta +1.00")

	r = Decide(Input{Candidate: base[:5], Baseline: base[5:], BaselineMeans: []float64{10}, LowerIsBetter: true,
		Threshold: 0.05, Method: MethodMannWhitney})
	require.Equal(t, Unchanged, r.Verdict)
}
