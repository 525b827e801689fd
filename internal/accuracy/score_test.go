package accuracy

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/changepoint"
)

// shown is a change point a hand-made history reports while the series
// has from to to runs (both inclusive).
type shown struct{ index, from, to int }

// history makes the History of a series of n runs from what was shown.
func history(n int, s ...shown) History {
	h := History{At: make([][]int, n+1)}
	for _, c := range s {
		for k := c.from; k <= c.to; k++ {
			h.At[k] = append(h.At[k], c.index)
		}
	}
	return h
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name         string
		found, truth []int
		matched      []bool
		falses       int
	}{
		{"two found, one false", []int{10, 52, 100}, []int{12, 50, 150}, []bool{true, true, false}, 1},
		{"tolerance is inclusive", []int{5, 16}, []int{10}, []bool{true}, 1},
		{"a step is found once", []int{49, 51}, []int{50}, []bool{true}, 1},
		{"the first free step takes it", []int{48, 49}, []int{45, 50}, []bool{true, true}, 0},
		{"nothing found", nil, []int{30}, []bool{false}, 0},
		{"no step", []int{30}, nil, []bool{}, 1},
	} {
		matched, falses := Match(c.found, c.truth, 5)
		require.Equal(t, c.matched, matched, c.name)
		require.Equal(t, c.falses, falses, c.name)
	}
}

func TestDelays(t *testing.T) {
	t.Parallel()
	h := history(100,
		shown{48, 40, 50},  // before the step at 50 happened: not it
		shown{52, 58, 60},  // first seen with 58 runs: 8 of them from 50 on
		shown{53, 61, 100}, // it moved: still the same step
		shown{74, 90, 100}, // 6 from the step at 80: too far
	)
	require.Equal(t, []int{8, -1}, Delays([]int{50, 80}, h, 5))
	require.Equal(t, []int{48, 52, 53, 74}, h.Ever())
	require.Equal(t, []int{53, 74}, h.Final())
}

func TestReplayHandsOverOneRunMoreEachTime(t *testing.T) {
	t.Parallel()
	x := make([]float64, 30)
	for i := range x {
		x[i] = float64(i)
	}
	var seen []int
	h := Replay(x, func(x []float64) []int {
		seen = append(seen, len(x))
		require.Equal(t, float64(len(x)-1), x[len(x)-1], "the newest run is last")
		if len(x) < 10 {
			return nil
		}
		return []int{len(x) / 2}
	})
	require.Len(t, seen, 30)
	for i, n := range seen {
		require.Equal(t, i+1, n)
	}
	require.Len(t, h.At, 31)
	require.Nil(t, h.At[9])
	require.Equal(t, []int{5}, h.At[10])
	require.Equal(t, []int{15}, h.Final())
}

func TestTally(t *testing.T) {
	t.Parallel()
	var tl Tally
	// A 10% step to find at 30, a 1% one (below twice the 2% noise) at
	// 60, an outlier at 80 and a burst at 90-91.
	tl.Add(Series{
		Values: make([]float64, 100), Noise: 0.02,
		Steps:    []Step{{30, 0.10}, {60, 0.01}},
		Outliers: []int{80}, Bursts: []Burst{{Start: 90, Len: 2}},
	}, history(100,
		shown{31, 37, 100},  // the 10% step, after 7 runs
		shown{58, 70, 80},   // the 1% step, withdrawn: no false alert
		shown{10, 20, 25},   // a false alert, withdrawn ...
		shown{12, 26, 30},   // ... that moved: one alert
		shown{84, 95, 100},  // false, 4 from the outlier, 6 from the burst
		shown{96, 100, 100}, // false, 5 from the burst
	))
	// A 12% step in the first 20 runs, never reported.
	tl.Add(Series{Values: make([]float64, 50), Noise: 0.02, Steps: []Step{{10, -0.12}}}, history(50))
	// One in the first 20 runs found after 6 runs, a run early.
	tl.Add(Series{Values: make([]float64, 50), Noise: 0.02, Steps: []Step{{15, 0.12}}}, history(50, shown{14, 21, 50}))

	require.Equal(t, Tally{
		Series: 3, Runs: 200,
		Steps: 4, ShouldFind: 3, Found: 2,
		Early: 2, EarlyFound: 1,
		TP: 2, FP: 2, FalseEver: 3,
		Delays:   []int{7, 6},
		Outliers: 1, OutliersReported: 1,
		Bursts: 1, BurstsReported: 1,
	}, tl)
	require.InDelta(t, 0.5, tl.Precision(), 1e-12)
	require.InDelta(t, 2.0/3, tl.Recall(), 1e-12)
	require.InDelta(t, 2, tl.FalsePer200(), 1e-12)
	require.InDelta(t, 3, tl.FalseEverPer200(), 1e-12)
	require.InDelta(t, 6.5, tl.MeanDelay(), 1e-12)
	require.InDelta(t, 6.5, tl.MedianDelay(), 1e-12)

	var empty Tally
	require.True(t, math.IsNaN(empty.Recall()))
	require.True(t, math.IsNaN(empty.MedianDelay()))
	odd := Tally{Delays: []int{9, 5, 6}}
	require.InDelta(t, 6, odd.MedianDelay(), 1e-12)
}

func TestShouldFind(t *testing.T) {
	t.Parallel()
	s := Series{Noise: 0.02}
	require.True(t, s.ShouldFind(Step{Size: -0.04}))
	require.False(t, s.ShouldFind(Step{Size: 0.039}), "below twice the noise")
	quiet := Series{Noise: 0.005}
	require.True(t, quiet.ShouldFind(Step{Size: 0.03}))
	require.False(t, quiet.ShouldFind(Step{Size: 0.029}), "below the KPI threshold")
}

func TestStrictLevelFindsAClearStepOnline(t *testing.T) {
	t.Parallel()
	lv := Levels()[0]
	require.Equal(t, "strict", lv.Name)
	require.True(t, lv.Alerts)
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, 200)
	for i := range x {
		level := 100.0
		if i >= 100 {
			level = 115
		}
		x[i] = level * (1 + r.NormFloat64()*0.01)
	}
	h := Replay(x, lv.New())
	require.Len(t, h.Final(), 1)
	require.InDelta(t, 100, h.Final()[0], 2)
	d := Delays([]int{100}, h, Tolerance)[0]
	require.GreaterOrEqual(t, d, changepoint.Defaults.MinSize, "a segment needs MinSize runs")
	require.LessOrEqual(t, d, 15)
}
