// Package answer words a test's verdicts the way the test page and the
// compare-with-baseline view show them: the summary line, a change with
// its interval, how strong the evidence is, and which deltas are coloured.
package answer

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/verdict"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/tests"
)

// Pct is a change in percent with a sign, to a precision that suits its
// size: +51%, +4.2%, -0.35%.
func Pct(x float64) string { return pctNum(x, x) + "%" }

// pctNum formats x to the precision the larger of x and ref calls for.
func pctNum(x, ref float64) string {
	switch a := max(math.Abs(ref), math.Abs(x)); {
	case a >= 10:
		return fmt.Sprintf("%+.0f", x)
	case a >= 1:
		return fmt.Sprintf("%+.1f", x)
	default:
		return fmt.Sprintf("%+.2f", x)
	}
}

// Interval is the range the verdict's method gives the change: a
// confidence interval of the change (t-test), the band one more baseline
// test would fall in (prediction interval), or none (threshold alone).
func Interval(v *wire.KPIVerdict) string {
	conf := fmt.Sprintf("%.0f%%", verdict.Confidence*100)
	lo, hi := v.CILowPct, v.CIHighPct
	both := func() string { return pctNum(lo, hi) + ".." + pctNum(hi, lo) + "%" }
	switch v.Method {
	case "welch-t":
		return conf + " CI " + both()
	case "prediction-interval":
		return "noise band " + both()
	case verdict.MethodMannWhitney:
		return "rank test"
	case "threshold":
		return "threshold only"
	}
	return ""
}

// Change is the change with its interval: "+51% (99% CI +48..+54%)".
func Change(v *wire.KPIVerdict) string {
	if v.Verdict == verdict.NoBaseline {
		return "no baseline"
	}
	if iv := Interval(v); iv != "" {
		return Pct(v.DeltaPct) + " (" + iv + ")"
	}
	return Pct(v.DeltaPct)
}

// Strength levels of the evidence behind a verdict.
const (
	Strong   = "strong"
	Moderate = "moderate"
	Weak     = "weak"
)

// Evidence is how strong the evidence behind a verdict is, and why, in a
// few words: a verdict reached against one baseline test, or by the
// threshold alone, is weak whatever its p-value; a t-test or rank test
// against 3 or more tests at p < 0.001, or a prediction interval from 10
// or more tests, is strong; the rest moderate. tests is how many baseline
// tests the KPI was judged against.
func Evidence(v *wire.KPIVerdict, tests int) (level, why string) {
	n := fmt.Sprintf("%d baseline test%s", tests, plural(tests))
	switch {
	case v.Verdict == verdict.NoBaseline:
		return "", "no baseline test"
	case v.Method == "threshold":
		return Weak, n + ": too few for the noise, threshold only"
	case tests <= 1:
		return Weak, "one baseline test" + pValue(v)
	}
	switch v.Method {
	case "welch-t", verdict.MethodMannWhitney:
		why := n + pValue(v) + fmt.Sprintf(", n=%d vs %d", v.CandidateN, v.BaselineN)
		if v.PValue >= 0 && v.PValue < 0.001 && tests >= 3 {
			return Strong, why
		}
		return Moderate, why
	case "prediction-interval":
		if tests >= 10 {
			return Strong, n
		}
		return Moderate, n
	}
	return Moderate, n
}

func pValue(v *wire.KPIVerdict) string {
	if v.PValue < 0 {
		return ""
	}
	return fmt.Sprintf(", p=%.2g", v.PValue)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// DeltaClass colours a change only when the verdict says it matters:
// "worse" for regressed, "better" for improved, else "" (neutral).
func DeltaClass(v *wire.KPIVerdict) string {
	switch {
	case v == nil:
		return ""
	case v.Verdict == verdict.Regressed:
		return "worse"
	case v.Verdict == verdict.Improved:
		return "better"
	}
	return ""
}

// Spread is a standard deviation to 3 significant figures: it says how
// noisy a value is, not a value to read to the last digit.
func Spread(sd float64) string { return strconv.FormatFloat(sd, 'g', 3, 64) }

// DeltaClasses are the classes of a change's element: "delta", and its
// colour when the verdict gives it one.
func DeltaClasses(v *wire.KPIVerdict) string { return strings.TrimSpace("delta " + DeltaClass(v)) }

// rank orders verdicts for reading: regressions first.
func rank(v string) int {
	switch v {
	case verdict.Regressed:
		return 0
	case verdict.Improved:
		return 1
	case verdict.Unchanged:
		return 2
	}
	return 3
}

// Sorted is the test's KPI verdicts, regressions first, then
// improvements (each the largest change first), then the rest by name.
func Sorted(vs []wire.KPIVerdict) []wire.KPIVerdict {
	out := slices.Clone(vs)
	slices.SortStableFunc(out, func(a, b wire.KPIVerdict) int {
		if r := rank(a.Verdict) - rank(b.Verdict); r != 0 {
			return r
		}
		if a.Verdict == verdict.Regressed || a.Verdict == verdict.Improved {
			if d := math.Abs(b.DeltaPct) - math.Abs(a.DeltaPct); d != 0 {
				if d > 0 {
					return 1
				}
				return -1
			}
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Summary is the answer in one line: "3 of 6 KPIs regressed: p99 +51%
// (99% CI +48..+54%), …; 1 improved: …; 2 unchanged." kpis is how many
// KPIs the test reported; "" when the test has no verdicts.
func Summary(t *wire.Test, kpis int) string {
	if len(t.Verdicts) == 0 {
		return ""
	}
	by := map[string][]wire.KPIVerdict{}
	for _, v := range Sorted(t.Verdicts) {
		by[v.Verdict] = append(by[v.Verdict], v)
	}
	list := func(vs []wire.KPIVerdict) string {
		parts := make([]string, len(vs))
		for i := range vs {
			parts[i] = vs[i].Name + " " + Change(&vs[i])
		}
		return strings.Join(parts, ", ")
	}
	kpis = max(kpis, len(t.Verdicts))
	var parts []string
	if r := by[verdict.Regressed]; len(r) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d KPI%s regressed: %s", len(r), kpis, plural(kpis), list(r)))
	} else {
		parts = append(parts, fmt.Sprintf("No KPI regressed (%d judged)", len(t.Verdicts)-len(by[verdict.NoBaseline])))
	}
	if i := by[verdict.Improved]; len(i) > 0 {
		parts = append(parts, fmt.Sprintf("%d improved: %s", len(i), list(i)))
	}
	if u := by[verdict.Unchanged]; len(u) > 0 {
		parts = append(parts, fmt.Sprintf("%d unchanged", len(u)))
	}
	if n := by[verdict.NoBaseline]; len(n) > 0 {
		parts = append(parts, fmt.Sprintf("%d without a baseline", len(n)))
	}
	if other := kpis - len(t.Verdicts); other > 0 {
		parts = append(parts, fmt.Sprintf("%d not judged (not declared in the framework)", other))
	}
	return strings.Join(parts, "; ") + "."
}

// CompareURL is the compare-with-baseline view of a test, at the KPI's
// row when kpi is given.
func CompareURL(id int64, kpi string) string {
	u := fmt.Sprintf("/compare?test=%d", id)
	if kpi != "" {
		u += "#" + Anchor(kpi)
	}
	return u
}

// Anchor is the element ID of a KPI's row in the compare view.
func Anchor(kpi string) string {
	return "kpi-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, kpi)
}

// Row is one KPI as the answer reads: its baseline, the test's value, the
// change and the verdict.
type Row struct {
	Name, Unit string
	// Value is the test's mean over its iterations; N how many.
	Value float64
	N     int
	// Verdict is nil for a KPI the framework does not declare.
	Verdict *wire.KPIVerdict
	// Base is the pooled baseline; nil when there is none.
	Base *tests.BaselineKPI
	// BaseTests are the tests the verdict was reached against.
	BaseTests []int64
}

// VerdictName is the row's verdict, "" when it has none.
func (r Row) VerdictName() string {
	if r.Verdict == nil {
		return ""
	}
	return r.Verdict.Verdict
}

// Evidence is how strong the row's verdict's evidence is, and why.
func (r Row) Evidence() (level, why string) { return Evidence(r.Verdict, len(r.BaseTests)) }

// Rows are a test's KPIs in the order the answer reads: regressions
// first (largest first), improvements, unchanged, no baseline, then KPIs
// that were not judged.
func Rows(t *wire.Test, baselines map[string]tests.BaselineKPI) []Row {
	summary := map[string]wire.KPISummary{}
	for _, s := range t.KPISummary {
		summary[s.Name] = s
	}
	var out []Row
	seen := map[string]bool{}
	for _, v := range Sorted(t.Verdicts) {
		s, ok := summary[v.Name]
		if !ok {
			continue
		}
		r := Row{Name: v.Name, Unit: s.Unit, Value: s.Mean, N: s.Count, Verdict: &v,
			BaseTests: tests.BaselineTestsOf(t, &v)}
		if b, ok := baselines[v.Name]; ok {
			r.Base, r.BaseTests = &b, b.Tests
		}
		out = append(out, r)
		seen[v.Name] = true
	}
	for _, s := range t.KPISummary {
		if !seen[s.Name] {
			out = append(out, Row{Name: s.Name, Unit: s.Unit, Value: s.Mean, N: s.Count})
		}
	}
	return out
}
