package changepoint

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The history: a 12% drop at run 15, one run after a value 40%
// below its neighbours. The drop is a change point, found as soon as enough
// runs follow it and as the history grows; the outlier is not one.
func TestStepBesideAnOutlierIsFound(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 99))
		x := series(r, 60, 0.02, map[int]float64{15: -0.12})
		x[14] *= 0.6
		require.Equal(t, []int{14}, Outliers(x, Defaults), "seed %d", seed)
		o := Defaults
		o.MinDeltaPct = 3
		for _, n := range []int{22, 30, 60} {
			got := strong(Detect(x[:n], o))
			require.Len(t, got, 1, "seed %d, %d runs: %+v", seed, n, got)
			require.InDelta(t, 15, got[0].Index, 1, "seed %d, %d runs", seed, n)
			require.InDelta(t, -12, got[0].DeltaPct, 2.5)
		}
		var known []Point
		for n := 2 * o.MinSize; n <= len(x); n++ {
			known = Append(x[:n], known, o)
		}
		require.Equal(t, Detect(x, o), known, "seed %d: appending run by run gives the whole run's answer", seed)
	}
}

// Single-run outliers and short bursts are flagged, never change points;
// the first run of a real step, and bimodal noise, are not outliers.
func TestOutliersAreNotChangePoints(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	x := series(r, 200, 0.02, nil)
	x[40] *= 0.6
	x[90] *= 1.5
	x[130], x[131] = x[130]*0.5, x[131]*0.55
	require.Equal(t, []int{40, 90, 130, 131}, Outliers(x, Defaults))
	require.Empty(t, Detect(x, Defaults))

	step := series(r, 200, 0.02, map[int]float64{100: 0.12})
	require.Empty(t, Outliers(step, Defaults))
	require.Len(t, Detect(step, Defaults), 1)

	bimodal := make([]float64, 300)
	for i := range bimodal {
		bimodal[i] = 100 * (1 + 0.03*float64(r.IntN(2))) * (1 + 0.003*r.NormFloat64())
	}
	require.Empty(t, Outliers(bimodal, Defaults))
}

// strong leaves out the weak change points.
func strong(pts []Point) []Point {
	var out []Point
	for _, p := range pts {
		if !p.Weak {
			out = append(out, p)
		}
	}
	return out
}

// A significant shift smaller than the minimum is kept, as weak.
func TestSmallShiftIsWeak(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(21, 22))
	x := series(r, 200, 0.005, map[int]float64{100: 0.015})
	o := Defaults
	o.MinDeltaPct = 3
	got := Detect(x, o)
	require.Len(t, got, 1, "%+v", got)
	require.True(t, got[0].Weak, "1.5%% under a 3%% threshold")
	require.InDelta(t, 100, got[0].Index, 2)
	o.MinDeltaPct = 1
	require.False(t, Detect(x, o)[0].Weak)
}

// A slow drift (+0.02% a run) in 2% noise moves the level by 6% over 300
// runs, but no stretch of it is a strong change point, as the series grows
// or at its end; a 6% step on top of it is.
func TestDriftIsNotAStrongChangePoint(t *testing.T) {
	t.Parallel()
	o := Defaults
	o.MinDeltaPct = 3
	drift := func(seed uint64, step int) []float64 {
		r := rand.New(rand.NewPCG(seed, 7))
		x := make([]float64, 300)
		for i := range x {
			level := 100 * (1 + 0.0002*float64(i))
			if step > 0 && i >= step {
				level *= 1.06
			}
			x[i] = level * (1 + 0.02*r.NormFloat64())
		}
		return x
	}
	for seed := range uint64(5) {
		x := drift(seed, 0)
		var known []Point
		for n := 2 * o.MinSize; n <= len(x); n++ {
			known = Append(x[:n], known, o)
			require.Empty(t, strong(known), "seed %d, %d runs", seed, n)
		}
		stepped := strong(Detect(drift(seed, 150), o))
		require.Len(t, stepped, 1, "seed %d: %+v", seed, stepped)
		require.InDelta(t, 150, stepped[0].Index, 5)
	}
}
