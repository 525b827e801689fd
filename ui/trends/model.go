package trends

import (
	"encoding/binary"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/pitwall/pitwall/internal/changepoint"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service/changepoints"
	"github.com/pitwall/pitwall/ui/layout"
)

const (
	// pageSize is how many points a page of the points table lists.
	pageSize = 50
	// chartMax is how many of the newest points a KPI's chart draws; the
	// page says so when there are more (the table pages through all).
	chartMax = 2000
	// smallMax is how many of the newest points a small multiple draws.
	smallMax = 200
	// around is how many tests either side of a change point its compare
	// link takes.
	around = 3
	// noBranch is the branch checkbox value of tests run without a
	// branch (git refuses branch names that start with a dash).
	noBranch = "-"
)

type model struct {
	Framework, KPI, ParamsText, Team string
	// Accepted is the change point just accepted, for a notice.
	Accepted   string
	Frameworks []store.FrameworkName
	// BaselineBranch is the framework's baseline branch (main's line).
	BaselineBranch string
	KPIs           []string
	Unit, Better   string
	// Branches are the branches with tests matching the parameters, the
	// baseline branch first; Selected those drawn.
	Branches []branchOption
	// BranchDefault says the selection is the default one; NoBaseline
	// that the baseline branch has no such tests, so another is shown.
	BranchDefault, NoBaseline bool
	// ParamSets are the parameter sets among the tests, as text.
	ParamSets []paramOption
	// Lines are the series drawn, one per branch and parameter set.
	Lines []line
	// Charts: one for a KPI's page, one per KPI for a framework's.
	Charts []kpiChart
	// Rows is the page of points shown, newest first, of Total.
	Rows        []row
	Total, Page int
	PageError   string
	// Sort and Dir are the points table's order ("": newest first).
	Sort, Dir  string
	ShowParams bool
	// ChangePoints are the KPI's change points with a compare link each.
	ChangePoints []cpRow
	Levels       []levelNote
	MayAccept    bool
	// Self is this page's URL, to come back to after accepting; Query its
	// query, for the page and KPI links.
	Self  string
	Query url.Values
	Error string
}

type branchOption struct {
	Name     string // "" for tests without a branch
	Tests    int
	Selected bool
}

// Value is the checkbox value of the branch.
func (b branchOption) Value() string {
	if b.Name == "" {
		return noBranch
	}
	return b.Name
}

// branchLabel names a branch on the page.
func branchLabel(b string) string {
	if b == "" {
		return "(no branch)"
	}
	return b
}

type paramOption struct {
	Text  string
	Tests int
}

// line is one series of a chart: a branch and one parameter set.
type line struct {
	Branch string            `json:"-"`
	Params []framework.Param `json:"-"`
	Key    string            `json:"-"`
	Label  string            `json:"label"`
	Color  string            `json:"color"`
	// Baseline marks the baseline branch's lines: their history makes
	// the verdicts and change points.
	Baseline bool `json:"baseline"`
}

// lineColors are the lines' colours: no red or green, which mark verdicts.
var lineColors = []string{"#2563eb", "#7c3aed", "#d97706", "#0891b2", "#db2777", "#4b5563", "#a16207", "#0e7490", "#9333ea", "#be185d"}

// kpiChart is one KPI's chart with what the page says about it.
type kpiChart struct {
	KPI, Unit, Better string
	Href              string
	Total             int
	Latest            *store.TrendPoint
	Chart             chart
}

// chart is what trends.js draws: one point per test, x the test's place in
// commit order (1 the oldest drawn), each point on the line of its branch
// and parameter set, coloured by its verdict on the KPI.
type chart struct {
	Title string `json:"title"`
	Unit  string `json:"unit"`
	// Href is the KPI's own page (for small multiples).
	Href     string    `json:"href,omitempty"`
	Compact  bool      `json:"compact"`
	X        []float64 `json:"x"`
	Y        []float64 `json:"y"`
	IDs      []int64   `json:"ids"`
	Line     []int     `json:"line"`
	Verdicts []string  `json:"verdicts"`
	When     []string  `json:"when"`
	Commits  []string  `json:"commits"`
	Lines    []line    `json:"lines"`
	// Outliers has the value of each outlier, null for the other points.
	Outliers []*float64 `json:"outliers"`
	Marks    []mark     `json:"marks"`
	Bands    []band     `json:"bands"`
}

// mark is a change point drawn at its test, linked to its compare.
type mark struct {
	X     float64 `json:"x"`
	Label string  `json:"label"`
	Color string  `json:"color"`
	Href  string  `json:"href,omitempty"`
}

// band is an accepted level with its threshold around it, from the
// level's oldest test drawn to the right edge.
type band struct {
	From  float64 `json:"from"`
	Level float64 `json:"level"`
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
	Color string  `json:"color"`
	Label string  `json:"label"`
}

// row is one line of the points table.
type row struct {
	store.TrendPoint
	Outlier bool
	Params  string
}

// cpRow is a change point with the compare of the tests around it.
type cpRow struct {
	store.ChangePoint
	// Compare is the before/after compare: the change point's test (the
	// first after the change) against its baseline, the tests before
	// it, baseline first; "" when no test comes before it.
	Compare string
	// SideBySide is the N-way compare of the tests either side.
	SideBySide string
	// BeforeIDs and AfterIDs are the tests compared, oldest first.
	BeforeIDs, AfterIDs []int64
}

// levelNote says in words what a band draws.
type levelNote struct {
	Line      string
	Level     float64
	Threshold float64
	Low, High float64
	Oldest    int64
	Newest    int64
	N         int
}

// paramsText writes parameter values as the page's filter takes them.
func paramsText(ps []framework.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + "=" + p.Value
	}
	return strings.Join(parts, ", ")
}

// lineKey identifies a series: a branch and an exact parameter set.
func lineKey(branch string, ps []framework.Param) string {
	return string(appendLineKey(nil, branch, ps))
}

// appendLineKey appends lineKey's bytes to b: the branch and each
// parameter's name and value, each after its length, so that no two
// series share a key (as paramsText's "n=1, mode=fast" would for a
// value "1, mode=fast").
func appendLineKey(b []byte, branch string, ps []framework.Param) []byte {
	b = append(binary.AppendUvarint(b, uint64(len(branch))), branch...)
	for _, p := range ps {
		b = append(binary.AppendUvarint(b, uint64(len(p.Name))), p.Name...)
		b = append(binary.AppendUvarint(b, uint64(len(p.Value))), p.Value...)
	}
	return b
}

// onLines gives each point the index of its line in lines, -1 for a
// point on none: one key a point, for the outliers, the levels and the
// chart alike (a map read with string(bytes) copies nothing).
func onLines(points []store.TrendPoint, lines []line) []int {
	index := make(map[string]int, len(lines))
	for i, l := range lines {
		index[l.Key] = i
	}
	out := make([]int, len(points))
	var key []byte
	for i, p := range points {
		key = appendLineKey(key[:0], p.Branch, p.Params)
		li, ok := index[string(key)]
		if !ok {
			li = -1
		}
		out[i] = li
	}
	return out
}

// lineLabel names a line: its branch, and its parameters when the lines
// drawn have more than one set.
func lineLabel(branch string, ps []framework.Param, withParams bool) string {
	l := branchLabel(branch)
	if withParams {
		if t := paramsText(ps); t != "" {
			return l + " · " + t
		}
		return l + " · no parameters"
	}
	return l
}

// chartOf lays points (oldest first) out on the lines (on: onLines),
// with the change points, accepted levels and outliers of the baseline's
// lines.
func chartOf(title, unit string, points []store.TrendPoint, on []int, lines []line, cps []cpRow, levels map[string]*changepoints.Level, outliers map[int64]bool) chart {
	n := len(points)
	c := chart{Title: title, Unit: unit, X: make([]float64, 0, n), Y: make([]float64, 0, n), IDs: make([]int64, 0, n),
		Line: make([]int, 0, n), Verdicts: make([]string, 0, n), When: make([]string, 0, n), Commits: make([]string, 0, n),
		Lines: lines, Outliers: make([]*float64, 0, n), Marks: []mark{}, Bands: []band{}}
	at := make(map[int64]float64, n)
	for i, p := range points {
		li := on[i]
		if li < 0 {
			continue
		}
		x := float64(len(c.X) + 1)
		at[p.TestID] = x
		c.X = append(c.X, x)
		c.Y = append(c.Y, p.Value)
		c.IDs = append(c.IDs, p.TestID)
		c.Line = append(c.Line, li)
		c.Verdicts = append(c.Verdicts, p.Verdict)
		c.When = append(c.When, layout.Minute(p.CreatedAt))
		c.Commits = append(c.Commits, layout.ShortSHA(p.Commit))
		var o *float64
		if outliers[p.TestID] {
			v := p.Value // its own copy: a pointer to p would move every point to the heap
			o = &v
		}
		c.Outliers = append(c.Outliers, o)
	}
	for _, cp := range cps {
		x, ok := at[cp.TestID]
		if !ok {
			continue // the change's test is not among the points drawn
		}
		color, label := "#b91c1c", layout.Percent(cp.DeltaPct)
		switch {
		case cp.Weak: // below the threshold: drawn, faint, never alerted on
			color, label = "#9ca3af", label+" weak"
		case cp.AcceptedAt != nil:
			color = "#6b7280"
		}
		c.Marks = append(c.Marks, mark{X: x, Label: label, Color: color, Href: cp.Compare})
	}
	for _, l := range lines {
		lv := levels[l.Key]
		if lv == nil {
			continue
		}
		from := math.Inf(1)
		for _, id := range lv.Tests {
			if x, ok := at[id]; ok && x < from {
				from = x
			}
		}
		if math.IsInf(from, 1) {
			from = 1 // the level's tests are older than the points drawn
		}
		b := band{From: from, Level: lv.Mean, Low: lv.Mean * (1 - lv.Threshold), High: lv.Mean * (1 + lv.Threshold), Color: l.Color}
		b.Label = l.Label + ": accepted level " + layout.Number(lv.Mean)
		if lv.Threshold > 0 {
			b.Label += " ± " + strconv.FormatFloat(lv.Threshold*100, 'g', 4, 64) + "%"
		}
		c.Bands = append(c.Bands, b)
	}
	return c
}

// outliersOf finds the single-run outliers of each baseline line as
// change-point detection sees them: each line is one parameter set's
// history (on: onLines).
func outliersOf(points []store.TrendPoint, on []int, lines []line) map[int64]bool {
	out := map[int64]bool{}
	for li, l := range lines {
		if !l.Baseline {
			continue
		}
		var ids []int64
		var x []float64
		for i, p := range points {
			if on[i] == li {
				ids = append(ids, p.TestID)
				x = append(x, p.Value)
			}
		}
		for _, i := range changepoint.Outliers(x, changepoint.Defaults) {
			out[ids[i]] = true
		}
	}
	return out
}

// compareHref is the compare page of the tests around a change point,
// those before it first, so the level before is the reference.
func compareHref(before, after []int64) string {
	if len(before) == 0 || len(after) == 0 {
		return ""
	}
	ids := make([]string, 0, len(before)+len(after))
	for _, id := range append(append([]int64{}, before...), after...) {
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	return "/compare?ids=" + strings.Join(ids, ",")
}

// pages is how many table pages total points make.
func pages(total int) int { return max(1, (total+pageSize-1)/pageSize) }

// with returns the page's URL with a query parameter set ("" drops it).
func (m model) with(key, value string) string {
	q := url.Values{}
	for k, v := range m.Query {
		q[k] = v
	}
	q.Del("accepted")
	if key != "page" {
		q.Del("page")
	}
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	return "/trends?" + q.Encode()
}

// pointColumn is a sortable header of the points table.
type pointColumn struct {
	Label, Key string
	Num        bool
	// Params: shown only when the points' parameters are.
	Params bool
}

// pointColumns are the points table's columns, in order; each key is one
// of store.TrendSortColumns.
var pointColumns = []pointColumn{{Label: "Test", Key: "test"}, {Label: "Value", Key: "value", Num: true},
	{Label: "Verdict", Key: "verdict"}, {Label: "Branch", Key: "branch"}, {Label: "Parameters", Key: "params", Params: true},
	{Label: "Commit", Key: "commit"}, {Label: "Date", Key: "date"}}

// sortHref is the URL of the points sorted by key: ascending, or
// descending when they are sorted by it ascending already; from the first
// page.
func (m model) sortHref(key string) string {
	q := url.Values{}
	for k, v := range m.Query {
		q[k] = v
	}
	q.Del("accepted")
	q.Del("page")
	q.Set("sort", key)
	q.Set("dir", layout.NextSortDir(m.Sort, m.Dir, key))
	return "/trends?" + q.Encode() + "#points-title"
}

// ariaSort is the aria-sort of the points table's header of key ("" when
// the points are not sorted by it; by default they are newest first).
func (m model) ariaSort(key string) string {
	return layout.AriaSort(m.Sort, m.Dir, key, "test", "date")
}

// sortAttrs is a header's aria-sort attribute, none when unsorted.
func sortAttrs(sort string) templ.Attributes {
	if sort == "" {
		return nil
	}
	return templ.Attributes{"aria-sort": sort}
}

// order says in words how the points table is sorted.
func (m model) order() string {
	if m.Sort == "" {
		return "newest first"
	}
	for _, c := range pointColumns {
		if c.Key == m.Sort {
			if m.Dir == "desc" {
				return "by " + strings.ToLower(c.Label) + ", descending"
			}
			return "by " + strings.ToLower(c.Label) + ", ascending"
		}
	}
	return ""
}

// pageHref is the URL of page n of the points table.
func (m model) pageHref(n int) string {
	if n <= 1 {
		return m.with("page", "")
	}
	return m.with("page", strconv.Itoa(n))
}

// kpiHref is the URL of a KPI's own page, with the same selection.
func (m model) kpiHref(kpi string) string {
	q := url.Values{}
	for k, v := range m.Query {
		q[k] = v
	}
	q.Del("accepted")
	q.Del("page")
	q.Set("kpi", kpi)
	return "/trends?" + q.Encode()
}

// paramsHref is this page with one parameter set chosen.
func (m model) paramsHref(set string) string { return m.with("params", set) }

// first and last are the 1-based places of the table's rows among all.
func (m model) first() int { return (m.Page-1)*pageSize + 1 }
func (m model) last() int  { return (m.Page-1)*pageSize + len(m.Rows) }

// hasParamSet reports whether text is one of the parameter sets listed.
func (m model) hasParamSet(text string) bool {
	for _, p := range m.ParamSets {
		if p.Text == text {
			return true
		}
	}
	return false
}

// chartList is the small multiples' charts, in the page's order.
func (m model) chartList() charts {
	out := make(charts, len(m.Charts))
	for i, c := range m.Charts {
		out[i] = c.Chart
	}
	return out
}
