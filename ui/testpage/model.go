package testpage

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/answer"
	"github.com/pitwall/pitwall/ui/layout"
)

// tailLines is how many of the log's last lines the page shows.
const tailLines = 200

// tableRows is how many rows of each parsed CSV the page shows.
const tableRows = 50

// page is everything the test page draws.
type page struct {
	T         *wire.Test
	Tail      []wire.LogLine
	Artifacts []wire.Artifact
	// Tables hold their first tableRows rows only.
	Tables []store.TableHead
	// Queries are the PromQL queries the test ran over its window.
	Queries []wire.PromQuery
	// CanModify says whether the viewer may abort and rerun (the API
	// decides again when they try).
	CanModify bool
	// Flames are the test's profiles, drawn.
	Flames []tests.FlameGraph
	// Baselines are the judged KPIs' pooled baselines, by name.
	Baselines map[string]tests.BaselineKPI
	// Live is how far a running test is; nil once it has ended.
	Live *tests.Live
}

// baselineTest is the test a differential flame graph compares with: the
// chosen one, else the latest of the verdicts' baseline tests; 0: none.
func (p page) baselineTest() int64 {
	if p.T.CompareTo != nil {
		return *p.T.CompareTo
	}
	var b int64
	for _, id := range p.T.BaselineTests {
		if id != p.T.ID {
			b = max(b, id)
		}
	}
	return b
}

// chartData is what testpage.js needs to draw the charts, passed as a
// non-executed JSON script.
type chartData struct {
	Series string `json:"series"`
	Marks  []mark `json:"marks"`
	// Bands shade when interference generators ran.
	Bands []band `json:"bands"`
}

// mark is a vertical line on every chart: a script run's start or end.
type mark struct {
	X     float64 `json:"x"`
	Label string  `json:"label"`
	Color string  `json:"color,omitempty"`
}

func (p page) charts() chartData {
	d := chartData{Series: fmt.Sprintf("/api/v1/tests/%d/series?points=600", p.T.ID), Marks: []mark{},
		Bands: interferenceBands(p.T.Timeline)}
	for _, s := range p.T.Timeline {
		color := ""
		switch {
		case strings.HasSuffix(s.Stage, " started"):
			color = "#16a34a"
		case strings.HasSuffix(s.Stage, " ended"):
			color = "#dc2626"
		default:
			continue
		}
		d.Marks = append(d.Marks, mark{X: float64(s.At.UnixMilli()) / 1000, Label: s.Stage, Color: color})
	}
	return d
}

func (p page) ended() bool { return wire.Ended(p.T.State) }

// afterCursor is the log cursor the live tail continues from.
func (p page) afterCursor() string {
	if len(p.Tail) == 0 {
		return "0"
	}
	return strconv.FormatInt(p.Tail[len(p.Tail)-1].ID, 10)
}

// started is when the (first) script run began, else when the test was created.
func started(t *wire.Test) time.Time {
	for _, s := range t.Timeline {
		if strings.HasSuffix(s.Stage, " started") && s.Kind == "stage" {
			return s.At
		}
	}
	return t.CreatedAt
}

// duration is the test's age or, once ended, how long it took.
func duration(t *wire.Test) string {
	end := time.Now()
	if t.EndedAt != nil {
		end = *t.EndedAt
	}
	return end.Sub(t.CreatedAt).Round(100 * time.Millisecond).String()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func hosts(t *wire.Test) string {
	if len(t.Hosts) == 0 {
		return orDash(t.Host)
	}
	return strings.Join(t.Hosts, ", ")
}

// compareURL puts the test beside its baseline tests, the newest baseline
// test first as the reference (so a slower test reads +x%), then the test,
// then the other baseline tests (the compare page takes at most 10).
func compareURL(t *wire.Test) string {
	base := slices.Sorted(slices.Values(t.BaselineTests))
	slices.Reverse(base)
	var ids []string
	for i, b := range base {
		if len(ids) == 10 {
			break
		}
		ids = append(ids, strconv.FormatInt(b, 10))
		if i == 0 {
			ids = append(ids, strconv.FormatInt(t.ID, 10))
		}
	}
	return "/compare?ids=" + strings.Join(ids, ",")
}

func artifactURL(id int64, path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return fmt.Sprintf("/api/v1/tests/%d/artifacts/%s", id, strings.Join(parts, "/"))
}

// iterations lists the iteration numbers when the test repeated its script.
func iterations(t *wire.Test) []int {
	var out []int
	for _, k := range t.KPIs {
		if !slices.Contains(out, k.Iteration) {
			out = append(out, k.Iteration)
		}
	}
	slices.Sort(out)
	if len(out) < 2 {
		return nil
	}
	return out
}

// kpiAt is a KPI's value in one iteration, "—" when it has none.
func kpiAt(t *wire.Test, name string, it int, unit string) string {
	for _, k := range t.KPIs {
		if k.Name == name && k.Iteration == it {
			return layout.Value(k.Value, unit)
		}
	}
	return "—"
}

func verdictOf(t *wire.Test, name string) *wire.KPIVerdict {
	for i := range t.Verdicts {
		if t.Verdicts[i].Name == name {
			return &t.Verdicts[i]
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return orDash(s)
}

// wholeTable is where the whole of a table is: the CSV file it was read
// from, or (an imported test has no files) the API's tables.
func (p page) wholeTable(t store.TableHead) string {
	for _, a := range p.Artifacts {
		if a.Path == t.Name {
			return artifactURL(p.T.ID, a.Path)
		}
	}
	return fmt.Sprintf("/api/v1/tests/%d/tables", p.T.ID)
}

// moreRows reports whether a table has rows the page does not show.
func moreRows(t store.TableHead) bool { return t.RowCount > len(t.Rows) }

// promoted reports whether the test jumped the queue of a host because it
// had waited the priority limit.
func promoted(t *wire.Test) bool {
	for _, s := range t.Timeline {
		if s.Stage == wire.StagePromoted {
			return true
		}
	}
	return false
}

// rows are the KPIs in the order the answer reads.
func (p page) rows() []answer.Row { return answer.Rows(p.T, p.Baselines) }

// summaryLine is the verdict in one sentence, "" before there is one.
func (p page) summaryLine() string { return answer.Summary(p.T, len(p.T.KPISummary)) }

// trendURL is the KPI's trend over the tests of this framework with the
// same parameter values.
func trendURL(t *wire.Test, kpi string) string {
	q := url.Values{"framework": {t.Framework}, "kpi": {kpi}}
	if len(t.Params) > 0 {
		ps := make([]string, len(t.Params))
		for i, pa := range t.Params {
			ps[i] = pa.Name + "=" + pa.Value
		}
		q.Set("params", strings.Join(ps, ", "))
	}
	return "/trends?" + q.Encode()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// frameworkURL is the page of the test's framework.
func frameworkURL(t *wire.Test) string {
	return "/frameworks/" + url.PathEscape(t.Framework) + "?" + url.Values{"team": {t.Team}}.Encode()
}

// runText is "3 of 5", or "warm-up 1 of 2"; "" when the run is not known.
func runText(l *tests.Live) string {
	switch {
	case l.Run <= 0:
		return ""
	case l.Run <= l.Warmup:
		return fmt.Sprintf("warm-up %d of %d", l.Run, l.Warmup)
	}
	return fmt.Sprintf("%d of %d", l.Run-l.Warmup, l.Repeat)
}

// loadText says how far a multi-host test's load is: "load running on 2
// hosts for 12s", "load starting on 2 hosts", "load ended on 2 hosts";
// "" for a test on one host or before its hosts are chosen.
func loadText(l *tests.Live, now time.Time) string {
	running, of := l.LoadHosts()
	switch {
	case of == 0:
		return ""
	case running > 0 && !l.LoadStart.IsZero() && now.Before(l.LoadStart):
		return fmt.Sprintf("load starting on %d host%s in %s", running, plural(running), l.LoadStart.Sub(now).Round(time.Second))
	case running > 0 && !l.LoadStart.IsZero():
		return fmt.Sprintf("load running on %d of %d host%s for %s", running, of, plural(of), now.Sub(l.LoadStart).Round(time.Second))
	case running > 0:
		return fmt.Sprintf("load running on %d of %d host%s", running, of, plural(of))
	case !l.LoadStart.IsZero():
		return fmt.Sprintf("load ended on %d host%s", of, plural(of))
	}
	return fmt.Sprintf("%d load host%s being prepared", of, plural(of))
}

// elapsed is how long the test has been going.
func elapsed(t *wire.Test) string {
	return time.Since(t.CreatedAt).Round(time.Second).String()
}

// expectedText is "about 30s (median of 8 earlier tests)", "" without an estimate.
func expectedText(l *tests.Live) string {
	if l.From == 0 {
		return ""
	}
	return fmt.Sprintf("about %s (median of %d earlier test%s with these parameters)",
		l.Expected.Round(100*time.Millisecond), l.From, plural(l.From))
}

// liveKPIs are the names of the KPIs the collected iterations reported,
// in the order first seen.
func liveKPIs(l *tests.Live) []string {
	var out []string
	for _, it := range l.Iterations {
		for _, k := range it.KPIs {
			if !slices.Contains(out, k.Name) {
				out = append(out, k.Name)
			}
		}
	}
	return out
}

// liveValue is an iteration's value of a KPI, "—" when it has none.
func liveValue(it tests.LiveIteration, name string) string {
	for _, k := range it.KPIs {
		if k.Name == name {
			v := strconv.FormatFloat(k.Value, 'g', 6, 64)
			if k.Unit != "" {
				v += " " + k.Unit
			}
			return v
		}
	}
	return "—"
}

// migrationsText is a test's CPU migrations: the count, the rate and,
// when known, the usual rate of the framework's tests on the hardware.
func migrationsText(m *wire.CPUMigrations) string {
	secs := fmt.Sprintf("%.0f", m.Seconds)
	if m.Seconds < 10 {
		secs = fmt.Sprintf("%.2f", m.Seconds)
	}
	out := fmt.Sprintf("%d in %s s (%.1f/s)", m.Count, secs, m.PerSecond)
	if m.Usual > 0 {
		out += fmt.Sprintf("; usual %.1f/s on this hardware", m.Usual)
	}
	return out
}

// first is the first of two values (a templ expression takes one).
func first(a, _ int) int { return a }
