// Package changepoint finds where a KPI's history changed level, the way
// Apache Otava (formerly Hunter) does, so results are deterministic:
//
//  1. Split: E-divisive means (Matteson and James) places candidate splits
//     in overlapping windows of the series, recursing while a two-sample
//     Welch t-test of the two sides is below a loose first-pass p-value.
//  2. Merge: each candidate is tested against the segments between its
//     neighbouring candidates; the weakest one above the final p-value is
//     dropped and its neighbours tested again, until every one stands.
//
// Windows keep the split pass linear in the series length and let a step
// be judged against the points near it rather than against a whole history
// with other steps in it. New points only reopen the tail of the series:
// change points before it stand.
package changepoint

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Options tune detection.
type Options struct {
	// MinSize is the fewest points a segment may have.
	MinSize int
	// MaxPValue is the largest t-test p-value that keeps a change point.
	MaxPValue float64
	// Window is the number of points the split pass looks at at once;
	// windows overlap by half.
	Window int
	// MinDeltaPct is the smallest change, in percent of the level before
	// it, that makes a strong change point; smaller ones that are as
	// significant are kept but marked Weak (drawn, never alerted on).
	MinDeltaPct float64
	// OutlierK is how many robust standard deviations a run must lie from
	// both the runs before it and the runs after it to be an outlier
	// (Outliers); 0 means the default, negative turns outliers off.
	OutlierK float64
}

// Defaults: segments of at least 5 points and windows of 50, as Otava's;
// p below 0.002 after the corrections the merge applies (Otava: 0.001
// uncorrected), which keeps pure noise to 0.07 false change points per 200
// runs where Otava's rule gives 0.11 (go tool task bench-verdicts).
var Defaults = Options{MinSize: 5, MaxPValue: 0.002, Window: 50, OutlierK: 6}

// Point is a change point: the index of the first value after the change.
type Point struct {
	Index int
	// Before and After are the means of the segments either side (up to
	// the neighbouring change points); DeltaPct is the change between them.
	Before, After float64
	DeltaPct      float64
	PValue        float64
	// Weak marks a change smaller than MinDeltaPct.
	Weak bool
}

// Detect finds the change points of a whole series, in index order.
func Detect(x []float64, o Options) []Point {
	o = o.normal()
	if len(x) < 2*o.MinSize {
		return nil
	}
	s := newSums(clean(x, o))
	return s.merge(s.candidates(0, len(x), o), 0, o)
}

// Append updates the change points of series x after values were added at
// its end; known are the change points found before. Only the tail is
// examined again (the last few windows, back to the last change point that
// is settled): change points before it stand, so the work does not grow
// with the length of the history.
func Append(x []float64, known []Point, o Options) []Point {
	o = o.normal()
	n := len(x)
	if n < 2*o.MinSize {
		return nil
	}
	from := Settled(n, o)
	var frozen []int
	for _, k := range known {
		if k.Index < from {
			frozen = append(frozen, k.Index)
		}
	}
	// The split pass starts a wide window before the boundary (or at the
	// last settled change point) so that a step just after it sits inside
	// a window rather than at its edge.
	start := max(0, from-2*o.Window)
	if len(frozen) > 0 {
		start = max(start, frozen[len(frozen)-1])
	}
	s := newSums(clean(x, o))
	cands := frozen
	for _, c := range s.candidates(start, n, o) {
		if c >= from {
			cands = append(cands, c)
		}
	}
	return s.merge(cands, len(frozen), o)
}

// Settled returns the index before which Append leaves the change points
// of a series of n values as they are: a window boundary at least two of
// the wide windows before the end.
func Settled(n int, o Options) int {
	o = o.normal()
	step := o.Window / 2
	return max(0, (n-4*o.Window)/step*step)
}

func (o Options) normal() Options {
	o.MinSize = max(o.MinSize, 2)
	o.Window = max(o.Window, 4*o.MinSize)
	if o.MaxPValue <= 0 {
		o.MaxPValue = Defaults.MaxPValue
	}
	if o.OutlierK == 0 {
		o.OutlierK = Defaults.OutlierK
	}
	return o
}

// firstPass is the looser p-value of the split pass, as Otava sets it.
func (o Options) firstPass() float64 {
	switch {
	case o.MaxPValue < 0.05:
		return o.MaxPValue * 10
	case o.MaxPValue < 0.5:
		return o.MaxPValue * 2
	}
	return o.MaxPValue
}

// sums holds prefix sums of a series (shifted by its first value, which
// keeps the squares small) so any segment's mean and variance cost O(1).
type sums struct {
	x       []float64
	shift   float64
	sum, sq []float64
}

func newSums(x []float64) *sums {
	s := &sums{x: x, sum: make([]float64, len(x)+1), sq: make([]float64, len(x)+1)}
	if len(x) > 0 {
		s.shift = x[0]
	}
	for i, v := range x {
		d := v - s.shift
		s.sum[i+1] = s.sum[i] + d
		s.sq[i+1] = s.sq[i] + d*d
	}
	return s
}

// stats returns the mean and sample variance of x[lo:hi].
func (s *sums) stats(lo, hi int) (mean, variance float64) {
	n := float64(hi - lo)
	sum := s.sum[hi] - s.sum[lo]
	m := sum / n
	if hi-lo > 1 {
		variance = max(0, (s.sq[hi]-s.sq[lo]-sum*m)/(n-1))
	}
	return m + s.shift, variance
}

// welch is the two-sided p-value of Welch's t-test of x[lo:mid] against
// x[mid:hi], with both means.
func (s *sums) welch(lo, mid, hi int) (p, before, after float64) {
	ma, va := s.stats(lo, mid)
	mb, vb := s.stats(mid, hi)
	na, nb := float64(mid-lo), float64(hi-mid)
	se2 := va/na + vb/nb
	// Rounding leaves a constant segment a variance of about 1e-30 of
	// its scale: treat that as none.
	scale := math.Max(math.Abs(ma), math.Abs(mb))
	if se2 <= 1e-24*scale*scale {
		if math.Abs(ma-mb) <= 1e-12*scale {
			return 1, ma, mb
		}
		return 0, ma, mb
	}
	df := se2 * se2 / ((va/na)*(va/na)/(na-1) + (vb/nb)*(vb/nb)/(nb-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	return 2 * t.CDF(-math.Abs(ma-mb)/math.Sqrt(se2)), ma, mb
}

// candidates runs the split pass with windows of Window and of twice that
// and returns the union, in order. The wider windows find steps the
// narrower ones place badly or miss next to another step (recall of 2%
// steps in 2% noise 0.69 -> 0.73, go tool task bench-verdicts); the merge
// drops the duplicates, since a segment shorter than MinSize never stands.
func (s *sums) candidates(from, to int, o Options) []int {
	out := s.split(from, to, o)
	wide := o
	wide.Window *= 2
	out = append(out, s.split(from, to, wide)...)
	slices.Sort(out)
	return slices.Compact(out)
}

// split is the first pass over x[from:to]: E-divisive in overlapping
// windows, each window starting at the last change point found or half a
// window on. Candidates come out in order, at least MinSize apart.
func (s *sums) split(from, to int, o Options) []int {
	var out []int
	step := o.Window / 2
	for start := from; to-start >= 2*o.MinSize; {
		end := min(start+o.Window, to)
		found := s.divide(start, end, o, nil)
		out = append(out, found...)
		next := start + step
		if len(found) > 0 {
			next = max(next, found[len(found)-1])
		}
		if end == to && len(found) == 0 {
			break
		}
		start = next
	}
	return out
}

// divide finds the best split of x[lo:hi] and, while the two sides differ
// at the first-pass p-value, recurses on both; found indexes are appended
// in order.
func (s *sums) divide(lo, hi int, o Options, out []int) []int {
	if hi-lo < 2*o.MinSize {
		return out
	}
	tau := bestSplit(s.x[lo:hi], o.MinSize)
	if tau < 0 {
		return out
	}
	if p, _, _ := s.welch(lo, lo+tau, hi); p > o.firstPass() {
		return out
	}
	out = s.divide(lo, lo+tau, o, out)
	out = append(out, lo+tau)
	return s.divide(lo+tau, hi, o, out)
}

// merge tests every candidate against the segments up to its neighbours
// and drops the weakest one above MaxPValue, again and again, until all
// that are left stand. The first keep candidates are settled: they are
// never dropped.
func (s *sums) merge(cands []int, keep int, o Options) []Point {
	pts := make([]Point, len(cands))
	test := func(i int) {
		lo, hi := 0, len(s.x)
		if i > 0 {
			lo = pts[i-1].Index
		}
		if i+1 < len(pts) {
			hi = pts[i+1].Index
		}
		// The last runs of a series, too few yet to be a segment of
		// their own, may already be a new level: if they look unlike
		// the rest of the last change point's right side, they are left
		// out of it, so that a level that ends does not withdraw the
		// change that began it before the change that ends it can be
		// told.
		if hi == len(s.x) {
			for k := o.MinSize - 1; k >= 2; k-- {
				if tail := hi - k; tail-pts[i].Index >= o.MinSize {
					if p, _, _ := s.welch(pts[i].Index, tail, hi); p < o.firstPass() {
						hi = tail
						break
					}
				}
			}
		}
		p, before, after := s.welch(lo, pts[i].Index, hi)
		// The split pass chose this index as the best of the positions
		// between its neighbours, so the p-value is corrected for those
		// looks. Neighbouring positions are strongly correlated, so the
		// square root of their number rather than a full Bonferroni
		// factor. A short run on one side is where chance hides most (a
		// few points that happen to look alike), so it needs
		// proportionally more evidence still.
		p = math.Min(1, p*math.Sqrt(float64(hi-lo-2*o.MinSize+1)))
		if short := min(pts[i].Index-lo, hi-pts[i].Index); short < 3*o.MinSize {
			p = math.Min(1, p*float64(3*o.MinSize)/float64(short))
		}
		if pts[i].Index-lo < o.MinSize || hi-pts[i].Index < o.MinSize {
			p = 1
		}
		d := 0.0
		if before != 0 {
			d = (after - before) / math.Abs(before) * 100
		}
		pts[i] = Point{Index: pts[i].Index, Before: before, After: after, DeltaPct: d, PValue: p}
	}
	for i, c := range cands {
		pts[i].Index = c
	}
	for i := range pts {
		test(i)
	}
	for {
		weakest := -1
		for i := keep; i < len(pts); i++ {
			if pts[i].PValue > o.MaxPValue && (weakest < 0 || pts[i].PValue > pts[weakest].PValue) {
				weakest = i
			}
		}
		if weakest < 0 {
			for i := range pts {
				pts[i].Weak = s.smallerThan(pts, i, o.MinDeltaPct)
			}
			return pts
		}
		pts = slices.Delete(pts, weakest, weakest+1)
		if weakest > 0 {
			test(weakest - 1)
		}
		if weakest < len(pts) {
			test(weakest)
		}
	}
}

// smallerThan says whether change point i of pts may be smaller than
// minPct: whether its change, less one standard error of the difference
// of the two means, falls short of it. A few runs after a drift or a burst
// of noise can look like a change of that size; a real one keeps its size
// as runs arrive.
func (s *sums) smallerThan(pts []Point, i int, minPct float64) bool {
	if minPct <= 0 {
		return false
	}
	lo, hi := 0, len(s.x)
	if i > 0 {
		lo = pts[i-1].Index
	}
	if i+1 < len(pts) {
		hi = pts[i+1].Index
	}
	p := pts[i]
	_, va := s.stats(lo, p.Index)
	_, vb := s.stats(p.Index, hi)
	se := math.Sqrt(va/float64(p.Index-lo) + vb/float64(hi-p.Index))
	if p.Before == 0 {
		return math.Abs(p.DeltaPct) < minPct
	}
	return math.Abs(p.DeltaPct)-se/math.Abs(p.Before)*100 < minPct
}

// bestSplit returns the split τ (segment sizes τ and n-τ, both at least
// minSize) that maximises the E-divisive statistic
//
//	Q(τ) = τ(n-τ)/n · (2/(τ(n-τ)) Σ|a-b| − 1/C(τ,2) Σ|a-a'| − 1/C(n-τ,2) Σ|b-b'|)
//
// computed for every τ in O(n²) with running sums.
func bestSplit(x []float64, minSize int) int {
	n := len(x)
	// row[i] = Σ_j |x_i - x_j| over all j; within-left and cross sums are
	// updated as τ moves one point from right to left.
	var total float64
	row := make([]float64, n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			d := math.Abs(x[i] - x[j])
			row[i] += d
			row[j] += d
			total += d
		}
	}
	// With left = x[:τ]: withinL = Σ_{i<k<τ}|.|, cross = Σ_{i<τ≤j}|.|,
	// withinR = total - withinL - cross.
	var withinL, cross float64
	best, bestQ := -1, math.Inf(-1)
	for tau := 1; tau < n; tau++ {
		v := x[tau-1]
		// Moving x[tau-1] into the left: its distances to the left become
		// within-left; its distances to the right become cross; its old
		// cross distances (to the left) leave cross.
		var toLeft float64
		for i := 0; i < tau-1; i++ {
			toLeft += math.Abs(v - x[i])
		}
		toRight := row[tau-1] - toLeft
		withinL += toLeft
		cross += toRight - toLeft
		if tau < minSize || n-tau < minSize {
			continue
		}
		withinR := total - withinL - cross
		a, b := float64(tau), float64(n-tau)
		q := a * b / float64(n) * (2*cross/(a*b) - withinL/(a*(a-1)/2) - withinR/(b*(b-1)/2))
		if q > bestQ {
			best, bestQ = tau, q
		}
	}
	return best
}
