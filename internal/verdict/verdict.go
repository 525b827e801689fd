// Package verdict decides, with statistics, whether a test's KPIs improved,
// stayed the same or regressed against its baseline: a Welch t-test when
// both sides have repeated iterations, a prediction interval from the
// baseline's own noise when the candidate has one value; a KPI may ask for
// the Mann-Whitney rank test with Cliff's delta instead of the t-test.
package verdict

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Verdicts.
const (
	Improved   = "improved"
	Unchanged  = "unchanged"
	Regressed  = "regressed"
	NoBaseline = "no-baseline"
)

// Confidence is the level of the tests and intervals: 99%, so that pure
// noise raises a false alert about one time in a hundred (both directions).
const Confidence = 0.99

// Input is one KPI of a test and its baseline.
type Input struct {
	// Candidate are the test's values (one per iteration).
	Candidate []float64
	// Baseline are the baseline's values: every iteration of every
	// baseline test (for the t-test) ...
	Baseline []float64
	// ... and one mean per baseline test (for the prediction interval).
	BaselineMeans []float64
	// LowerIsBetter is the KPI's direction.
	LowerIsBetter bool
	// Threshold is the smallest change that matters, as a fraction (0.05 = 5%).
	Threshold float64
	// Method is the test of samples the KPI asks for: "" or "welch" (the
	// t-test) or MethodMannWhitney (the rank test).
	Method string
	// Samples says what Candidate and Baseline hold when they are not one
	// value per iteration (e.g. "PromQL range-query samples"), for the
	// evidence.
	Samples string
	// NoiseCV is the KPI's noise floor on the test's host (the CV of an
	// A/A series of test means, docs/noise.md), 0 when not measured: with
	// too few baseline tests to estimate their spread, it gives the
	// prediction interval instead of the threshold alone.
	NoiseCV float64
}

// Result is the verdict on one KPI with its evidence.
type Result struct {
	Verdict string `json:"verdict"`
	// DeltaPct is the change of the candidate's mean against the
	// baseline's, in percent; CILowPct and CIHighPct bound it.
	DeltaPct  float64 `json:"delta_pct"`
	CILowPct  float64 `json:"ci_low_pct"`
	CIHighPct float64 `json:"ci_high_pct"`
	// PValue is the t-test's two-sided p-value (Welch), or -1.
	PValue     float64 `json:"p_value"`
	Method     string  `json:"method"`
	BaselineN  int     `json:"baseline_n"`
	CandidateN int     `json:"candidate_n"`
	Evidence   string  `json:"evidence"`
}

// Decide gives the verdict on one KPI.
func Decide(in Input) Result {
	r := Result{PValue: -1, CandidateN: len(in.Candidate), BaselineN: len(in.BaselineMeans)}
	if len(in.Candidate) == 0 || len(in.BaselineMeans) == 0 {
		r.Verdict, r.Method, r.Evidence = NoBaseline, "none", "no baseline test has this KPI"
		return r
	}
	cm := stat.Mean(in.Candidate, nil)
	if len(in.Candidate) >= 2 && len(in.Baseline) >= 2 {
		if in.Method == MethodMannWhitney {
			return mannWhitney(in)
		}
		return welch(in, cm)
	}
	return predict(in, cm)
}

// welch compares the means of repeated iterations with Welch's t-test and
// a confidence interval of the difference.
func welch(in Input, cm float64) Result {
	bm := stat.Mean(in.Baseline, nil)
	r := Result{Method: "welch-t", CandidateN: len(in.Candidate), BaselineN: len(in.Baseline), PValue: 1}
	vc, vb := stat.Variance(in.Candidate, nil), stat.Variance(in.Baseline, nil)
	nc, nb := float64(len(in.Candidate)), float64(len(in.Baseline))
	se2 := vc/nc + vb/nb
	diff := cm - bm
	r.DeltaPct = pct(diff, bm)
	if se2 == 0 {
		// No noise at all: any difference is certain.
		r.CILowPct, r.CIHighPct = r.DeltaPct, r.DeltaPct
		if diff != 0 {
			r.PValue = 0
		}
	} else {
		df := se2 * se2 / ((vc/nc)*(vc/nc)/(nc-1) + (vb/nb)*(vb/nb)/(nb-1))
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
		r.PValue = 2 * t.CDF(-math.Abs(diff)/math.Sqrt(se2))
		half := t.Quantile(1-(1-Confidence)/2) * math.Sqrt(se2)
		r.CILowPct, r.CIHighPct = pct(diff-half, bm), pct(diff+half, bm)
	}
	significant := r.PValue < 1-Confidence
	r.Verdict = judge(in, r.DeltaPct, significant)
	r.Evidence = fmt.Sprintf("Welch t-test: mean %s vs %s, p=%.3g, n=%d vs %d, %.0f%% CI of the change %+.2f%%..%+.2f%%",
		num(cm), num(bm), r.PValue, len(in.Candidate), len(in.Baseline), Confidence*100, r.CILowPct, r.CIHighPct)
	return r
}

// predict checks a single value against the prediction interval the
// baseline tests' own spread gives for one more test.
func predict(in Input, cm float64) Result {
	n := len(in.BaselineMeans)
	bm := stat.Mean(in.BaselineMeans, nil)
	r := Result{PValue: -1, CandidateN: len(in.Candidate), BaselineN: n, DeltaPct: pct(cm-bm, bm)}
	if n < 3 && in.NoiseCV > 0 && !math.IsInf(in.NoiseCV, 0) {
		// Too few baseline tests to know their noise, but the host's A/A
		// series measured it: a normal prediction interval of one more
		// test's mean around the baseline tests' mean.
		z := distuv.UnitNormal.Quantile(1 - (1-Confidence)/2)
		half := z * in.NoiseCV * math.Abs(bm) * math.Sqrt(1+1/float64(n))
		lo, hi := bm-half, bm+half
		r.Method = "noise-floor"
		r.CILowPct, r.CIHighPct = pct(lo-bm, bm), pct(hi-bm, bm)
		r.Verdict = judge(in, r.DeltaPct, cm < lo || cm > hi)
		r.Evidence = fmt.Sprintf("%s against the %.0f%% interval %s..%s around the baseline mean of %d test(s), from the host's noise floor (CV %.2f%%)",
			num(cm), Confidence*100, num(lo), num(hi), n, 100*in.NoiseCV)
		return r
	}
	if n < 3 {
		// Too few baseline tests to know their noise: the threshold alone decides.
		r.Method = "threshold"
		r.CILowPct, r.CIHighPct = r.DeltaPct, r.DeltaPct
		r.Verdict = judge(in, r.DeltaPct, true)
		r.Evidence = fmt.Sprintf("%s vs baseline mean %s of %d test(s): too few to estimate noise, so the threshold alone decides",
			num(cm), num(bm), n)
		return r
	}
	s := stat.StdDev(in.BaselineMeans, nil)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}
	half := t.Quantile(1-(1-Confidence)/2) * s * math.Sqrt(1+1/float64(n))
	lo, hi := bm-half, bm+half
	r.Method = "prediction-interval"
	r.CILowPct, r.CIHighPct = pct(lo-bm, bm), pct(hi-bm, bm)
	outside := cm < lo || cm > hi
	r.Verdict = judge(in, r.DeltaPct, outside)
	r.Evidence = fmt.Sprintf("%s against the %.0f%% prediction interval %s..%s from %d baseline tests",
		num(cm), Confidence*100, num(lo), num(hi), n)
	return r
}

// judge turns a change into a verdict: it must be beyond the threshold and
// statistically clear to count, in the direction the KPI calls better or worse.
func judge(in Input, deltaPct float64, clear bool) string {
	if !clear || math.Abs(deltaPct) <= in.Threshold*100 || deltaPct == 0 {
		return Unchanged
	}
	worse := deltaPct > 0 == in.LowerIsBetter
	if worse {
		return Regressed
	}
	return Improved
}

func pct(diff, base float64) float64 {
	if base == 0 {
		return 0
	}
	return diff / math.Abs(base) * 100
}

func num(v float64) string { return fmt.Sprintf("%.4g", v) }

// Overall is a test's one verdict: regressed if any KPI regressed, else
// improved if any improved, else unchanged if any was judged, else no-baseline.
func Overall(verdicts []string) string {
	out := NoBaseline
	for _, v := range verdicts {
		switch {
		case v == Regressed:
			return Regressed
		case v == Improved:
			out = Improved
		case v == Unchanged && out == NoBaseline:
			out = Unchanged
		}
	}
	return out
}
