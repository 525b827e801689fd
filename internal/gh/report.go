package gh

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/wire"
)

// Result is one framework's test of a commit, as reported on GitHub.
type Result struct {
	Framework string
	// Test is the test (nil: none yet, e.g. a fork's pull request waiting
	// for a maintainer).
	Test *wire.Test
	// TestURL and CompareURL link to the test's page and to compare with
	// its baseline tests.
	TestURL, CompareURL string
	// Baseline is each KPI's baseline: the mean of its baseline tests' means.
	Baseline map[string]float64
}

// Status is the commit status a result gives: its state and a description
// of at most 140 characters.
func Status(r Result) (state, description string) {
	t := r.Test
	switch {
	case t == nil:
		return StatePending, "waiting for a maintainer: /pitwall rerun"
	case !wire.Ended(t.State):
		return StatePending, fmt.Sprintf("test %d %s", t.ID, t.State)
	case t.State != wire.StateFinished:
		return StateError, oneLine(fmt.Sprintf("test %d %s: %s", t.ID, t.State, t.Reason))
	case t.Verdict == wire.VerdictRegressed:
		var worst []string
		for _, v := range sortedVerdicts(t) {
			if v.Verdict == wire.VerdictRegressed {
				worst = append(worst, fmt.Sprintf("%s %+.1f%%", v.Name, v.DeltaPct))
			}
		}
		return StateFailure, oneLine("regressed: " + strings.Join(worst, ", "))
	}
	counts := map[string]int{}
	for _, v := range t.Verdicts {
		counts[v.Verdict]++
	}
	var parts []string
	for _, k := range []string{wire.VerdictImproved, wire.VerdictUnchanged, wire.VerdictNoBaseline} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no KPIs"}
	}
	return StateSuccess, oneLine(t.Verdict + ": " + strings.Join(parts, ", "))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 140 {
		s = s[:137] + "..."
	}
	return s
}

// MaxComment bounds a comment's body (GitHub refuses more than 65,536
// characters); past it the comment ends with links to the rest.
const MaxComment = 60000

// MaxKPIRows bounds the KPIs listed per framework.
const MaxKPIRows = 25

// verdictRank puts regressions first, never hidden by the rest.
func verdictRank(v string) int {
	switch v {
	case wire.VerdictRegressed:
		return 0
	case wire.VerdictImproved:
		return 1
	case wire.VerdictUnchanged:
		return 2
	}
	return 3
}

func sortedVerdicts(t *wire.Test) []wire.KPIVerdict {
	vs := slices.Clone(t.Verdicts)
	slices.SortStableFunc(vs, func(a, b wire.KPIVerdict) int {
		if c := cmp.Compare(verdictRank(a.Verdict), verdictRank(b.Verdict)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return vs
}

// resultRank orders frameworks: regressed, then failed, running, the rest.
func resultRank(r Result) int {
	switch t := r.Test; {
	case t == nil:
		return 3
	case t.Verdict == wire.VerdictRegressed:
		return 0
	case wire.Ended(t.State) && t.State != wire.StateFinished:
		return 1
	case !wire.Ended(t.State):
		return 2
	}
	return 4
}

var icons = map[string]string{
	wire.VerdictRegressed:  "🔴 regressed",
	wire.VerdictImproved:   "🟢 improved",
	wire.VerdictUnchanged:  "⚪ unchanged",
	wire.VerdictNoBaseline: "⚫ no baseline",
}

// Comment is the Markdown of Pitwall's comment on a pull request: a line
// per framework, regressions first, then a table per framework of each
// KPI's baseline, this commit's value, the change with its confidence
// interval and the verdict, regressed KPIs first; note (when given) opens
// it. Past MaxComment it is cut, with links to the rest.
func Comment(sha, note string, results []Result) string {
	rs := slices.Clone(results)
	slices.SortStableFunc(rs, func(a, b Result) int {
		if c := cmp.Compare(resultRank(a), resultRank(b)); c != 0 {
			return c
		}
		return strings.Compare(a.Framework, b.Framework)
	})
	var b strings.Builder
	short := sha
	if len(short) > 12 {
		short = short[:12]
	}
	regressed := 0
	for _, r := range rs {
		if r.Test != nil && r.Test.Verdict == wire.VerdictRegressed {
			regressed++
		}
	}
	head := "### Pitwall: "
	switch {
	case regressed > 0:
		head += fmt.Sprintf("🔴 %d of %d frameworks regressed", regressed, len(rs))
	default:
		head += fmt.Sprintf("%d frameworks, none regressed", len(rs))
		if len(rs) == 1 {
			head = "### Pitwall: 1 framework, not regressed"
		}
	}
	fmt.Fprintf(&b, "%s at `%s`\n\n", head, short)
	if note != "" {
		b.WriteString(note + "\n\n")
	}
	b.WriteString("| Framework | Result | Test |\n|---|---|---|\n")
	// The summary, then the tables, each while they fit; what does not is
	// linked at the end.
	budget := MaxComment - 6000
	shown := len(rs)
	for i, r := range rs {
		row := fmt.Sprintf("| %s | %s | %s |\n", Cell(r.Framework), summary(r), testLink(r))
		if b.Len()+len(row) > budget {
			shown = i
			break
		}
		b.WriteString(row)
	}
	cut := rs[shown:]
	for i, r := range rs[:shown] {
		section := kpiTable(r)
		if b.Len()+len(section) > budget {
			cut = rs[i:]
			break
		}
		b.WriteString(section)
	}
	if len(cut) > 0 {
		b.WriteString("\n**More results than fit in a comment:** ")
		var links []string
		for _, r := range cut[:min(len(cut), 50)] {
			links = append(links, fmt.Sprintf("[%s](%s)", Cell(r.Framework), r.TestURL))
		}
		if len(cut) > 50 {
			links = append(links, fmt.Sprintf("and %d more", len(cut)-50))
		}
		b.WriteString(strings.Join(links, " · ") + "\n")
	}
	b.WriteString("\n<sub>Commands: `/pitwall rerun [framework]` · `/pitwall cancel` · `/pitwall compare <sha>` (owners, members and collaborators)</sub>\n")
	return b.String()
}

func summary(r Result) string {
	t := r.Test
	switch {
	case t == nil:
		return "⏸ waiting for a maintainer's `/pitwall rerun`"
	case !wire.Ended(t.State):
		return "⏳ " + t.State
	case t.State != wire.StateFinished:
		return "❌ " + Cell(t.State+": "+t.Reason)
	}
	s := icons[t.Verdict]
	if s == "" {
		s = t.Verdict
	}
	if t.Verdict == wire.VerdictRegressed {
		var names []string
		for _, v := range sortedVerdicts(t) {
			if v.Verdict == wire.VerdictRegressed {
				names = append(names, fmt.Sprintf("%s %+.1f%%", v.Name, v.DeltaPct))
			}
		}
		s += ": " + Cell(strings.Join(names, ", "))
	}
	return "**" + s + "**"
}

func testLink(r Result) string {
	if r.Test == nil {
		return "–"
	}
	s := fmt.Sprintf("[#%d](%s)", r.Test.ID, r.TestURL)
	if r.CompareURL != "" && len(r.Test.BaselineTests) > 0 {
		s += fmt.Sprintf(" · [compare](%s)", r.CompareURL)
	}
	return s
}

// kpiTable is one framework's KPIs, regressed first.
func kpiTable(r Result) string {
	t := r.Test
	if t == nil || t.State != wire.StateFinished || len(t.Verdicts) == 0 {
		return ""
	}
	means := map[string]wire.KPISummary{}
	for _, k := range t.KPISummary {
		means[k.Name] = k
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n#### %s · [test #%d](%s)\n\n", Cell(r.Framework), t.ID, r.TestURL)
	b.WriteString("| KPI | Baseline | This commit | Change (99% CI) | Verdict |\n|---|--:|--:|---|---|\n")
	vs := sortedVerdicts(t)
	for i, v := range vs {
		if i == MaxKPIRows {
			fmt.Fprintf(&b, "\n%d more KPIs: [all of them](%s)\n", len(vs)-i, r.TestURL)
			break
		}
		k := means[v.Name]
		name := Cell(v.Name)
		if k.Unit != "" {
			name += " (" + Cell(k.Unit) + ")"
		}
		base := "–"
		if bv, ok := r.Baseline[v.Name]; ok {
			base = num(bv)
		}
		change := "–"
		if v.Verdict != wire.VerdictNoBaseline {
			change = fmt.Sprintf("%+.1f%%", v.DeltaPct)
			if v.CILowPct != v.CIHighPct {
				change += fmt.Sprintf(" (%+.1f%% … %+.1f%%)", v.CILowPct, v.CIHighPct)
			}
		}
		verdict := icons[v.Verdict]
		if v.Verdict == wire.VerdictRegressed {
			name, change, verdict = "**"+name+"**", "**"+change+"**", "**"+verdict+"**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", name, base, num(k.Mean), change, verdict)
	}
	return b.String()
}

// Cell makes text safe in a Markdown table cell: one line, no pipes, no
// HTML or mentions.
func Cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "@", "@\u200b", "`", "'")
	s = r.Replace(s)
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

func num(v float64) string {
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// CulpritComment is the comment that posts a bisection's culprit: the
// first bad commit (or the range), the effect its steps measured with
// the interval's confidence, the runs each step used and a link to the
// bisection's page.
func CulpritComment(c *wire.Confirmation, pageURL string) string {
	r := c.Bisect
	var b strings.Builder
	kpi := ""
	if len(c.KPIs) > 0 {
		kpi = c.KPIs[0].Name
	}
	switch {
	case r != nil && r.FirstBad != "":
		fmt.Fprintf(&b, "### Pitwall bisected %s: the first bad commit is `%s`\n\n", Cell(c.Framework), r.FirstBad)
		if e, against, ok := r.CulpritEffect(); ok {
			if against == "" {
				against = r.Good
			}
			fmt.Fprintf(&b, "**%s %+.2f%%** (%.3g%% confidence interval %+.2f%% .. %+.2f%%, %d pairs, p = %.2g) against `%s`.\n\n",
				Cell(kpi), e.ChangePct, 100*e.Confidence, e.CILowPct, e.CIHighPct, e.Pairs, e.PValue, against)
		}
	case r != nil:
		fmt.Fprintf(&b, "### Pitwall bisected %s: the first bad commit is one of %d\n\n", Cell(c.Framework), len(r.Candidates))
		for _, cand := range r.Candidates {
			fmt.Fprintf(&b, "- `%s`\n", cand)
		}
		b.WriteString("\nThe commits between do not build, so the bisection could not tell them apart.\n\n")
	}
	if r != nil {
		fmt.Fprintf(&b, "Regression of test #%d (`%s`) against `%s`, bisected over %d commits in %d steps and %d runs, interleaved on `%s`:\n\n",
			c.TestID, c.CandCommit, c.BaseCommit, len(c.Commits), len(r.Steps), r.Runs, c.Host)
		b.WriteString("| Step | Middle commit | Outcome | Runs | Against the good end | Against the bad end |\n|---|---|---|---|---|---|\n")
		for i, s := range r.Steps {
			fmt.Fprintf(&b, "| %d | `%s` | %s | %d | %+.2f%% (%s) | %+.2f%% (%s) |\n", i+1, s.Commit, s.Outcome, s.Runs,
				s.VsGood.ChangePct, s.VsGood.Decision, s.VsBad.ChangePct, s.VsBad.Decision)
		}
	}
	fmt.Fprintf(&b, "\n[Bisection #%d](%s)\n", c.ID, pageURL)
	return b.String()
}
