package confirm

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// NoiseFloor is the noise of one KPI on one host, from an A/A series (the
// same commit run again and again).
type NoiseFloor struct {
	// CV is the coefficient of variation (standard deviation over mean);
	// Low and High bound it at level Confidence.
	CV, Low, High float64
	Confidence    float64
	N             int
}

// CV measures an A/A series' noise: the sample CV with the chi-square
// interval of the standard deviation (exact under normal noise; the mean's
// own uncertainty is left out, a small matter at the CVs of benchmarks).
// Fewer than two runs, or a mean of 0, give NaN.
func CV(series []float64, confidence float64) NoiseFloor {
	f := NoiseFloor{CV: math.NaN(), Low: math.NaN(), High: math.NaN(), Confidence: confidence, N: len(series)}
	v, df := relVariance([][]float64{series})
	if df < 1 || math.IsNaN(v) {
		return f
	}
	chi := distuv.ChiSquared{K: df}
	a := 1 - confidence
	f.CV = math.Sqrt(v)
	f.Low = f.CV * math.Sqrt(df/chi.Quantile(1-a/2))
	f.High = f.CV * math.Sqrt(df/chi.Quantile(a/2))
	return f
}

// MinJump is how many times its history's CV a host's recent CV must be
// for NoiseJumped to flag it, however significant: a host measured for long
// enough would otherwise be flagged for a trifle.
const MinJump = 1.25

// Jump is NoiseJumped's answer.
type Jump struct {
	Jumped bool
	// RecentCV and HistoryCV are the CVs compared; Ratio is the first over
	// the second, PValue the F test's.
	RecentCV, HistoryCV, Ratio, PValue float64
	Evidence                           string
}

// NoiseJumped tells whether a host's recent A/A runs are noisier than its
// history, with a one-sided F test of their relative variances at level
// alpha (the history may be several series, each about its own mean, as
// A/A measurements of different commits are) and a ratio of at least
// MinJump. A new neighbour or a firmware change shows this way.
func NoiseJumped(history [][]float64, recent []float64, alpha float64) Jump {
	vh, dh := relVariance(history)
	vr, dr := relVariance([][]float64{recent})
	j := Jump{RecentCV: math.Sqrt(vr), HistoryCV: math.Sqrt(vh), PValue: 1}
	if dh < 1 || dr < 1 || math.IsNaN(vh+vr) {
		j.Evidence = "too few runs to compare"
		return j
	}
	if vh == 0 {
		j.Ratio = math.Inf(1)
		if vr == 0 {
			j.Ratio = 1
		}
	} else {
		j.Ratio = j.RecentCV / j.HistoryCV
	}
	if vr > 0 {
		f := distuv.F{D1: dr, D2: dh}
		j.PValue = f.Survival(vr / vh)
	}
	j.Jumped = j.PValue < alpha && j.Ratio >= MinJump
	runs := 0
	for _, s := range history {
		runs += len(s)
	}
	j.Evidence = fmt.Sprintf("CV %.2f%% over %d recent runs against %.2f%% over %d runs of history (%.2f×), F test p=%.3g",
		100*j.RecentCV, len(recent), 100*j.HistoryCV, runs, j.Ratio, j.PValue)
	return j
}

// relVariance pools the series' variances relative to their own means,
// and gives the degrees of freedom (runs less one per series).
func relVariance(series [][]float64) (v, df float64) {
	var ss float64
	for _, s := range series {
		if len(s) < 2 {
			continue
		}
		var mean float64
		for _, x := range s {
			mean += x
		}
		mean /= float64(len(s))
		if mean == 0 {
			return math.NaN(), 0
		}
		for _, x := range s {
			ss += (x - mean) * (x - mean) / (mean * mean)
		}
		df += float64(len(s) - 1)
	}
	if df == 0 {
		return math.NaN(), 0
	}
	return ss / df, df
}
