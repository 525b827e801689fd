// Package trends is /trends?framework=NAME&kpi=K: a KPI's value across
// tests in the order they ran, one line per branch and parameter set, with
// verdicts, the accepted level, change points (linked to their compare)
// and a paged table of points; accepting a change as intended; and, with
// no KPI, every KPI of the framework as small multiples.
package trends

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/changepoints"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/ui/answer"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/route"
)

// Handler serves the trends page and its accept form.
type Handler struct {
	Frameworks   *frameworks.Service
	ChangePoints *changepoints.Service
	Log          *slog.Logger
}

// Routes registers GET /trends and POST /trends/changepoints/{cid}/accept.
func (h Handler) Routes(mux *route.Mux) {
	mux.HandleFunc("GET /trends", h.trends)
	mux.HandleFunc("POST /trends/changepoints/{cid}/accept", h.accept)
}

func (h Handler) trends(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := model{Framework: q.Get("framework"), KPI: q.Get("kpi"), ParamsText: q.Get("params"),
		Team: q.Get("team"), Accepted: q.Get("accepted"), Page: 1}
	var err error
	// The picker's names only: the definition read is the one framework's.
	if m.Frameworks, err = h.Frameworks.Names(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	if m.Framework == "" {
		layout.Render(w, r, http.StatusOK, view(m))
		return
	}
	// The framework the user may see with this name (in ?team= if given).
	var fw *wire.FrameworkInfo
	for _, f := range m.Frameworks {
		if f.Name == m.Framework && (m.Team == "" || f.Team == m.Team) {
			// Not found when it went since listed: answered below.
			if fw, err = h.Frameworks.Get(r.Context(), frameworks.Ref{Team: f.Team, Name: f.Name}); err != nil &&
				service.KindOf(err) != service.NotFound {
				h.fail(w, r, err)
				return
			}
			break
		}
	}
	if fw == nil {
		m.Error = fmt.Sprintf("framework %q not found", m.Framework)
		layout.Render(w, r, http.StatusNotFound, view(m))
		return
	}
	m.Team, m.BaselineBranch = fw.Team, fw.BaselineBranch
	params, err := parseParams(m.ParamsText)
	if err != nil {
		m.Error = err.Error()
		layout.Render(w, r, http.StatusBadRequest, view(m))
		return
	}
	if p := q.Get("page"); p != "" {
		if m.Page, err = strconv.Atoi(p); err != nil || m.Page < 1 {
			m.Error = fmt.Sprintf("page is a page number of the points table, 1 or more; %q is not", p)
			layout.Render(w, r, http.StatusBadRequest, view(m))
			return
		}
	}
	if m.Sort, m.Dir, err = parseSort(q); err != nil {
		m.Error = err.Error()
		layout.Render(w, r, http.StatusBadRequest, view(m))
		return
	}
	if m.KPIs, err = h.ChangePoints.KPINames(r.Context(), fw); err != nil {
		h.fail(w, r, err)
		return
	}
	// Declared KPIs first, in the framework's order.
	var names []string
	for _, k := range fw.KPIs {
		names = append(names, k.Name)
		if k.Name == m.KPI {
			m.Unit, m.Better = k.Unit, k.Better
		}
	}
	for _, k := range m.KPIs {
		if !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	m.KPIs = names
	if len(m.KPIs) == 0 {
		layout.Render(w, r, http.StatusOK, view(m))
		return
	}
	// A KPI's page reads its points and series in one query when the
	// KPI has fewer than a chart's points; otherwise, as the small
	// multiples, the series apart and then each line's points (a KPI of
	// 2,000 tests or more has read its newest 2,000 in vain first).
	var (
		every []store.TrendPoint
		lines []store.TrendSeries
		whole bool
	)
	if m.KPI != "" {
		every, lines, whole, err = h.ChangePoints.TrendLines(r.Context(), fw, m.KPI, chartMax)
	}
	if err == nil && !whole {
		lines, err = h.ChangePoints.Series(r.Context(), fw, m.KPI)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.lines(fw, &m, params, q["branch"], lines)
	m.Query = q
	m.Self = r.URL.RequestURI()
	if m.KPI == "" {
		err = h.multiples(r, fw, &m, params)
	} else {
		err = h.single(r, fw, &m, params, every, whole)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if m.PageError != "" {
		status = http.StatusNotFound
	}
	layout.Render(w, r, status, view(m))
}

// lines chooses the series to draw: the branches asked for (the baseline
// branch by default) and every parameter set matching the filter, one
// line each, so no branch or parameter set is ever drawn into another's.
func (h Handler) lines(fw *wire.FrameworkInfo, m *model, params []framework.Param, asked []string, series []store.TrendSeries) {
	counts := map[string]int{}
	var branches []string
	sets := map[string]int{}
	var setOrder []string
	for _, s := range series {
		if !contains(s.Params, params) {
			continue
		}
		if _, ok := counts[s.Branch]; !ok {
			branches = append(branches, s.Branch)
		}
		counts[s.Branch] += s.Tests
		t := paramsText(s.Params)
		if _, ok := sets[t]; !ok {
			setOrder = append(setOrder, t)
		}
		sets[t] += s.Tests
	}
	for _, t := range setOrder {
		m.ParamSets = append(m.ParamSets, paramOption{Text: t, Tests: sets[t]})
	}
	// The baseline branch first, then the others as they were last run.
	if i := slices.Index(branches, fw.BaselineBranch); i > 0 {
		branches = slices.Insert(slices.Delete(branches, i, i+1), 0, fw.BaselineBranch)
	}
	selected := map[string]bool{}
	for _, b := range asked {
		switch b {
		case "":
		case noBranch:
			selected[""] = true
		default:
			selected[b] = true
		}
	}
	if len(selected) == 0 && len(branches) > 0 {
		m.BranchDefault = true
		selected[branches[0]] = true
		m.NoBaseline = branches[0] != fw.BaselineBranch
	}
	for _, b := range branches {
		m.Branches = append(m.Branches, branchOption{Name: b, Tests: counts[b], Selected: selected[b]})
	}
	for b := range selected {
		if _, ok := counts[b]; !ok {
			// Asked for, without tests: listed, so it can be unticked.
			m.Branches = append(m.Branches, branchOption{Name: b, Selected: true})
		}
	}
	nsets := map[string]bool{}
	for _, s := range series {
		if selected[s.Branch] && contains(s.Params, params) {
			nsets[paramsText(s.Params)] = true
		}
	}
	m.ShowParams = len(nsets) > 1
	// Baseline lines first; series come newest first.
	for _, baseline := range []bool{true, false} {
		for _, s := range series {
			if !selected[s.Branch] || !contains(s.Params, params) || (s.Branch == fw.BaselineBranch) != baseline {
				continue
			}
			m.Lines = append(m.Lines, line{Branch: s.Branch, Params: s.Params, Key: lineKey(s.Branch, s.Params),
				Label: lineLabel(s.Branch, s.Params, m.ShowParams), Color: lineColors[len(m.Lines)%len(lineColors)],
				Baseline: baseline})
		}
	}
}

// parseSort reads the points table's order: sort (a column of
// store.TrendSortColumns, "" for newest first) and dir (asc, the
// default, or desc).
func parseSort(q url.Values) (sort, dir string, err error) {
	sort, dir = q.Get("sort"), q.Get("dir")
	if _, ok := store.TrendSortColumns[sort]; sort != "" && !ok {
		return "", "", fmt.Errorf("sort is a column of the points table (%s); %q is not", strings.Join(sortKeys(), ", "), sort)
	}
	if dir != "" && dir != "asc" && dir != "desc" {
		return "", "", fmt.Errorf("dir is asc or desc; %q is not", dir)
	}
	if sort == "" {
		dir = ""
	}
	return sort, dir, nil
}

// sortKeys are the points table's sort columns, in the table's order.
func sortKeys() []string {
	out := make([]string, len(pointColumns))
	for i, c := range pointColumns {
		out[i] = c.Key
	}
	return out
}

// ticked are the branches of the page's lines (none ticked: an empty
// list, which picks no test).
func (m *model) ticked() []string {
	branches := []string{}
	for _, b := range m.Branches {
		if b.Selected {
			branches = append(branches, b.Name)
		}
	}
	return branches
}

// filter is the trend filter of the page's lines for one KPI.
func (m *model) filter(kpi string, params []framework.Param, limit, offset int) store.TrendFilter {
	return store.TrendFilter{Team: m.Team, Framework: m.Framework, KPI: kpi, Branches: m.ticked(), Params: params,
		Limit: limit, Offset: offset}
}

// picked keeps the points of the page's lines: of a branch ticked, with
// the parameter values asked for (what filter asks the store for).
func (m *model) picked(points []store.TrendPoint, params []framework.Param) []store.TrendPoint {
	ticked := m.ticked()
	out := make([]store.TrendPoint, 0, len(points))
	for _, p := range points {
		if slices.Contains(ticked, p.Branch) && contains(p.Params, params) {
			out = append(out, p)
		}
	}
	return out
}

// single fills a KPI's page: its chart, change points and a page of
// points. When whole, every is each point of the KPI, newest first
// (Service.TrendLines), and the chart's are picked from them.
func (h Handler) single(r *http.Request, fw *wire.FrameworkInfo, m *model, params []framework.Param, every []store.TrendPoint, whole bool) error {
	ctx := r.Context()
	var (
		newest []store.TrendPoint
		total  int
		err    error
	)
	if whole {
		newest = m.picked(every, params)
		total = len(newest)
	} else if newest, total, err = h.ChangePoints.Trend(ctx, m.filter(m.KPI, params, chartMax, 0)); err != nil {
		return err
	}
	m.Total = total
	points := slices.Clone(newest)
	slices.Reverse(points)
	on := onLines(points, m.Lines)
	outliers := outliersOf(points, on, m.Lines)
	if m.Page > pages(total) {
		n := "pages"
		if pages(total) == 1 {
			n = "page"
		}
		m.PageError = fmt.Sprintf("There is no page %d: %d points fill %d %s of %d.", m.Page, total, pages(total), n, pageSize)
	} else {
		page := newest
		from := (m.Page - 1) * pageSize
		if total <= len(newest) && m.Sort == "" {
			page = newest[from:min(from+pageSize, len(newest))]
		} else {
			// Another order, or past the chart's points: the page of
			// every point in the order asked for.
			f := m.filter(m.KPI, params, pageSize, from)
			f.Sort, f.Desc = m.Sort, m.Dir == "desc"
			if page, _, err = h.ChangePoints.Trend(ctx, f); err != nil {
				return err
			}
		}
		for _, p := range page {
			m.Rows = append(m.Rows, row{TrendPoint: p, Outlier: outliers[p.TestID], Params: paramsText(p.Params)})
		}
	}
	all, err := h.ChangePoints.List(ctx, fw.Team, fw.Name)
	if err != nil {
		return err
	}
	var cpTests []int64
	for _, c := range all {
		if c.KPI == m.KPI && contains(c.Params, params) {
			m.ChangePoints = append(m.ChangePoints, cpRow{ChangePoint: c})
			cpTests = append(cpTests, c.TestID)
		}
	}
	if len(cpTests) > 0 {
		near, err := h.ChangePoints.Neighbours(ctx, fw, m.KPI, cpTests, around)
		if err != nil {
			return err
		}
		for i, c := range m.ChangePoints {
			n := near[c.TestID]
			m.ChangePoints[i].BeforeIDs, m.ChangePoints[i].AfterIDs = n.Before, n.After
			m.ChangePoints[i].SideBySide = compareHref(n.Before, n.After)
			if len(n.Before) > 0 {
				m.ChangePoints[i].Compare = answer.CompareURL(c.TestID, m.KPI)
			}
		}
	}
	levels, err := h.levels(r, fw, m, m.KPI, points, on)
	if err != nil {
		return err
	}
	for _, l := range m.Lines {
		if lv := levels[l.Key]; lv != nil {
			n := levelNote{Line: l.Label, Level: lv.Mean, Threshold: lv.Threshold * 100, Low: lv.Mean * (1 - lv.Threshold),
				High: lv.Mean * (1 + lv.Threshold), N: len(lv.Tests), Newest: lv.Tests[0], Oldest: lv.Tests[len(lv.Tests)-1]}
			m.Levels = append(m.Levels, n)
		}
	}
	m.MayAccept = changepoints.MayAccept(ctx, fw.Team)
	c := kpiChart{KPI: m.KPI, Unit: m.Unit, Better: m.Better, Total: total,
		Chart: chartOf(m.Framework+" · "+m.KPI, m.Unit, points, on, m.Lines, m.ChangePoints, levels, outliers)}
	m.Charts = []kpiChart{c}
	return nil
}

// multiples fills a framework's page: one small chart per KPI.
func (h Handler) multiples(r *http.Request, fw *wire.FrameworkInfo, m *model, params []framework.Param) error {
	ctx := r.Context()
	all, err := h.ChangePoints.List(ctx, fw.Team, fw.Name)
	if err != nil {
		return err
	}
	// Every KPI's newest points in one query.
	trends, totals, err := h.ChangePoints.Trends(ctx, m.filter("", params, smallMax, 0), m.KPIs)
	if err != nil {
		return err
	}
	for _, kpi := range m.KPIs {
		newest, total := trends[kpi], totals[kpi]
		points := slices.Clone(newest)
		slices.Reverse(points)
		var cps []cpRow
		for _, c := range all {
			if c.KPI == kpi && contains(c.Params, params) {
				cps = append(cps, cpRow{ChangePoint: c})
			}
		}
		on := onLines(points, m.Lines)
		levels, err := h.levels(r, fw, m, kpi, points, on)
		if err != nil {
			return err
		}
		c := kpiChart{KPI: kpi, Total: total, Href: m.kpiHref(kpi)}
		for _, k := range fw.KPIs {
			if k.Name == kpi {
				c.Unit, c.Better = k.Unit, k.Better
			}
		}
		if len(newest) > 0 {
			c.Latest = &newest[0]
		}
		c.Chart = chartOf(kpi, c.Unit, points, on, m.Lines, cps, levels, outliersOf(points, on, m.Lines))
		c.Chart.Compact, c.Chart.Href = true, c.Href
		m.Charts = append(m.Charts, c)
	}
	return nil
}

// levels finds the accepted level of each baseline line drawn, from the
// newest test of the line.
func (h Handler) levels(r *http.Request, fw *wire.FrameworkInfo, m *model, kpi string, points []store.TrendPoint, on []int) (map[string]*changepoints.Level, error) {
	out := map[string]*changepoints.Level{}
	for li, l := range m.Lines {
		if !l.Baseline {
			continue
		}
		var head int64
		for i, p := range points {
			if on[i] == li {
				head = p.TestID
			}
		}
		if head == 0 {
			continue
		}
		lv, err := h.ChangePoints.Level(r.Context(), fw, kpi, head)
		if err != nil {
			return nil, err
		}
		out[l.Key] = lv
	}
	return out, nil
}

// accept marks a change point as intended through the change points service,
// then returns to the trend it was accepted from.
func (h Handler) accept(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("cid"), 10, 64)
	if _, err := h.ChangePoints.Accept(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	back := r.PostFormValue("back")
	// Only back to a trends page of this site.
	if !strings.HasPrefix(back, "/trends?") {
		back = "/trends"
	}
	u, err := url.Parse(back)
	if err != nil {
		u = &url.URL{Path: "/trends"}
	}
	q := u.Query()
	q.Set("accepted", strconv.FormatInt(id, 10))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
}

// fail answers a service error with its status and message, as plain text.
func (h Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	layout.Fail(w, r, h.Log, err)
}

// parseParams reads "name=value, name=value".
func parseParams(s string) ([]framework.Param, error) {
	var out []framework.Param
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("parameters are name=value, comma-separated; %q is not", part)
		}
		out = append(out, framework.Param{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return out, nil
}

// contains reports whether have holds every parameter value of want.
func contains(have, want []framework.Param) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
