// Command accuracy measures the change-point detector and the per-test
// verdicts on synthetic KPI series with known change points, and times the
// detector: `go tool task bench-verdicts` runs it.
//
// Each scenario makes 100 series of 200 points (seeded, so runs repeat)
// with steps at known places, and reports precision, recall and F1 (a
// detection within 5 points of a true step counts), and the delay in runs
// before an incremental detector (one point appended at a time) reports each
// step.
//
// The real-shape suite (issue 14, shapes.go, generators and scoring in
// internal/accuracy) then replays histories of 200-365 runs shaped like
// real benchmarks (an early step, a step beside an outlier, drift, bursts
// of outliers, bimodal noise) one run at a time through the online
// detector, per level of change point, and prints the goals beside the
// figures.
//
// The confirmation tables (issue 21, confirm.go, drivers in
// internal/accuracy) bisect seeded synthetic repositories of 32 commits
// whose commit 19 is 3% slower, confirm changes of 0% and 3% with the
// sequential test, and check noise floors of A/A series; -confirm-only
// prints them alone.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/pitwall/pitwall/internal/accuracy"
	"github.com/pitwall/pitwall/internal/changepoint"
	"github.com/pitwall/pitwall/internal/verdict"
)

type scenario struct {
	name     string
	noise    float64 // relative standard deviation
	step     float64 // relative size of each step (sign alternates at random)
	logn     bool    // log-normal rather than normal noise
	outliers float64 // share of points multiplied by 1.3
	drift    float64 // relative change spread over the whole series
	steps    int     // change points per series
}

const (
	seriesLen = 200
	perRun    = 100
	tolerance = accuracy.Tolerance
)

func main() {
	series := flag.Int("series", perRun, "series per scenario")
	flag.Float64Var(&changepoint.Defaults.MaxPValue, "p", changepoint.Defaults.MaxPValue, "largest p-value that makes a change point")
	flag.IntVar(&changepoint.Defaults.MinSize, "min-size", changepoint.Defaults.MinSize, "fewest points in a segment")
	flag.IntVar(&changepoint.Defaults.Window, "window", changepoint.Defaults.Window, "points the split pass looks at at once")
	shapeSeries := flag.Int("shape-series", 50, "series per real-shape scenario")
	only := flag.Bool("detector-only", false, "skip the verdict, confirmation and timing sections")
	repos := flag.Int("repos", 50, "synthetic repositories to bisect")
	sequences := flag.Int("confirmations", 200, "confirmations per scenario")
	confirmOnly := flag.Bool("confirm-only", false, "print only the confirmation, bisection and noise-floor tables")
	flag.Parse()
	if *confirmOnly {
		confirmation(*repos, *sequences)
		return
	}
	scenarios := []scenario{
		{name: "5% steps, 2% normal noise", noise: 0.02, step: 0.05, steps: 3},
		{name: "2% steps, 2% normal noise", noise: 0.02, step: 0.02, steps: 3},
		{name: "10% steps, 5% normal noise", noise: 0.05, step: 0.10, steps: 3},
		{name: "1% steps, 1% normal noise", noise: 0.01, step: 0.01, steps: 3},
		{name: "5% steps, 2% log-normal noise", noise: 0.02, step: 0.05, logn: true, steps: 3},
		{name: "5% steps, 2% noise, 2% outliers", noise: 0.02, step: 0.05, outliers: 0.02, steps: 3},
		{name: "no step, 3% noise, 5% slow drift", noise: 0.03, drift: 0.05},
		{name: "no step, 5% normal noise", noise: 0.05},
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tprecision\trecall\tF1\tfalse CPs/series\tmedian delay (runs)\tceiling\t")
	for i, sc := range scenarios {
		r := rand.New(rand.NewPCG(uint64(i+1), 42))
		var tp, fp, fn, placed int
		var delays []int
		for range *series {
			x, truth := generate(r, sc)
			placed += oracle(x, truth)
			var found []int
			for _, p := range changepoint.Detect(x, changepoint.Defaults) {
				found = append(found, p.Index)
			}
			matched, f := accuracy.Match(found, truth, tolerance)
			t := 0
			for _, m := range matched {
				if m {
					t++
				}
			}
			tp, fp, fn = tp+t, fp+f, fn+len(truth)-t
			delays = append(delays, delay(x, truth)...)
		}
		prec, rec := ratio(tp, tp+fp), ratio(tp, tp+fn)
		f1 := 0.0
		if prec+rec > 0 {
			f1 = 2 * prec * rec / (prec + rec)
		}
		d := "-"
		if len(delays) > 0 {
			slices.Sort(delays)
			d = fmt.Sprint(delays[len(delays)/2])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t\n", sc.name, fmtRatio(prec, tp+fp), fmtRatio(rec, tp+fn),
			fmtRatio(f1, tp+fp+fn), float64(fp)/float64(*series), d, fmtRatio(ratio(placed, tp+fn), tp+fn))
	}
	_ = tw.Flush()
	fmt.Printf("(a detection counts within %d runs of a true step; ceiling: the share of true steps that\n"+
		" a detector told where the neighbouring steps are places within %d runs by maximum likelihood,\n"+
		" about the most recall and precision any detector can reach at that tolerance)\n", tolerance, tolerance)
	fmt.Println()
	shapes(*shapeSeries)
	if *only {
		return
	}
	fmt.Println()
	falseAlerts()
	fmt.Println()
	confirmation(*repos, *sequences)
	fmt.Println()
	timing()
}

// generate makes one series and the indexes of its true change points.
func generate(r *rand.Rand, sc scenario) ([]float64, []int) {
	var truth []int
	for len(truth) < sc.steps {
		p := 30 + r.IntN(seriesLen-60)
		ok := true
		for _, q := range truth {
			if abs(p-q) < 30 {
				ok = false
			}
		}
		if ok {
			truth = append(truth, p)
		}
	}
	slices.Sort(truth)
	x := make([]float64, seriesLen)
	level := 100.0
	next := 0
	for i := range x {
		if next < len(truth) && i == truth[next] {
			s := sc.step
			if r.IntN(2) == 0 {
				s = -s
			}
			level *= 1 + s
			next++
		}
		v := level * (1 + sc.drift*float64(i)/seriesLen)
		if sc.logn {
			sigma := math.Sqrt(math.Log(1 + sc.noise*sc.noise))
			v *= math.Exp(r.NormFloat64()*sigma - sigma*sigma/2)
		} else {
			v *= 1 + r.NormFloat64()*sc.noise
		}
		if r.Float64() < sc.outliers {
			v *= 1.3
		}
		x[i] = v
	}
	return x, truth
}

// oracle counts the true steps that the maximum-likelihood split of the
// segment between the neighbouring true steps places within the tolerance:
// with small steps in noise even that misplaces some, which bounds what any
// detector can score.
func oracle(x []float64, truth []int) int {
	placed := 0
	for k, t := range truth {
		lo, hi := 0, len(x)
		if k > 0 {
			lo = truth[k-1]
		}
		if k+1 < len(truth) {
			hi = truth[k+1]
		}
		best, bestQ := -1, -1.0
		var total float64
		for _, v := range x[lo:hi] {
			total += v
		}
		var left float64
		n := float64(hi - lo)
		for tau := lo + 1; tau < hi; tau++ {
			left += x[tau-1]
			a, b := float64(tau-lo), float64(hi-tau)
			d := left/a - (total-left)/b
			if q := a * b / n * d * d; q > bestQ {
				best, bestQ = tau, q
			}
		}
		if abs(best-t) <= tolerance {
			placed++
		}
	}
	return placed
}

// delay appends points one at a time, as tests arrive, and counts the runs
// after each true step before a change point near it is reported.
func delay(x []float64, truth []int) []int {
	var out []int
	h := accuracy.Replay(x, accuracy.Levels()[0].New())
	for _, d := range accuracy.Delays(truth, h, tolerance) {
		if d >= 0 {
			out = append(out, d)
		}
	}
	return out
}

// falseAlerts runs per-test verdicts on pure noise: a candidate from the
// same distribution as its baseline should rarely be called a change.
func falseAlerts() {
	r := rand.New(rand.NewPCG(99, 7))
	fmt.Println("per-test verdicts on pure noise (1,000 candidates each; alert = regressed or improved):")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "noise\tmethod\tthreshold\tfalse alerts\t")
	for _, noise := range []float64{0.01, 0.02, 0.05} {
		for _, repeated := range []bool{false, true} {
			for _, threshold := range []float64{0, 0.03} {
				alerts := 0
				const n = 1000
				for range n {
					in := verdict.Input{LowerIsBetter: true, Threshold: threshold}
					draws := 1
					if repeated {
						draws = 5
					}
					for range 10 {
						var sum float64
						for range draws {
							v := 100 * (1 + r.NormFloat64()*noise)
							in.Baseline = append(in.Baseline, v)
							sum += v
						}
						in.BaselineMeans = append(in.BaselineMeans, sum/float64(draws))
					}
					for range draws {
						in.Candidate = append(in.Candidate, 100*(1+r.NormFloat64()*noise))
					}
					if v := verdict.Decide(in).Verdict; v == verdict.Regressed || v == verdict.Improved {
						alerts++
					}
				}
				method := "prediction interval (1 value, 10 baseline tests)"
				if repeated {
					method = "Welch t-test (5 vs 50 iterations)"
				}
				fmt.Fprintf(tw, "%.0f%%\t%s\t%.0f%%\t%.1f%%\t\n", noise*100, method, threshold*100, 100*float64(alerts)/n)
			}
		}
	}
	_ = tw.Flush()
}

// timing reports the detector's runtime: medians of several runs.
func timing() {
	r := rand.New(rand.NewPCG(5, 5))
	fmt.Println("runtime (median of 5):")
	for _, n := range []int{1000, 5000} {
		x := make([]float64, n)
		for i := range x {
			level := 100.0
			if i > n/2 {
				level = 105
			}
			x[i] = level * (1 + r.NormFloat64()*0.02)
		}
		fmt.Printf("  detect N=%d: %s\n", n, median(func() { changepoint.Detect(x, changepoint.Defaults) }))
		known := changepoint.Detect(x[:n-1], changepoint.Defaults)
		fmt.Printf("  append one point to N=%d: %s\n", n-1, median(func() { changepoint.Append(x, known, changepoint.Defaults) }))
	}
	fmt.Println("  (Otava on these machines: 12 ms for 1,000, 65 ms for 5,000, 3-5 ms to append)")
}

func median(f func()) time.Duration {
	var d []time.Duration
	for range 5 {
		t := time.Now()
		f()
		d = append(d, time.Since(t))
	}
	slices.Sort(d)
	return d[2].Round(10 * time.Microsecond)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func fmtRatio(v float64, denom int) string {
	if denom == 0 || math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}
