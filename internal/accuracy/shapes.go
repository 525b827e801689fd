// Package accuracy makes synthetic KPI histories shaped like real benchmark
// histories, with known steps and outliers, and scores what an online
// change-point detector reports on them as the runs arrive one by one.
// cmd/verdict-accuracy (go tool task bench-verdicts) prints the scores.
package accuracy

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Lengths of the real-shape series, in runs (both inclusive): about a year
// of daily runs at most.
const (
	MinRuns = 200
	MaxRuns = 365
)

// EarlyRuns is the start of a history where a step is "early": the detector
// has few runs of the old level to compare with.
const EarlyRuns = 20

// Step is a true change of level.
type Step struct {
	// Index is the first run at the new level.
	Index int
	// Size is the relative change of the level: 0.12 is 12% up.
	Size float64
}

// Burst is a few consecutive runs off the level that then return to it.
type Burst struct{ Start, Len int }

// Series is one synthetic history and what was put into it.
type Series struct {
	Values []float64
	// Level is the series without noise or outliers: the drift and steps.
	Level []float64
	// Noise is the relative standard deviation of Values about Level,
	// outliers aside.
	Noise    float64
	Steps    []Step
	Outliers []int // single-run outliers
	Bursts   []Burst
}

// Scenario is one kind of history: a name and a generator of its series.
type Scenario struct {
	Name string
	Make func(r *rand.Rand) Series
	// Drifts tells that the level moves a little every run.
	Drifts bool
}

// Shapes are the real-shape scenarios of issue 14, in the order printed.
func Shapes() []Scenario {
	return []Scenario{
		{Name: "early step: 12% at run 8-18, 2% noise", Make: EarlyStep},
		{Name: "12% step at run 13-17, 40%-low outlier the run before", Make: StepBesideOutlier},
		{Name: "drift +0.02%/run, 2% noise, 1-3 steps of 5-10%", Make: func(r *rand.Rand) Series { return Drift(r, true) }, Drifts: true},
		{Name: "drift +0.02%/run, 2% noise, no step", Make: func(r *rand.Rand) Series { return Drift(r, false) }, Drifts: true},
		{Name: "no step, 2% noise, 4-6 outliers and a 2-3 run burst", Make: OutlierBursts},
		{Name: "bimodal noise (modes 3% apart), no step", Make: func(r *rand.Rand) Series { return Bimodal(r, false) }},
		{Name: "bimodal noise (modes 3% apart), 1-3 steps of 5-10%", Make: func(r *rand.Rand) Series { return Bimodal(r, true) }},
	}
}

// Parameters of the generators; the tests check the series against them.
const (
	EarlyFrom, EarlyTo   = 8, 18 // EarlyStep's step is at a run in [EarlyFrom, EarlyTo]
	BesideFrom, BesideTo = 13, 17
	BigStep              = 0.12 // EarlyStep's and StepBesideOutlier's step
	LowOutlier           = 0.6  // StepBesideOutlier's outlier: 40% below its neighbours
	DriftPerRun          = 0.0002
	StepMin, StepMax     = 0.05, 0.10 // Drift's and Bimodal's steps
	MaxSteps             = 3
	StepGap              = 30 // fewest runs between two steps
	OutlierMin           = 0.30
	OutlierMax           = 0.50 // OutlierBursts' outliers are 30-50% off the level
	MinOutliers          = 4
	MaxOutliers          = 6
	OutlierGap           = 10 // fewest runs between two outliers or an outlier and a burst
	ModeGap              = 0.03
	ModeNoise            = 0.005 // Bimodal's noise within a mode
	baseNoise            = 0.02
)

// EarlyStep is a 12% step (up or down) within the first 20 runs in 2% noise.
func EarlyStep(r *rand.Rand) Series {
	s := newSeries(r, baseNoise)
	s.step(EarlyFrom+r.IntN(EarlyTo-EarlyFrom+1), sign(r)*BigStep)
	s.normal(r)
	return s
}

// StepBesideOutlier is a 12% step around run 15 in 2% noise, with the run
// just before it 40% below its neighbours: the outlier must neither hide
// the step nor be reported itself.
func StepBesideOutlier(r *rand.Rand) Series {
	s := newSeries(r, baseNoise)
	at := BesideFrom + r.IntN(BesideTo-BesideFrom+1)
	s.step(at, sign(r)*BigStep)
	s.normal(r)
	s.outlier(at-1, LowOutlier)
	return s
}

// Drift is a level creeping up by 0.02% a run (7.6% over 365 runs), as
// a slowly growing data set makes it, in 2% noise; withSteps adds 1-3 steps
// of 5-10% up or down on top.
func Drift(r *rand.Rand, withSteps bool) Series {
	s := newSeries(r, baseNoise)
	for i := range s.Level {
		s.Level[i] *= math.Pow(1+DriftPerRun, float64(i))
	}
	if withSteps {
		s.steps(r)
	}
	s.normal(r)
	return s
}

// OutlierBursts has no step: 4-6 single runs 30-50% off the level (either
// way) and one burst of 2-3 consecutive runs off it, in 2% noise, at least
// 10 runs apart, anywhere including the first and last runs.
func OutlierBursts(r *rand.Rand) Series {
	s := newSeries(r, baseNoise)
	s.normal(r)
	n := len(s.Values)
	b := Burst{Len: 2 + r.IntN(2)}
	b.Start = r.IntN(n - b.Len + 1)
	f := 1 + sign(r)*(OutlierMin+r.Float64()*(OutlierMax-OutlierMin))
	for i := b.Start; i < b.Start+b.Len; i++ {
		s.Values[i] *= f
	}
	s.Bursts = []Burst{b}
	for k := MinOutliers + r.IntN(MaxOutliers-MinOutliers+1); k > 0; {
		i := r.IntN(n)
		if i > b.Start-OutlierGap && i < b.Start+b.Len-1+OutlierGap {
			continue
		}
		if slices.ContainsFunc(s.Outliers, func(o int) bool { return abs(o-i) < OutlierGap }) {
			continue
		}
		s.outlier(i, 1+sign(r)*(OutlierMin+r.Float64()*(OutlierMax-OutlierMin)))
		k--
	}
	return s
}

// Bimodal is a KPI that lands in one of two modes 3% apart at random each
// run (a cache that is warm or not, two kinds of host), with 0.5% noise
// within a mode; withSteps adds 1-3 steps of 5-10% up or down.
func Bimodal(r *rand.Rand, withSteps bool) Series {
	s := newSeries(r, math.Hypot(ModeGap/2, ModeNoise))
	if withSteps {
		s.steps(r)
	}
	s.Values = make([]float64, len(s.Level))
	for i, l := range s.Level {
		s.Values[i] = l * (1 + sign(r)*ModeGap/2) * (1 + r.NormFloat64()*ModeNoise)
	}
	return s
}

func newSeries(r *rand.Rand, noise float64) Series {
	l := make([]float64, MinRuns+r.IntN(MaxRuns-MinRuns+1))
	for i := range l {
		l[i] = 100
	}
	return Series{Level: l, Noise: noise}
}

// step moves the level from run at on by size.
func (s *Series) step(at int, size float64) {
	for i := at; i < len(s.Level); i++ {
		s.Level[i] *= 1 + size
	}
	s.Steps = append(s.Steps, Step{Index: at, Size: size})
	slices.SortFunc(s.Steps, func(a, b Step) int { return a.Index - b.Index })
}

// steps adds 1-3 steps of 5-10% up or down, StepGap apart, from run 20 to
// 30 runs before the end (so the end of the history shows each one).
func (s *Series) steps(r *rand.Rand) {
	k := 1 + r.IntN(MaxSteps)
	var at []int
	for len(at) < k {
		i := 20 + r.IntN(len(s.Level)-50)
		if !slices.ContainsFunc(at, func(j int) bool { return abs(i-j) < StepGap }) {
			at = append(at, i)
		}
	}
	for _, i := range at {
		s.step(i, sign(r)*(StepMin+r.Float64()*(StepMax-StepMin)))
	}
}

// normal draws each value about the level with normal noise.
func (s *Series) normal(r *rand.Rand) {
	s.Values = make([]float64, len(s.Level))
	for i, l := range s.Level {
		s.Values[i] = l * (1 + r.NormFloat64()*s.Noise)
	}
}

// outlier multiplies run i by f.
func (s *Series) outlier(i int, f float64) {
	s.Values[i] *= f
	s.Outliers = append(s.Outliers, i)
	slices.Sort(s.Outliers)
}

func sign(r *rand.Rand) float64 {
	if r.IntN(2) == 0 {
		return -1
	}
	return 1
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}
