package confirm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func aaSeries(r *rand.Rand, n int, cv float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = 100 * (1 + cv*r.NormFloat64())
	}
	return x
}

func TestCV(t *testing.T) {
	t.Parallel()
	// 9, 10, 11: sd 1, mean 10.
	f := CV([]float64{9, 10, 11}, 0.95)
	require.InDelta(t, 0.1, f.CV, 1e-12)
	require.Less(t, f.Low, f.CV)
	require.Greater(t, f.High, 3*f.CV, "two degrees of freedom say little")
	require.Equal(t, 3, f.N)
	require.True(t, math.IsNaN(CV([]float64{5}, 0.95).CV))
	require.True(t, math.IsNaN(CV([]float64{-1, 1}, 0.95).CV))
}

// Issue 21: an A/A series with injected CV c gives an estimate within 20%
// of c (50 runs: in about 95% of series), and the interval holds c at its
// level.
func TestCVOfInjectedNoise(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(6, 21))
	const n = 1000
	for _, c := range []float64{0.005, 0.02, 0.05} {
		within, covered := 0, 0
		for range n {
			f := CV(aaSeries(r, 50, c), 0.95)
			if math.Abs(f.CV-c) <= 0.2*c {
				within++
			}
			if f.Low <= c && c <= f.High {
				covered++
			}
		}
		require.GreaterOrEqual(t, within, n*92/100, "c=%g", c)
		require.InDelta(t, 0.95, float64(covered)/n, slack(0.05, n), "c=%g", c)
	}
}

func TestNoiseJumped(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 21))
	const n, alpha = 1000, 0.01
	history := func(cv float64) [][]float64 {
		// Each A/A series about its own level, as of different commits.
		var h [][]float64
		for i := range 4 {
			s := aaSeries(r, 20, cv)
			for k := range s {
				s[k] *= 1 + 0.1*float64(i)
			}
			h = append(h, s)
		}
		return h
	}
	same, doubled := 0, 0
	for range n {
		if NoiseJumped(history(0.01), aaSeries(r, 20, 0.01), alpha).Jumped {
			same++
		}
		if NoiseJumped(history(0.01), aaSeries(r, 20, 0.02), alpha).Jumped {
			doubled++
		}
	}
	require.Less(t, float64(same)/n, alpha+slack(alpha, n), "a host as noisy as before is rarely flagged")
	require.Greater(t, doubled, n*90/100, "a host twice as noisy is flagged")

	j := NoiseJumped(history(0.01), aaSeries(r, 20, 0.03), alpha)
	require.True(t, j.Jumped)
	require.GreaterOrEqual(t, j.Ratio, MinJump)
	require.Contains(t, j.Evidence, "over 20 recent runs against")
	require.Contains(t, j.Evidence, "over 80 runs of history")

	// Significant but slight: a long history makes a 10% rise significant,
	// not a jump.
	var long [][]float64
	for range 200 {
		long = append(long, aaSeries(r, 50, 0.01))
	}
	var recent []float64
	for range 20 {
		recent = append(recent, aaSeries(r, 50, 0.011)...)
	}
	require.False(t, NoiseJumped(long, recent, alpha).Jumped)

	require.False(t, NoiseJumped(nil, aaSeries(r, 20, 0.05), alpha).Jumped)
	require.Equal(t, "too few runs to compare", NoiseJumped(history(0.01), []float64{1}, alpha).Evidence)
}
