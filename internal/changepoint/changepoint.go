// Package changepoint finds where a KPI's history changed level: E-divisive
// means (Matteson and James) to place each candidate split, and, as Apache
// Otava (formerly Hunter) does, a two-sample t-test on the segments either
// side to decide whether it is real, so results are deterministic. New
// points only reopen the last segment: earlier change points stand.
package changepoint

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Options tune detection.
type Options struct {
	// MinSize is the fewest points a segment may have.
	MinSize int
	// MaxPValue is the largest t-test p-value that makes a change point.
	MaxPValue float64
}

// Defaults are Otava's: segments of at least 5 points, p below 0.001.
var Defaults = Options{MinSize: 5, MaxPValue: 0.001}

// Point is a change point: the index of the first value after the change.
type Point struct {
	Index int
	// Before and After are the segment means either side; DeltaPct the change.
	Before, After float64
	DeltaPct      float64
	PValue        float64
}

// Detect finds the change points of a whole series, in index order.
func Detect(x []float64, o Options) []Point {
	return finish(x, split(x, 0, len(x), o, nil))
}

// Append updates the change points of series x, whose first len(x)-added
// values were already analysed into known, after values were added at the
// end: only the segment after the last known change point is examined
// again, so earlier change points stand and the work is one segment's.
func Append(x []float64, known []Point, o Options) []Point {
	from := 0
	if len(known) > 0 {
		from = known[len(known)-1].Index
	}
	out := append([]Point(nil), known...)
	return finish(x, split(x, from, len(x), o, out))
}

// finish states each change as the step between its neighbouring
// segments (the recursion measured it against wider ones).
func finish(x []float64, pts []Point) []Point {
	for i := range pts {
		lo, hi := 0, len(x)
		if i > 0 {
			lo = pts[i-1].Index
		}
		if i+1 < len(pts) {
			hi = pts[i+1].Index
		}
		before, after := stat.Mean(x[lo:pts[i].Index], nil), stat.Mean(x[pts[i].Index:hi], nil)
		pts[i].Before, pts[i].After = before, after
		pts[i].DeltaPct = 0
		if before != 0 {
			pts[i].DeltaPct = (after - before) / math.Abs(before) * 100
		}
	}
	return pts
}

// split looks for the best change point in x[lo:hi] and, if it is
// significant, recurses on both sides; found points are appended in order.
func split(x []float64, lo, hi int, o Options, out []Point) []Point {
	n := hi - lo
	if n < 2*o.MinSize {
		return out
	}
	tau := bestSplit(x[lo:hi], o.MinSize)
	if tau < 0 {
		return out
	}
	left, right := x[lo:lo+tau], x[lo+tau:hi]
	// The split was chosen as the best of n-2·MinSize+1 candidates, so its
	// p-value is corrected for the looks; otherwise short runs at a
	// segment's edge pass for changes. Neighbouring candidates are strongly
	// correlated, so a full Bonferroni factor is too strict (it halves the
	// recall of 2% steps); the square root keeps both precision and recall
	// of 5% steps in 2% noise at 0.95 or better (go tool task bench-verdicts).
	p := math.Min(1, welchP(left, right)*math.Sqrt(float64(n-2*o.MinSize+1)))
	if p > o.MaxPValue {
		return out
	}
	out = split(x, lo, lo+tau, o, out)
	before, after := stat.Mean(left, nil), stat.Mean(right, nil)
	d := 0.0
	if before != 0 {
		d = (after - before) / math.Abs(before) * 100
	}
	out = append(out, Point{Index: lo + tau, Before: before, After: after, DeltaPct: d, PValue: p})
	return split(x, lo+tau, hi, o, out)
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

// welchP is the two-sided p-value of Welch's t-test of a against b.
func welchP(a, b []float64) float64 {
	ma, mb := stat.Mean(a, nil), stat.Mean(b, nil)
	va, vb := stat.Variance(a, nil), stat.Variance(b, nil)
	na, nb := float64(len(a)), float64(len(b))
	se2 := va/na + vb/nb
	if se2 == 0 {
		if ma == mb {
			return 1
		}
		return 0
	}
	df := se2 * se2 / ((va/na)*(va/na)/(na-1) + (vb/nb)*(vb/nb)/(nb-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	return 2 * t.CDF(-math.Abs(ma-mb)/math.Sqrt(se2))
}
