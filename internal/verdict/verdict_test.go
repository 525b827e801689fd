package verdict

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func noisy(r *rand.Rand, n int, mean, sd float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + r.NormFloat64()*sd
	}
	return out
}

func TestWelchFindsAClearRegression(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	base := noisy(r, 10, 100, 2)
	res := Decide(Input{Candidate: noisy(r, 10, 110, 2), Baseline: base, BaselineMeans: []float64{100}, LowerIsBetter: true, Threshold: 0.05})
	require.Equal(t, Regressed, res.Verdict, res.Evidence)
	require.Equal(t, "welch-t", res.Method)
	require.InDelta(t, 10, res.DeltaPct, 3)
	require.Less(t, res.PValue, 0.001)
	require.Less(t, res.CILowPct, res.DeltaPct)
	require.Greater(t, res.CIHighPct, res.DeltaPct)

	higher := Decide(Input{Candidate: noisy(r, 10, 110, 2), Baseline: base, BaselineMeans: []float64{100}, LowerIsBetter: false, Threshold: 0.05})
	require.Equal(t, Improved, higher.Verdict, "the same change is good when higher is better")
}

func TestWelchDoesNotCryWolf(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	regressions := 0
	for range 200 {
		res := Decide(Input{Candidate: noisy(r, 5, 100, 5), Baseline: noisy(r, 10, 100, 5), BaselineMeans: []float64{100}, LowerIsBetter: true, Threshold: 0.03})
		if res.Verdict == Regressed {
			regressions++
		}
	}
	// At 99% two-sided confidence, about 0.5% of unchanged runs land on the
	// worse side by chance; the threshold takes some of those away.
	require.LessOrEqual(t, regressions, 10, "no change: false regressions in 200 runs: %d", regressions)
}

func TestSmallChangeBelowThresholdIsUnchanged(t *testing.T) {
	t.Parallel()
	res := Decide(Input{Candidate: []float64{102, 102.1, 101.9}, Baseline: []float64{100, 100.1, 99.9}, BaselineMeans: []float64{100},
		LowerIsBetter: true, Threshold: 0.05})
	require.Less(t, res.PValue, 0.05, "significant ...")
	require.Equal(t, Unchanged, res.Verdict, "... but 2%% is below the 5%% threshold")
}

func TestPredictionIntervalUsesTheBaselinesNoise(t *testing.T) {
	t.Parallel()
	history := []float64{100, 104, 97, 101, 99, 103, 96, 100}
	inside := Decide(Input{Candidate: []float64{106}, BaselineMeans: history, LowerIsBetter: true, Threshold: 0.02})
	require.Equal(t, Unchanged, inside.Verdict, "6%% is within this noisy history: %s", inside.Evidence)
	require.Equal(t, "prediction-interval", inside.Method)
	outside := Decide(Input{Candidate: []float64{115}, BaselineMeans: history, LowerIsBetter: true, Threshold: 0.02})
	require.Equal(t, Regressed, outside.Verdict, outside.Evidence)
	quiet := []float64{100, 100.2, 99.9, 100.1, 100}
	small := Decide(Input{Candidate: []float64{103}, BaselineMeans: quiet, LowerIsBetter: true, Threshold: 0.02})
	require.Equal(t, Regressed, small.Verdict, "3%% stands out of a quiet history: %s", small.Evidence)
}

func TestFewBaselinesFallBackToTheThreshold(t *testing.T) {
	t.Parallel()
	res := Decide(Input{Candidate: []float64{120}, BaselineMeans: []float64{100}, LowerIsBetter: true, Threshold: 0.05})
	require.Equal(t, Regressed, res.Verdict)
	require.Equal(t, "threshold", res.Method)
	require.Equal(t, NoBaseline, Decide(Input{Candidate: []float64{1}}).Verdict)
}

// With one baseline test, a 10% change beyond the 5% threshold is a
// regression by the threshold alone; on a host whose noise floor is a 5%
// CV it is within the 99% interval (±18.2%) and unchanged, while a 25%
// change still stands out. A quiet host (1% CV) keeps the 10% regression.
func TestFewBaselinesUseTheHostsNoiseFloor(t *testing.T) {
	t.Parallel()
	in := Input{Candidate: []float64{110}, BaselineMeans: []float64{100}, LowerIsBetter: true, Threshold: 0.05}
	require.Equal(t, Regressed, Decide(in).Verdict)
	in.NoiseCV = 0.05
	res := Decide(in)
	require.Equal(t, Unchanged, res.Verdict, res.Evidence)
	require.Equal(t, "noise-floor", res.Method)
	require.InDelta(t, 18.22, res.CIHighPct, 0.01)
	require.InDelta(t, -18.22, res.CILowPct, 0.01)
	require.Contains(t, res.Evidence, "noise floor (CV 5.00%)")
	in.Candidate = []float64{125}
	require.Equal(t, Regressed, Decide(in).Verdict)
	in.Candidate, in.NoiseCV = []float64{110}, 0.01
	require.Equal(t, Regressed, Decide(in).Verdict)
	// Enough baseline tests: their own spread decides, as before.
	in.BaselineMeans, in.NoiseCV = []float64{100, 101, 99, 100}, 0.05
	require.Equal(t, "prediction-interval", Decide(in).Method)
}

func TestOverall(t *testing.T) {
	t.Parallel()
	require.Equal(t, Regressed, Overall([]string{Improved, Regressed, Unchanged}))
	require.Equal(t, Improved, Overall([]string{Unchanged, Improved}))
	require.Equal(t, Unchanged, Overall([]string{NoBaseline, Unchanged}))
	require.Equal(t, NoBaseline, Overall([]string{NoBaseline}))
	require.Equal(t, NoBaseline, Overall(nil))
}

// Welch's t-test on the textbook data of Welch's t-test's first example
// (two samples of 15; t = -2.46, ν ≈ 24.9, p = 0.021).
func TestWelchMatchesTheTextbook(t *testing.T) {
	t.Parallel()
	a1 := []float64{27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4}
	a2 := []float64{27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4}
	res := Decide(Input{Candidate: a1, Baseline: a2, BaselineMeans: []float64{22.9}, LowerIsBetter: true})
	require.Equal(t, "welch-t", res.Method)
	require.InDelta(t, 0.021, res.PValue, 0.001)
}

// The prediction interval by hand: baseline 10, 12, 14 (mean 12, s = 2),
// t(2, 0.995) = 9.925, half-width 9.925 · 2 · √(1 + 1/3) = 22.92, so the
// interval is -22.92/12 = -191.0% .. +191.0% around the mean.
func TestPredictionIntervalByHand(t *testing.T) {
	t.Parallel()
	res := Decide(Input{Candidate: []float64{30}, BaselineMeans: []float64{10, 12, 14}, LowerIsBetter: true})
	require.Equal(t, "prediction-interval", res.Method)
	require.InDelta(t, -191.0, res.CILowPct, 0.2)
	require.InDelta(t, 191.0, res.CIHighPct, 0.2)
	require.Equal(t, Unchanged, res.Verdict, "30 is inside 12 ± 22.9")
	require.InDelta(t, 150, res.DeltaPct, 1e-9)
}

// Properties: a constant series never alerts; a 20% shift with low noise always does.
func TestVerdictProperties(t *testing.T) {
	t.Parallel()
	for _, v := range []float64{0.001, 1, 100, 1e9} {
		flat := []float64{v, v, v, v, v}
		require.Equal(t, Unchanged, Decide(Input{Candidate: flat, Baseline: flat, BaselineMeans: flat, LowerIsBetter: true}).Verdict)
		require.Equal(t, Unchanged, Decide(Input{Candidate: []float64{v}, BaselineMeans: flat, LowerIsBetter: true}).Verdict)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		base := noisy(r, 10, 100, 0.5)
		require.Equal(t, Regressed, Decide(Input{Candidate: noisy(r, 5, 120, 0.5), Baseline: base, BaselineMeans: base, LowerIsBetter: true, Threshold: 0.05}).Verdict)
		require.Equal(t, Regressed, Decide(Input{Candidate: noisy(r, 1, 120, 0.5), BaselineMeans: base, LowerIsBetter: true, Threshold: 0.05}).Verdict)
	}
}
