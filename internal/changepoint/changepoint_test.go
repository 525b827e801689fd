package changepoint

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// series builds a noisy series with level shifts at the given indexes.
func series(r *rand.Rand, n int, noisePct float64, steps map[int]float64) []float64 {
	x := make([]float64, n)
	level := 100.0
	for i := range n {
		if s, ok := steps[i]; ok {
			level *= 1 + s
		}
		x[i] = level * (1 + r.NormFloat64()*noisePct)
	}
	return x
}

func TestFindsStepsInNoise(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	x := series(r, 300, 0.02, map[int]float64{100: 0.05, 200: -0.08})
	got := Detect(x, Defaults)
	require.Len(t, got, 2, "%+v", got)
	require.InDelta(t, 100, got[0].Index, 3)
	require.InDelta(t, 200, got[1].Index, 3)
	require.InDelta(t, 5, got[0].DeltaPct, 1.5)
	require.InDelta(t, -8, got[1].DeltaPct, 1.5)
	require.Less(t, got[0].PValue, 0.001)
}

func TestQuietSeriesHasNoChangePoint(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 10))
	require.Empty(t, Detect(series(r, 500, 0.02, nil), Defaults))
	require.Empty(t, Detect([]float64{1, 2}, Defaults))
	require.Empty(t, Detect(make([]float64, 50), Defaults), "constant series")
}

func TestAppendKeepsEarlierChangePoints(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 12))
	x := series(r, 260, 0.02, map[int]float64{100: 0.06, 220: 0.06})
	known := Detect(x[:200], Defaults)
	require.Len(t, known, 1)
	got := Append(x, known, Defaults)
	require.Len(t, got, 2)
	require.Equal(t, known[0].Index, got[0].Index, "the earlier change point stands")
	require.InDelta(t, 220, got[1].Index, 3)
	require.Equal(t, Detect(x, Defaults)[1].Index, got[1].Index, "same answer as a full run")
}

func BenchmarkDetect1000(b *testing.B) { benchDetect(b, 1000) }
func BenchmarkDetect5000(b *testing.B) { benchDetect(b, 5000) }

func benchDetect(b *testing.B, n int) {
	r := rand.New(rand.NewPCG(1, 1))
	x := series(r, n, 0.02, map[int]float64{n / 3: 0.05, 2 * n / 3: -0.05})
	for b.Loop() {
		Detect(x, Defaults)
	}
}

func BenchmarkAppendOne(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := series(r, 5001, 0.02, map[int]float64{1500: 0.05, 4900: -0.05})
	known := Detect(x[:5000], Defaults)
	b.ResetTimer()
	for b.Loop() {
		Append(x, known, Defaults)
	}
}

func TestConstantSeriesNeverAlertsAndBigShiftsAlwaysDo(t *testing.T) {
	t.Parallel()
	for _, v := range []float64{0, 1, 123.4} {
		x := make([]float64, 100)
		for i := range x {
			x[i] = v
		}
		require.Empty(t, Detect(x, Defaults))
	}
	// The shift is always found where it is; elsewhere the noise makes
	// a change point seldom (about 0.07 per 200 points, see the accuracy
	// command), so 50 series of 120 points may show one or two.
	r := rand.New(rand.NewPCG(21, 22))
	others := 0
	for range 50 {
		x := series(r, 120, 0.005, map[int]float64{60: 0.20})
		got := Detect(x, Defaults)
		found := false
		for _, p := range got {
			if p.Index == 60 {
				found = true
				require.InDelta(t, 20, p.DeltaPct, 1)
			} else {
				others++
			}
		}
		require.True(t, found, "%+v", got)
	}
	require.LessOrEqual(t, others, 3)
}

// Appending one point at a time, as tests arrive, ends with the change
// points a full run finds, and an append touches only the tail.
func TestAppendingPointByPointMatchesAFullRun(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(31, 32))
	x := series(r, 600, 0.02, map[int]float64{120: 0.05, 250: -0.06, 400: 0.08, 520: -0.05})
	var known []Point
	for n := 1; n <= len(x); n++ {
		known = Append(x[:n], known, Defaults)
	}
	full := Detect(x, Defaults)
	require.Len(t, known, 4, "%+v", known)
	require.Len(t, full, 4, "%+v", full)
	for i, want := range []int{120, 250, 400, 520} {
		require.InDelta(t, want, known[i].Index, 3)
		require.Equal(t, full[i].Index, known[i].Index)
	}
}

// BenchmarkOutliers365 is the trends page's outlier pass over a year of
// daily tests.
func BenchmarkOutliers365(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := series(r, 365, 0.02, map[int]float64{120: 0.05, 250: -0.05})
	for b.Loop() {
		Outliers(x, Defaults)
	}
}
