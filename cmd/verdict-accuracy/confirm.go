package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/pitwall/pitwall/internal/accuracy"
	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/verdict"
)

// confirmTest is the sequential test the tables measure: issue 21's
// example settings.
var confirmTest = confirm.Config{LowerIsBetter: true, Threshold: 0.02, Alpha: 0.01, MaxPairs: 30}

// confirmation prints issue 21's tables: bisection of seeded synthetic
// repositories, confirmation of a change and of none, and noise floors.
func confirmation(repos, sequences int) {
	looks := fmt.Sprint(confirmTest.Looks())
	fmt.Printf("confirmation and bisection (issue 21): paired sequential t-test on interleaved runs, α %g over all looks,\n"+
		"threshold ±%g%%, budget %d pairs per comparison (a bisection step: %d rounds of 3 runs), looks at %s pairs.\n",
		confirmTest.Alpha, confirmTest.Threshold*100, confirmTest.MaxPairs, confirmTest.MaxPairs, strings.Trim(looks, "[]"))
	bisections(repos)
	fmt.Println()
	confirmations(sequences)
	fmt.Println()
	noiseFloors()
}

func bisections(repos int) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "bisection\trepos\tfound\twrong\trange with it\tunknown\truns mean\truns max\tsteps mean\t")
	for _, broken := range []int{0, 3} {
		var t accuracy.BisectTally
		steps := 0
		for i := range repos {
			r := rand.New(rand.NewPCG(uint64(i+1), 21))
			repo := accuracy.NewRepo(r, broken)
			cfg := confirm.BisectConfig{Test: confirmTest, Order: confirm.ABBA, Seed: uint64(i)}
			res, err := accuracy.Bisect(repo, cfg, r)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			t.Add(res, repo.Commits[accuracy.Culprit-1])
			steps += len(res.Steps)
		}
		name := fmt.Sprintf("%d commits, commit %d %g%% slower, %g%% noise", accuracy.RepoCommits, accuracy.Culprit,
			accuracy.CulpritStep*100, accuracy.RepoNoise*100)
		if broken > 0 {
			name += fmt.Sprintf(", %d do not build", broken)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%d\t%.1f\t\n", name, t.Repos, t.Found, t.Wrong, t.InRange, t.Unknown,
			meanInts(t.Runs), slices.Max(t.Runs), float64(steps)/float64(repos))
	}
	_ = tw.Flush()
	fmt.Println("(runs: of all commits, every step's runs of the middle commit and both ends; a commit that does not\n" +
		" build costs one run; the ends are taken as confirmed and not run again before the first step)")
}

func confirmations(sequences int) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "confirmation\tsequences\tconfirmed\tnot confirmed\t(same\tunknown\timproved)\truns mean\truns max\t")
	for i, sc := range []struct{ change, noise float64 }{{0, 0.02}, {0, 0.01}, {0.03, 0.01}, {0.03, 0.02}} {
		r := rand.New(rand.NewPCG(uint64(i+1), 2121))
		count := map[string]int{}
		var runs []int
		for range sequences {
			res := accuracy.Confirm(confirmTest, sc.change, sc.noise, r)
			key := string(res.Decision)
			if res.Decision == confirm.Different {
				key = res.Verdict
			}
			count[key]++
			runs = append(runs, 2*res.Pairs)
		}
		rate := func(k int) string { return fmt.Sprintf("%.1f%%", 100*float64(k)/float64(sequences)) }
		fmt.Fprintf(tw, "%g%% change, %g%% noise\t%d\t%s\t%s\t%d\t%d\t%d\t%.1f\t%d\t\n", sc.change*100, sc.noise*100, sequences,
			rate(count[verdict.Regressed]), rate(sequences-count[verdict.Regressed]), count[string(confirm.Same)],
			count[string(confirm.Unknown)], count[verdict.Improved], meanInts(runs), slices.Max(runs))
	}
	_ = tw.Flush()
	fmt.Println("(a KPI where lower is better, B slower by the change; confirmed: DIFFERENT and regressed; runs: of both\n" +
		" commits, up to the look that answered; the test is asked after every pair)")
}

func noiseFloors() {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "A/A noise floor\tseries\testimated CV (mean)\twithin 20% of c\t95% CI holds c\t")
	const series = 500
	for i, sc := range []struct {
		cv   float64
		runs int
	}{{0.01, 20}, {0.01, 50}, {0.02, 50}, {0.05, 50}, {0.02, 100}} {
		r := rand.New(rand.NewPCG(uint64(i+1), 2122))
		var sum float64
		within, covered := 0, 0
		for range series {
			f := confirm.CV(aa(r, sc.runs, sc.cv), 0.95)
			sum += f.CV
			if math.Abs(f.CV-sc.cv) <= 0.2*sc.cv {
				within++
			}
			if f.Low <= sc.cv && sc.cv <= f.High {
				covered++
			}
		}
		fmt.Fprintf(tw, "c = %g%%, %d runs\t%d\t%.3f%%\t%.1f%%\t%.1f%%\t\n", sc.cv*100, sc.runs, series, 100*sum/series,
			100*float64(within)/series, 100*float64(covered)/series)
	}
	_ = tw.Flush()

	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "noise jumped (α 0.01)\thosts\tflagged\t")
	for i, extra := range []float64{1, 1.5, 2} {
		r := rand.New(rand.NewPCG(uint64(i+1), 2123))
		flagged := 0
		for range series {
			var history [][]float64
			for range 4 {
				history = append(history, aa(r, 20, 0.01))
			}
			if confirm.NoiseJumped(history, aa(r, 20, 0.01*extra), 0.01).Jumped {
				flagged++
			}
		}
		fmt.Fprintf(tw, "history 4×20 runs at 1%%, recent 20 runs at %g%%\t%d\t%.1f%%\t\n", extra, series, 100*float64(flagged)/series)
	}
	_ = tw.Flush()
}

// aa is an A/A series of n runs with noise cv.
func aa(r *rand.Rand, n int, cv float64) []float64 {
	x := make([]float64, n)
	for k := range x {
		x[k] = 100 * (1 + cv*r.NormFloat64())
	}
	return x
}

func meanInts(v []int) float64 {
	s := 0
	for _, x := range v {
		s += x
	}
	return float64(s) / float64(len(v))
}
