package confirm

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/pitwall/pitwall/internal/verdict"
)

// Decision is the sequential test's answer.
type Decision string

// Decisions.
const (
	Different Decision = "different"
	Same      Decision = "same"
	NeedMore  Decision = "need-more"
	Unknown   Decision = "unknown"
)

// Defaults of Config.
const (
	DefaultAlpha    = 0.01
	DefaultMinPairs = 4
	DefaultMaxPairs = 30
	// lookGrowth is how much larger each look is than the one before.
	lookGrowth = 1.5
	// power is the power the estimate of the pairs still needed aims at.
	power = 0.8
)

// Config is one KPI's sequential test.
type Config struct {
	// LowerIsBetter is the KPI's direction.
	LowerIsBetter bool
	// Threshold is the smallest relative change that matters (0.02 = 2%):
	// DIFFERENT needs an estimate beyond it, SAME an interval within it.
	Threshold float64
	// Alpha is the chance, over all looks together, of a false DIFFERENT
	// (and of a false SAME): DefaultAlpha when 0.
	Alpha float64
	// MinPairs is the first look; MaxPairs the run budget, in pairs (one
	// run of each commit), and the last look.
	MinPairs, MaxPairs int
}

func (c Config) normal() Config {
	if c.Alpha <= 0 || c.Alpha >= 1 {
		c.Alpha = DefaultAlpha
	}
	if c.MinPairs < 2 {
		c.MinPairs = DefaultMinPairs
	}
	if c.MaxPairs <= 0 {
		c.MaxPairs = DefaultMaxPairs
	}
	c.MinPairs = min(c.MinPairs, c.MaxPairs)
	return c
}

// Looks are the numbers of pairs at which the test decides, in order: the
// first at MinPairs, each next one about 1.5 times the last, the last at
// MaxPairs.
func (c Config) Looks() []int {
	c = c.normal()
	var out []int
	for n := c.MinPairs; n < c.MaxPairs; n = max(n+1, int(math.Ceil(float64(n)*lookGrowth))) {
		out = append(out, n)
	}
	return append(out, c.MaxPairs)
}

// spent is the α the look at n pairs may spend, after the look at prev:
// the linear spending function α·n/N.
func (c Config) spent(prev, n int) float64 {
	return c.Alpha * float64(n-prev) / float64(c.MaxPairs)
}

// Result is the test's answer on the pairs given so far.
type Result struct {
	Decision Decision `json:"decision"`
	// Verdict is verdict.Regressed or verdict.Improved for DIFFERENT.
	Verdict string `json:"verdict,omitempty"`
	// Pairs is the look the answer rests on (for NEED MORE, the pairs
	// given); Observed the pairs given.
	Pairs    int `json:"pairs"`
	Observed int `json:"observed"`
	// ChangePct is B's change against A in percent; CILowPct and
	// CIHighPct bound it at level Confidence (that of the look: the
	// intervals of all looks together hold the change with probability
	// 1 − Alpha).
	ChangePct  float64 `json:"change_pct"`
	CILowPct   float64 `json:"ci_low_pct"`
	CIHighPct  float64 `json:"ci_high_pct"`
	Confidence float64 `json:"confidence"`
	// PValue is the paired t-test's two-sided p-value at that look.
	PValue float64 `json:"p_value"`
	// NextLook is the pairs at which the test next decides, and MorePairs
	// the pairs beyond Observed it expects to need (at least up to
	// NextLook, at most up to the budget); both 0 unless NEED MORE.
	NextLook  int    `json:"next_look,omitempty"`
	MorePairs int    `json:"more_pairs,omitempty"`
	Evidence  string `json:"evidence"`
}

// Decide runs the test on the runs of A and B so far, in run order: a[i]
// and b[i] are the i-th pair. It replays every look the pairs reach, so
// the first look that decided keeps its answer however many pairs follow,
// and it may be called after every pair.
func (c Config) Decide(a, b []float64) Result {
	c = c.normal()
	n := min(len(a), len(b))
	d := ratios(a[:n], b[:n])
	prev := 0
	for _, look := range c.Looks() {
		if look > n {
			return c.needMore(d, look, c.spent(prev, look))
		}
		r := c.judge(logRatios{v: d.v[:look], linear: d.linear}, c.spent(prev, look))
		r.Observed = n
		if r.Decision != NeedMore {
			return r
		}
		if look == c.MaxPairs {
			r.Decision = Unknown
			r.Evidence += fmt.Sprintf("; budget of %d pairs spent", c.MaxPairs)
			return r
		}
		prev = look
	}
	return Result{Decision: Unknown, Observed: n}
}

// judge reads one look's interval, at level 1 − alpha.
func (c Config) judge(d logRatios, alpha float64) Result {
	r := Result{Pairs: len(d.v), Confidence: 1 - alpha, PValue: 1}
	mean, sd := stat.MeanStdDev(d.v, nil)
	n := float64(len(d.v))
	half := 0.0
	switch se := sd / math.Sqrt(n); {
	case se > 0:
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 1}
		half = t.Quantile(1-alpha/2) * se
		r.PValue = 2 * t.CDF(-math.Abs(mean)/se)
	case mean != 0:
		r.PValue = 0 // no noise at all: any difference is certain
	}
	r.ChangePct, r.CILowPct, r.CIHighPct = d.pct(mean), bounded(d.pct(mean-half)), bounded(d.pct(mean+half))
	th := c.Threshold * 100
	switch {
	case (r.CILowPct > 0 || r.CIHighPct < 0) && math.Abs(r.ChangePct) > th:
		r.Decision = Different
		r.Verdict = verdict.Improved
		if r.ChangePct > 0 == c.LowerIsBetter {
			r.Verdict = verdict.Regressed
		}
	case r.CILowPct >= -th && r.CIHighPct <= th:
		r.Decision = Same
	default:
		r.Decision = NeedMore
	}
	r.Evidence = fmt.Sprintf("paired t-test on %d pairs: change %+.2f%%, %.2f%% CI %+.2f%%..%+.2f%%, p=%.3g, threshold ±%.3g%%",
		len(d.v), r.ChangePct, 100*(1-alpha), r.CILowPct, r.CIHighPct, r.PValue, th)
	return r
}

// needMore is the answer before the look at next pairs, which will spend
// alpha: the estimate so far and the pairs the test expects to need.
func (c Config) needMore(d logRatios, next int, alpha float64) Result {
	n := len(d.v)
	r := Result{Decision: NeedMore, Pairs: n, Observed: n, NextLook: next, PValue: 1}
	if n == 0 {
		r.MorePairs = next
		r.Evidence = "no pairs yet"
		return r
	}
	if n >= 2 {
		r = c.judge(d, alpha)
		r.Decision, r.Verdict, r.Observed, r.NextLook = NeedMore, "", n, next
	} else {
		// One pair has no interval yet: the bounds stay 0 and the
		// evidence says so.
		r.ChangePct = d.pct(d.v[0])
		r.Evidence = fmt.Sprintf("one pair: change %+.2f%%, no interval yet", r.ChangePct)
	}
	r.MorePairs = min(max(next, c.expected(d, alpha)), c.MaxPairs) - n
	r.Evidence = fmt.Sprintf("need about %d more pairs (next look at %d): %s", r.MorePairs, next, r.Evidence)
	return r
}

// maxPct bounds an interval's ends: with very few pairs and a small α the
// t quantile makes them overflow, and a result must stay finite to be
// recorded (JSON has no infinity).
const maxPct = 1e6

func bounded(p float64) float64 {
	return math.Max(-maxPct, math.Min(maxPct, p))
}

// expected is the pairs the paired test needs at 80% power to tell the
// change estimated so far from 0 (when beyond the threshold) or from the
// threshold (when within it): (z_{α/2} + z_β)² s² / δ².
func (c Config) expected(d logRatios, alpha float64) int {
	if len(d.v) < 2 {
		return 0
	}
	mean, sd := stat.MeanStdDev(d.v, nil)
	lim := d.fromPct(c.Threshold * 100)
	dist := math.Abs(mean)
	if dist <= lim {
		dist = lim - dist
	}
	z := distuv.UnitNormal.Quantile(1-alpha/2) + distuv.UnitNormal.Quantile(power)
	if dist == 0 {
		return math.MaxInt32
	}
	return int(math.Ceil(math.Min(z*z*sd*sd/(dist*dist), math.MaxInt32)))
}

// logRatios are the pairs' relative changes: ln(b/a) when every value is
// positive, else (b−a)/|mean a|.
type logRatios struct {
	v      []float64
	linear bool
}

func ratios(a, b []float64) logRatios {
	d := logRatios{v: make([]float64, len(a))}
	for i := range a {
		if a[i] <= 0 || b[i] <= 0 {
			d.linear = true
		}
	}
	base := math.Abs(stat.Mean(a, nil))
	for i := range a {
		switch {
		case !d.linear:
			d.v[i] = math.Log(b[i] / a[i])
		case base > 0:
			d.v[i] = (b[i] - a[i]) / base
		}
	}
	return d
}

// pct turns a mean of d into a change in percent.
func (d logRatios) pct(x float64) float64 {
	if d.linear {
		return 100 * x
	}
	return 100 * math.Expm1(x)
}

// fromPct is the inverse of pct for a change above zero.
func (d logRatios) fromPct(p float64) float64 {
	if d.linear {
		return p / 100
	}
	return math.Log1p(p / 100)
}
