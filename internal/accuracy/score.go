package accuracy

import (
	"math"
	"slices"

	"github.com/pitwall/pitwall/internal/changepoint"
)

// KPIThreshold is the smallest change a KPI's verdict counts, as a
// fraction: a step below it need not be found.
const KPIThreshold = 0.03

// Tolerance is how far, in runs, a reported change point may lie from a
// true step (or an outlier) and still be taken for it.
const Tolerance = 5

// Online is an online detector on one series: it is handed the series
// one run longer each time and returns the change points it reports then,
// in index order.
type Online func(x []float64) []int

// Level is one level of change points the detector reports, measured on
// its own.
type Level struct {
	Name string
	// Alerts tells whether a change point of this level is to raise an
	// alert; the goals apply to such levels.
	Alerts bool
	// New starts an online detector for this level on a new series.
	New func() Online
}

// Levels are the levels measured, strictest first: strong change points
// (at least the KPI's threshold) alert; weak ones, as significant but
// smaller, are drawn and never alerted on (issue 14).
func Levels() []Level {
	return []Level{
		{Name: "strict", Alerts: true, New: func() Online { return online(false) }},
		{Name: "weak", Alerts: false, New: func() Online { return online(true) }},
	}
}

// Options are the detector's settings for a KPI whose threshold is
// KPIThreshold.
func Options() changepoint.Options {
	o := changepoint.Defaults
	o.MinDeltaPct = KPIThreshold * 100
	return o
}

// online reports, of the change points changepoint.Append keeps as the
// series grows, the weak ones or the strong ones.
func online(weak bool) Online {
	var known []changepoint.Point
	o := Options()
	return func(x []float64) []int {
		known = changepoint.Append(x, known, o)
		var out []int
		for _, p := range known {
			if p.Weak == weak {
				out = append(out, p.Index)
			}
		}
		return out
	}
}

// History is what an online detector reported as a series grew.
type History struct {
	// At[n] are the change points reported once the series had n runs
	// (At[0] is empty).
	At [][]int
}

// Replay hands det the series x one run longer each time, as tests arrive.
func Replay(x []float64, det Online) History {
	h := History{At: make([][]int, len(x)+1)}
	for n := 1; n <= len(x); n++ {
		h.At[n] = det(x[:n])
	}
	return h
}

// Final is what the detector reports once every run is in.
func (h History) Final() []int {
	if len(h.At) == 0 {
		return nil
	}
	return h.At[len(h.At)-1]
}

// Ever is every change point reported at some time, even if a later run
// withdrew it: each raised an alert when it appeared.
func (h History) Ever() []int {
	var out []int
	for _, a := range h.At {
		out = append(out, a...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Match pairs detections with true change points within tol runs, each
// detection with the first true one not yet taken, and returns which true
// ones were found and how many detections matched none.
func Match(found, truth []int, tol int) (matched []bool, falses int) {
	matched = make([]bool, len(truth))
	for _, f := range found {
		hit := false
		for i, t := range truth {
			if !matched[i] && abs(f-t) <= tol {
				matched[i], hit = true, true
				break
			}
		}
		if !hit {
			falses++
		}
	}
	return matched, falses
}

// Delays gives, for each true change point, the runs from it (itself
// included) that the series held when a change point within tol of it was
// first reported, or -1 if none ever was: a step at run 100 first
// reported when the series had 108 runs waited 8.
func Delays(truth []int, h History, tol int) []int {
	out := make([]int, len(truth))
	for i, t := range truth {
		out[i] = -1
		for n := t + 1; n < len(h.At); n++ {
			if slices.ContainsFunc(h.At[n], func(k int) bool { return abs(k-t) <= tol }) {
				out[i] = n - t
				break
			}
		}
	}
	return out
}

// Tally adds up one level's scores over a scenario's series.
type Tally struct {
	Series, Runs int
	// Steps are the true steps; ShouldFind those at least twice the
	// noise and at least KPIThreshold, and Found those of them reported
	// at the end. Early and EarlyFound are the same within the first
	// EarlyRuns runs.
	Steps, ShouldFind, Found int
	Early, EarlyFound        int
	// TP and FP are the change points reported at the end that are, and
	// are not, within Tolerance of a true step (any size).
	TP, FP int
	// FalseEver counts false change points reported at some time, a
	// later run withdrawing them or not; reports within Tolerance of
	// each other count once.
	FalseEver int
	// Delays are the delays (see Delays) of the should-find steps that
	// were reported at some time.
	Delays []int
	// Outliers and Bursts are those placed; the Reported ones had a
	// false change point within Tolerance at some time.
	Outliers, OutliersReported int
	Bursts, BurstsReported     int
}

// Add scores one series and what the detector reported on it.
func (t *Tally) Add(s Series, h History) {
	t.Series++
	t.Runs += len(s.Values)
	truth := make([]int, len(s.Steps))
	for i, st := range s.Steps {
		truth[i] = st.Index
	}
	matched, fp := Match(h.Final(), truth, Tolerance)
	delays := Delays(truth, h, Tolerance)
	t.Steps += len(truth)
	t.FP += fp
	t.TP += len(h.Final()) - fp
	for i, st := range s.Steps {
		if !s.ShouldFind(st) {
			continue
		}
		t.ShouldFind++
		early := st.Index < EarlyRuns
		if early {
			t.Early++
		}
		if matched[i] {
			t.Found++
			if early {
				t.EarlyFound++
			}
		}
		if delays[i] >= 0 {
			t.Delays = append(t.Delays, delays[i])
		}
	}
	near := func(k, lo, hi int) bool { return k >= lo-Tolerance && k <= hi+Tolerance }
	var falses []int
	for _, k := range h.Ever() {
		if !slices.ContainsFunc(truth, func(i int) bool { return near(k, i, i) }) {
			falses = append(falses, k)
		}
	}
	last := math.MinInt / 2
	for _, k := range falses {
		if k > last+Tolerance {
			t.FalseEver++
			last = k
		}
	}
	t.Outliers += len(s.Outliers)
	for _, o := range s.Outliers {
		if slices.ContainsFunc(falses, func(k int) bool { return near(k, o, o) }) {
			t.OutliersReported++
		}
	}
	t.Bursts += len(s.Bursts)
	for _, b := range s.Bursts {
		if slices.ContainsFunc(falses, func(k int) bool { return near(k, b.Start, b.Start+b.Len-1) }) {
			t.BurstsReported++
		}
	}
}

// ShouldFind tells whether a detector must find a step of the series: at
// least twice the noise and at least KPIThreshold.
func (s Series) ShouldFind(st Step) bool {
	return math.Abs(st.Size) >= max(2*s.Noise, KPIThreshold)
}

// Precision is the share of change points reported at the end that are
// true steps (NaN when none was reported).
func (t *Tally) Precision() float64 { return ratio(t.TP, t.TP+t.FP) }

// Recall is the share of should-find steps reported at the end.
func (t *Tally) Recall() float64 { return ratio(t.Found, t.ShouldFind) }

// FalsePer200 is the false change points at the end per 200 runs.
func (t *Tally) FalsePer200() float64 { return 200 * ratio(t.FP, t.Runs) }

// FalseEverPer200 is the false change points reported at some time per
// 200 runs: the false alerts.
func (t *Tally) FalseEverPer200() float64 { return 200 * ratio(t.FalseEver, t.Runs) }

// MeanDelay and MedianDelay summarise Delays (NaN when empty).
func (t *Tally) MeanDelay() float64 {
	if len(t.Delays) == 0 {
		return math.NaN()
	}
	sum := 0
	for _, d := range t.Delays {
		sum += d
	}
	return float64(sum) / float64(len(t.Delays))
}

// MedianDelay is the middle delay (the mean of the two middle ones for an
// even count).
func (t *Tally) MedianDelay() float64 {
	if len(t.Delays) == 0 {
		return math.NaN()
	}
	d := slices.Sorted(slices.Values(t.Delays))
	m := len(d) / 2
	if len(d)%2 == 1 {
		return float64(d[m])
	}
	return float64(d[m-1]+d[m]) / 2
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}
