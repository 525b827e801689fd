package changepoint

import (
	"math"
	"slices"
)

// Outliers returns, in order, the runs unlike both the runs before them
// and the runs after them: further than OutlierK robust standard
// deviations (the interquartile range / 1.349) from the median of the up
// to 2·MinSize runs on each side, with at least 3 on each. A single bad
// run, or a short burst, is one; the first run of a real step is not (it
// is like the runs after it), nor is noise with two modes. The last runs
// of a series are not judged until 3 more have come.
func Outliers(x []float64, o Options) []int {
	o = o.normal()
	if o.OutlierK < 0 {
		return nil
	}
	w := 2 * o.MinSize
	var out []int
	// Both sides are kept sorted as they slide: no sort per run.
	var left, right sorted
	for j := 1; j <= min(w, len(x)-1); j++ {
		right.add(x[j])
	}
	for i, v := range x {
		if len(left) >= 3 && len(right) >= 3 {
			lm, ls := left.robust()
			rm, rs := right.robust()
			// The floor is for series flat to the last digit: a run 0.1%
			// off such a level is no outlier.
			scale := max(ls, rs, 1e-3*max(math.Abs(lm), math.Abs(rm))/o.OutlierK)
			if math.Abs(v-lm) > o.OutlierK*scale && math.Abs(v-rm) > o.OutlierK*scale {
				out = append(out, i)
			}
		}
		// Slide: v joins the left, x[i+1] leaves the right.
		left.add(v)
		if i-w >= 0 {
			left.remove(x[i-w])
		}
		if i+1 < len(x) {
			right.remove(x[i+1])
		}
		if i+1+w < len(x) {
			right.add(x[i+1+w])
		}
	}
	return out
}

// sorted is a small window of runs kept in order (NaN first, as
// slices.Sort puts it). Windows are a few runs wide, so a value goes in
// and out by a linear walk, which costs less than a binary search and its
// copy at that size.
type sorted []float64

func (s *sorted) add(v float64) {
	a := append(*s, v)
	i := len(a) - 1
	for ; i > 0 && less(v, a[i-1]); i-- {
		a[i] = a[i-1]
	}
	a[i] = v
	*s = a
}

func (s *sorted) remove(v float64) {
	a := *s
	for i, x := range a {
		if x == v || (x != x && v != v) {
			copy(a[i:], a[i+1:])
			*s = a[:len(a)-1]
			return
		}
	}
}

// less orders as cmp.Less: NaN before every number.
func less(a, b float64) bool { return a < b || (a != a && b == b) }

// robust returns the window's median and a robust standard deviation,
// from the interquartile range (which, unlike the median absolute
// deviation, does not vanish where most runs sit on one of two modes).
func (s sorted) robust() (median, sd float64) {
	n := len(s)
	return mid(s), (s[(3*n)/4] - s[n/4]) / 1.349
}

func mid(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// clean is x with each outlier replaced by the median of the runs before
// it: an outlier is taken to belong to the level it interrupts, so it can
// neither be a change point nor, by its weight, hide a step beside it.
func clean(x []float64, o Options) []float64 {
	out := Outliers(x, o)
	if len(out) == 0 {
		return x
	}
	y := slices.Clone(x)
	w := 2 * o.MinSize
	for _, i := range out {
		// The runs before it, outliers already replaced.
		before := sorted(slices.Clone(y[max(0, i-w):i]))
		slices.Sort(before)
		y[i] = mid(before)
	}
	return y
}
