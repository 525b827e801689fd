package verdict

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// MethodMannWhitney is the rank test a KPI may ask for (framework key
// kpis[].test: mann-whitney): it compares the candidate's samples with the
// baseline's without assuming they are normal, as Kayenta does, and gives
// Cliff's delta as the effect size.
const MethodMannWhitney = "mann-whitney"

// MannWhitney is the two-sided Mann-Whitney U test of a against b: the
// p-value (exact when both are small and have no ties, else the normal
// approximation with tie and continuity corrections) and Cliff's delta,
// P(a > b) - P(a < b), from -1 to 1.
func MannWhitney(a, b []float64) (p, cliff float64) {
	na, nb := len(a), len(b)
	if na == 0 || nb == 0 {
		return 1, 0
	}
	type obs struct {
		v    float64
		from int
	}
	all := make([]obs, 0, na+nb)
	for _, v := range a {
		all = append(all, obs{v, 0})
	}
	for _, v := range b {
		all = append(all, obs{v, 1})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var rankA, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for k := i; k < j; k++ {
			if all[k].from == 0 {
				rankA += rank
			}
		}
		if t := float64(j - i); t > 1 {
			ties += t*t*t - t
		}
		i = j
	}
	fa, fb := float64(na), float64(nb)
	ua := rankA - fa*(fa+1)/2 // pairs where a wins, ties counted half
	cliff = (2*ua - fa*fb) / (fa * fb)
	u := math.Min(ua, fa*fb-ua)
	if ties == 0 && na+nb <= 40 {
		return exactU(na, nb, u), cliff
	}
	n := fa + fb
	sd := math.Sqrt(fa * fb / 12 * ((n + 1) - ties/(n*(n-1))))
	if sd == 0 {
		return 1, cliff
	}
	z := (fa*fb/2 - u - 0.5) / sd
	if z < 0 {
		z = 0
	}
	return math.Min(1, 2*distuv.UnitNormal.Survival(z)), cliff
}

// exactU is the two-sided p-value of U = u (the smaller of the two) for
// samples of na and nb with no ties: twice P(U <= u), counted over every
// way of ranking them.
func exactU(na, nb int, u float64) float64 {
	// counts[i][j][k]: rankings of i a's and j b's with U_a = k.
	maxU := na * nb
	prev := make([][]float64, nb+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		prev[j][0] = 1
	}
	for i := 1; i <= na; i++ {
		cur := make([][]float64, nb+1)
		cur[0] = make([]float64, maxU+1)
		cur[0][0] = 1
		for j := 1; j <= nb; j++ {
			cur[j] = make([]float64, maxU+1)
			for k := 0; k <= maxU; k++ {
				// The largest value is an a (it beats the j b's) or a b.
				if k >= j {
					cur[j][k] += prev[j][k-j]
				}
				cur[j][k] += cur[j-1][k]
			}
		}
		prev = cur
	}
	total, le := 0.0, 0.0
	for k, c := range prev[nb] {
		total += c
		if float64(k) <= u+1e-9 {
			le += c
		}
	}
	return math.Min(1, 2*le/total)
}

// mannWhitney judges the candidate's samples against the baseline's with
// the rank test; the change is that of the medians.
func mannWhitney(in Input) Result {
	c := append([]float64(nil), in.Candidate...)
	b := append([]float64(nil), in.Baseline...)
	sort.Float64s(c)
	sort.Float64s(b)
	cm, bm := stat.Quantile(0.5, stat.Empirical, c, nil), stat.Quantile(0.5, stat.Empirical, b, nil)
	r := Result{Method: MethodMannWhitney, CandidateN: len(c), BaselineN: len(b)}
	var cliff float64
	r.PValue, cliff = MannWhitney(c, b)
	r.DeltaPct = pct(cm-bm, bm)
	r.CILowPct, r.CIHighPct = r.DeltaPct, r.DeltaPct
	r.Verdict = judge(in, r.DeltaPct, r.PValue < 1-Confidence)
	of := "iterations"
	if in.Samples != "" {
		of = in.Samples
	}
	r.Evidence = fmt.Sprintf("Mann-Whitney U over %s: median %s vs %s, p=%.3g, Cliff's delta %+.2f, n=%d vs %d",
		of, num(cm), num(bm), r.PValue, cliff, len(c), len(b))
	return r
}
