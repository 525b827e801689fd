package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"text/tabwriter"

	"github.com/pitwall/pitwall/internal/accuracy"
)

// Goals of issue 14 for the levels that alert.
const (
	goalRecall     = 0.95
	goalDriftAlert = 0.1 // false alerts per 200 runs of drift without steps
)

// shapes measures every level on the real-shape scenarios (series of each,
// runs appended one at a time) and prints the tables and the goals.
func shapes(series int) {
	scenarios, levels := accuracy.Shapes(), accuracy.Levels()
	tallies := make([][]accuracy.Tally, len(levels))
	for l := range levels {
		tallies[l] = make([]accuracy.Tally, len(scenarios))
	}
	for i, sc := range scenarios {
		r := rand.New(rand.NewPCG(uint64(100+i), 14))
		for range series {
			s := sc.Make(r)
			for l, lv := range levels {
				tallies[l][i].Add(s, accuracy.Replay(s.Values, lv.New()))
			}
		}
	}
	fmt.Printf("real shapes (issue 14): %d series of %d-%d runs per scenario, appended one run at a time as tests arrive.\n",
		series, accuracy.MinRuns, accuracy.MaxRuns)
	fmt.Printf("level strict: the change points changepoint.Append keeps with the KPI threshold of %g%% as its minimum (the alerting level);\n", accuracy.KPIThreshold*100)
	fmt.Println("level weak: as significant, but smaller than the threshold (drawn on trends, never alerted on).")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "level\tscenario\truns\tsteps to find\tprecision\trecall\tmean delay\tmedian delay\t")
	for l, lv := range levels {
		for i, sc := range scenarios {
			t := &tallies[l][i]
			steps := fmt.Sprint(t.ShouldFind)
			if t.ShouldFind != t.Steps {
				steps += fmt.Sprintf(" of %d", t.Steps)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", lv.Name, sc.Name, t.Runs, steps,
				fmtRatio(t.Precision(), t.TP+t.FP), fmtRatio(t.Recall(), t.ShouldFind), fmtFloat(t.MeanDelay(), 1), fmtFloat(t.MedianDelay(), 1))
		}
	}
	_ = tw.Flush()
	fmt.Printf("(to find: a step at least twice the noise and at least %.0f%%, the KPI threshold; recall is of those and\n"+
		" precision of all change points reported once every run is in, within %d runs of a true step;\n"+
		" delay: runs from the step, itself included, the series held when a change point within %d runs of it\n"+
		" was first reported)\n\n", accuracy.KPIThreshold*100, accuracy.Tolerance, accuracy.Tolerance)

	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "level\tscenario\tfalse CPs/series\tfalse CPs/200 runs\tfalse alerts/200 runs\tsingle-run outliers reported\tbursts reported\t")
	for l, lv := range levels {
		for i, sc := range scenarios {
			t := &tallies[l][i]
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.3f\t%.3f\t%s\t%s\t\n", lv.Name, sc.Name, float64(t.FP)/float64(t.Series),
				t.FalsePer200(), t.FalseEverPer200(), ofCount(t.OutliersReported, t.Outliers), ofCount(t.BurstsReported, t.Bursts))
		}
	}
	_ = tw.Flush()
	fmt.Printf("(false CPs: reported once every run is in, not within %d runs of a true step; false alerts: false\n"+
		" change points reported at any time, even if a later run withdrew them, those within %d runs of each\n"+
		" other once; an outlier or burst is reported when a false change point within %d runs of it was)\n\n",
		accuracy.Tolerance, accuracy.Tolerance, accuracy.Tolerance)

	for l, lv := range levels {
		if lv.Alerts {
			goals(lv.Name, scenarios, tallies[l])
		}
	}
}

// goals prints issue 14's goals beside the figures of one alerting level.
func goals(level string, scenarios []accuracy.Scenario, tallies []accuracy.Tally) {
	fmt.Printf("goals (level %s):\n", level)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "goal\tscenario\tfigure\tstatus\t")
	var early, earlyFound, outliers, reported int
	for i, sc := range scenarios {
		t := &tallies[i]
		early, earlyFound = early+t.Early, earlyFound+t.EarlyFound
		outliers, reported = outliers+t.Outliers, reported+t.OutliersReported
		if t.ShouldFind > 0 {
			fmt.Fprintf(tw, "recall ≥ %.2f of steps to find\t%s\t%.2f\t%s\t\n", goalRecall, sc.Name, t.Recall(), met(t.Recall() >= goalRecall))
		}
	}
	if early > 0 {
		r := float64(earlyFound) / float64(early)
		fmt.Fprintf(tw, "recall ≥ %.2f of steps to find in the first %d runs\tall scenarios\t%.2f (%d of %d)\t%s\t\n",
			goalRecall, accuracy.EarlyRuns, r, earlyFound, early, met(r >= goalRecall))
	}
	fmt.Fprintf(tw, "no single-run outlier reported\tall scenarios\t%d of %d\t%s\t\n", reported, outliers, met(reported == 0))
	for i, sc := range scenarios {
		if t := &tallies[i]; sc.Drifts && t.Steps == 0 {
			fmt.Fprintf(tw, "< %.1f alerting change points per 200 runs\t%s\t%.3f (%.3f at the end)\t%s\t\n", goalDriftAlert, sc.Name,
				t.FalseEverPer200(), t.FalsePer200(), met(t.FalseEverPer200() < goalDriftAlert))
		}
	}
	_ = tw.Flush()
	fmt.Println("(alerting change points: false alerts as above, since an alert goes out when a change point first appears)")
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

func ofCount(k, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%d of %d", k, n)
}

func fmtFloat(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}
