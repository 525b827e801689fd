package accuracy

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// seeds is how many series of each generator the tests check.
const seeds = 200

// each calls check on series made by gen from seeds seeds.
func each(t *testing.T, gen func(r *rand.Rand) Series, check func(t *testing.T, s Series)) {
	t.Helper()
	for seed := range uint64(seeds) {
		s := gen(rand.New(rand.NewPCG(seed, 3)))
		checkCommon(t, s)
		check(t, s)
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
}

// checkCommon checks what every series claims: its length, that the level
// moves only by the drift and at its steps and by their sizes, and that
// values away from outliers and bursts lie within the noise of the level.
func checkCommon(t *testing.T, s Series) {
	t.Helper()
	n := len(s.Values)
	require.Len(t, s.Level, n)
	require.GreaterOrEqual(t, n, MinRuns)
	require.LessOrEqual(t, n, MaxRuns)
	require.Positive(t, s.Noise)
	steps := map[int]float64{}
	for _, st := range s.Steps {
		steps[st.Index] = st.Size
	}
	require.Len(t, steps, len(s.Steps), "one step per run at most")
	require.InDelta(t, 100, s.Level[0], 1e-9, "the level starts at 100")
	// The drift is the ratio between the first two runs without a step
	// between them: no generator puts one on both run 1 and run 2.
	d := 1
	if _, ok := steps[1]; ok {
		d = 2
	}
	drift := s.Level[d] / s.Level[d-1]
	for i := 1; i < n; i++ {
		want := drift * (1 + steps[i])
		require.InDelta(t, want, s.Level[i]/s.Level[i-1], 1e-9, "level ratio at run %d", i)
	}
	off := map[int]bool{}
	for _, o := range s.Outliers {
		off[o] = true
	}
	for _, b := range s.Bursts {
		for i := b.Start; i < b.Start+b.Len; i++ {
			off[i] = true
		}
	}
	for i, v := range s.Values {
		if !off[i] {
			require.InDelta(t, 1, v/s.Level[i], 6*s.Noise, "run %d is within 6 sd of the level", i)
		}
	}
}

func TestEarlyStep(t *testing.T) {
	t.Parallel()
	signs := map[float64]int{}
	each(t, EarlyStep, func(t *testing.T, s Series) {
		require.Len(t, s.Steps, 1)
		st := s.Steps[0]
		require.GreaterOrEqual(t, st.Index, EarlyFrom)
		require.LessOrEqual(t, st.Index, EarlyTo)
		require.Less(t, st.Index, EarlyRuns)
		require.InDelta(t, 0.12, math.Abs(st.Size), 1e-12)
		require.InDelta(t, 0.02, s.Noise, 1e-12)
		require.True(t, s.ShouldFind(st))
		require.Empty(t, s.Outliers)
		require.Empty(t, s.Bursts)
		require.Equal(t, s.Level[0], s.Level[st.Index-1], "flat before the step")
		signs[math.Copysign(1, st.Size)]++
	})
	require.Len(t, signs, 2, "steps go both ways")
}

func TestStepBesideOutlier(t *testing.T) {
	t.Parallel()
	each(t, StepBesideOutlier, func(t *testing.T, s Series) {
		require.Len(t, s.Steps, 1)
		st := s.Steps[0]
		require.GreaterOrEqual(t, st.Index, BesideFrom)
		require.LessOrEqual(t, st.Index, BesideTo)
		require.InDelta(t, 0.12, math.Abs(st.Size), 1e-12)
		require.Equal(t, []int{st.Index - 1}, s.Outliers, "the outlier is the run just before the step")
		o := st.Index - 1
		require.InDelta(t, 0.6, s.Values[o]/s.Level[o], 0.6*6*s.Noise, "40%% below its level")
		require.Less(t, s.Values[o], 0.8*s.Values[o-1], "well below the run before")
		require.Less(t, s.Values[o], 0.8*s.Values[o+1], "and the run after")
	})
}

func TestDrift(t *testing.T) {
	t.Parallel()
	each(t, func(r *rand.Rand) Series { return Drift(r, false) }, func(t *testing.T, s Series) {
		require.Empty(t, s.Steps)
		require.Empty(t, s.Outliers)
		n := len(s.Level)
		require.InDelta(t, math.Pow(1.0002, float64(n-1)), s.Level[n-1]/s.Level[0], 1e-9, "+0.02%% a run")
	})
	counts := map[int]int{}
	each(t, func(r *rand.Rand) Series { return Drift(r, true) }, func(t *testing.T, s Series) {
		require.InDelta(t, 1.0002, s.Level[1]/s.Level[0], 1e-9, "drifts")
		checkSteps(t, s)
		counts[len(s.Steps)]++
	})
	require.Len(t, counts, MaxSteps, "1 to 3 steps")
}

// checkSteps checks Drift's and Bimodal's steps: 1-3 of 5-10%, from run 20
// to 30 runs before the end, at least StepGap apart, all to be found.
func checkSteps(t *testing.T, s Series) {
	t.Helper()
	require.NotEmpty(t, s.Steps)
	require.LessOrEqual(t, len(s.Steps), MaxSteps)
	for i, st := range s.Steps {
		require.GreaterOrEqual(t, st.Index, 20)
		require.Less(t, st.Index, len(s.Values)-30)
		require.GreaterOrEqual(t, math.Abs(st.Size), StepMin)
		require.LessOrEqual(t, math.Abs(st.Size), StepMax)
		require.True(t, s.ShouldFind(st))
		if i > 0 {
			require.GreaterOrEqual(t, st.Index-s.Steps[i-1].Index, StepGap)
		}
	}
}

func TestOutlierBursts(t *testing.T) {
	t.Parallel()
	each(t, OutlierBursts, func(t *testing.T, s Series) {
		require.Empty(t, s.Steps)
		require.Equal(t, s.Level[0], s.Level[len(s.Level)-1], "no drift")
		require.GreaterOrEqual(t, len(s.Outliers), MinOutliers)
		require.LessOrEqual(t, len(s.Outliers), MaxOutliers)
		require.Len(t, s.Bursts, 1)
		b := s.Bursts[0]
		require.GreaterOrEqual(t, b.Len, 2)
		require.LessOrEqual(t, b.Len, 3)
		require.GreaterOrEqual(t, b.Start, 0)
		require.LessOrEqual(t, b.Start+b.Len, len(s.Values))
		// 30-50% off, give or take 6 sd of noise.
		offBy := func(i int) float64 { return s.Values[i]/s.Level[i] - 1 }
		for _, i := range append([]int{b.Start, b.Start + b.Len - 1}, s.Outliers...) {
			require.GreaterOrEqual(t, math.Abs(offBy(i)), OutlierMin*(1-6*s.Noise)-6*s.Noise, "run %d", i)
			require.LessOrEqual(t, math.Abs(offBy(i)), OutlierMax*(1+6*s.Noise)+6*s.Noise, "run %d", i)
		}
		for i := b.Start; i < b.Start+b.Len; i++ {
			require.Equal(t, offBy(b.Start) > 0, offBy(i) > 0, "a burst goes one way")
		}
		for k, o := range s.Outliers {
			if k > 0 {
				require.GreaterOrEqual(t, o-s.Outliers[k-1], OutlierGap, "outliers are single runs apart")
			}
			require.True(t, o <= b.Start-OutlierGap || o >= b.Start+b.Len-1+OutlierGap, "outlier %d clear of burst %+v", o, b)
			for _, j := range []int{o - 1, o + 1} {
				if j >= 0 && j < len(s.Values) {
					require.InDelta(t, 1, s.Values[j]/s.Level[j], 6*s.Noise, "run %d beside outlier %d is not one", j, o)
				}
			}
		}
	})
}

func TestBimodal(t *testing.T) {
	t.Parallel()
	for _, withSteps := range []bool{false, true} {
		var n, above, between int
		var sq float64
		each(t, func(r *rand.Rand) Series { return Bimodal(r, withSteps) }, func(t *testing.T, s Series) {
			require.Empty(t, s.Outliers)
			if withSteps {
				checkSteps(t, s)
			} else {
				require.Empty(t, s.Steps)
				require.Equal(t, s.Level[0], s.Level[len(s.Level)-1], "no drift")
			}
			for i, v := range s.Values {
				d := v/s.Level[i] - 1
				n++
				sq += d * d
				if d > 0 {
					above++
				}
				if math.Abs(d) < ModeGap/6 {
					between++
				}
			}
		})
		// Two modes 3% apart, each half the time: about half the values
		// above the level, few near it (a normal of the same spread puts
		// a quarter there), and the spread Noise claims.
		require.InDelta(t, 0.5, float64(above)/float64(n), 0.01)
		require.Less(t, float64(between)/float64(n), 0.03)
		require.InDelta(t, math.Hypot(ModeGap/2, ModeNoise), math.Sqrt(sq/float64(n)), 0.0005)
	}
}

func TestShapesRepeat(t *testing.T) {
	t.Parallel()
	for _, sc := range Shapes() {
		a := sc.Make(rand.New(rand.NewPCG(5, 6)))
		b := sc.Make(rand.New(rand.NewPCG(5, 6)))
		require.Equal(t, a, b, "%s: the same seed makes the same series", sc.Name)
	}
}
