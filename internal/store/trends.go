package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pitwall/pitwall/internal/framework"
)

// TrendPoint is one finished test's mean of a KPI, for a KPI's trend.
type TrendPoint struct {
	TestID    int64
	CreatedAt time.Time
	Branch    string
	Commit    string
	// Verdict is the verdict on this KPI of the test ("" when it has none:
	// an undeclared KPI, or a test not judged).
	Verdict string
	Value   float64
	// Params are the test's parameter values; the points of one trend
	// with the same values share one slice, not to be modified.
	Params []framework.Param
}

// TrendFilter picks the tests of a trend: a framework's KPI, optionally on
// some branches and with some parameter values.
type TrendFilter struct {
	Team, Framework, KPI string
	// Branches keeps the tests of these branches; nil keeps every branch.
	Branches []string
	// Params are parameter values the tests must have (they may have more).
	Params []framework.Param
	// Limit and Offset page the tests, newest first; Limit 0 is 500.
	Limit, Offset int
	// Sort orders the page by a column of TrendSortColumns instead ("":
	// newest first); Desc reverses it.
	Sort string
	Desc bool
}

// TrendSortColumns are the columns a trend's points sort by, each with its
// SQL expression (the only text of a sort that reaches SQL). Ties are
// broken by the test ID in the same direction.
var TrendSortColumns = map[string]string{
	"test":    "t.id",
	"value":   "k.value",
	"verdict": "coalesce(v.verdict, '')",
	"branch":  "t.branch",
	"params":  "t.params::text",
	"commit":  "t.commit_sha",
	"date":    "t.created_at",
}

// params is the filter's parameters as the JSON containment operand.
func (f TrendFilter) params() (string, error) {
	params := f.Params
	if params == nil {
		params = []framework.Param{}
	}
	want, err := json.Marshal(params)
	return string(want), err
}

// trendSQL is a KPI's page of points ($3: the KPI) in the order given,
// with how many there are in all when withTotal (a window count over
// every point, a quarter of the query's time at a few hundred points:
// KPITrend, whose pages are seldom full, leaves it out and counts apart
// only a full page; KPITrends, whose small multiples' pages of 200 are
// full on any long history, keeps it, a count query after the batch
// being dearer). The tests come from tests_trend_idx (migration 00029)
// and the KPI's values from one range of test_kpis_trend_idx (00030),
// joined in one pass instead of a probe per test.
//
// The points' verdicts are "" unless withVerdicts: a page ordered by
// verdict needs every point's verdict before it is cut (a probe a point
// of test_kpi_verdicts_framework_idx, 00034); the other pages' verdicts
// are read after it, one index range a page (trendVerdicts).
//
// With no parameter values asked for (want "[]"), the tests' parameters
// are not tested at all: "@> '[]'" holds for every test, yet a generic
// plan still tested it on every row.
func trendSQL(order string, withTotal bool, want string, withVerdicts bool) string {
	total := ""
	if withTotal {
		total = ", count(*) OVER ()"
	}
	verdict, join := "''", ""
	if withVerdicts {
		verdict = "coalesce(v.verdict, '')"
		join = `
		LEFT JOIN test_kpi_verdicts v ON v.framework_id = t.framework_id AND v.kpi = $3 AND v.test_id = t.id`
	}
	return `
		WITH f AS (SELECT id FROM frameworks WHERE team = $1 AND name = $2)
		SELECT t.id, t.created_at, t.branch, t.commit_sha, ` + verdict + `, k.value, t.params::text` + total + `
		FROM tests t
		JOIN (SELECT test_id, avg(value) AS value FROM test_kpis
		      WHERE framework_id = (SELECT id FROM f) AND name = $3 GROUP BY test_id) k ON k.test_id = t.id` + join + `
		WHERE t.framework_id = (SELECT id FROM f) AND t.state = 'finished' AND t.confirmation_arm = ''
		  AND ($4::text[] IS NULL OR t.branch = ANY($4)) AND ` + paramsMatch(want) + `
		ORDER BY ` + order + ` LIMIT $6 OFFSET $7`
}

// byVerdict says whether the filter's page is ordered by the points'
// verdicts (trendSQL then joins them).
func (f TrendFilter) byVerdict() bool { return f.Sort == "verdict" }

// interned keeps one string a distinct text read from the driver's
// buffer (the few values that repeat from row to row).
type interned map[string]string

func (in interned) of(b []byte) string {
	s, ok := in[string(b)]
	if !ok {
		s = string(b)
		in[s] = s
	}
	return s
}

// trendVerdicts fills in the verdicts of pages of a framework's points,
// by KPI, in one round trip: a page's are one range of
// test_kpi_verdicts_framework_idx (00034), from its oldest test to its
// newest. (Joined to the points in their statement, the verdicts were a
// probe a point, 365 on a year's page; read as a range in the same
// statement, the page's LIMIT being a parameter, the planner could join
// them as it liked: 18 ms a page once the bench's throughput tests were
// in the database, which fits the range read once a point.)
func (s *Store) trendVerdicts(ctx context.Context, team, name string, pages map[string][]TrendPoint) error {
	b := &pgx.Batch{}
	var kpis []string
	for kpi, points := range pages {
		if len(points) == 0 {
			continue
		}
		lo, hi := points[0].TestID, points[0].TestID
		for _, p := range points {
			lo, hi = min(lo, p.TestID), max(hi, p.TestID)
		}
		kpis = append(kpis, kpi)
		b.Queue(`SELECT test_id, verdict FROM test_kpi_verdicts
			WHERE framework_id = (SELECT id FROM frameworks WHERE team = $1 AND name = $2) AND kpi = $3
			  AND test_id BETWEEN $4 AND $5`, team, name, kpi, lo, hi)
	}
	if len(kpis) == 0 {
		return nil
	}
	res := s.pool.SendBatch(ctx, b)
	defer res.Close()
	var (
		id      int64
		verdict pgtype.DriverBytes
	)
	verdictTexts := interned{}
	for _, kpi := range kpis {
		rows, err := res.Query()
		if err != nil {
			return err
		}
		verdicts := map[int64]string{}
		_, err = pgx.ForEachRow(rows, []any{&id, &verdict}, func() error {
			verdicts[id] = verdictTexts.of(verdict)
			return nil
		})
		if err != nil {
			return err
		}
		points := pages[kpi]
		for i := range points {
			points[i].Verdict = verdicts[points[i].TestID]
		}
	}
	return res.Close()
}

// paramsMatch is the condition on the tests' parameters ($5, want): none
// when want asks for none ($5 is compared once, not on every row).
func paramsMatch(want string) string {
	if want == "[]" {
		return "$5::jsonb = '[]'"
	}
	return "t.params @> $5::jsonb"
}

// trendRows reads trendSQL's rows, and the total when withTotal (0
// without rows), calling each, when not nil, with every point and the
// index of its parameter set in ps (one a distinct text as the query
// gave it: jsonb's text). The text columns that repeat from point to
// point (branch, verdict, parameters) are read from the driver's buffer
// and kept once a value, so a long trend allocates per point only its
// commit; points of one parameter set share its Params (read-only).
func trendRows(rows pgx.Rows, ps *paramSets, withTotal bool, each func(p *TrendPoint, set int)) ([]TrendPoint, int, error) {
	var (
		out                     []TrendPoint
		p                       TrendPoint
		branch, verdict, params pgtype.DriverBytes
		total                   int
	)
	texts := interned{}
	dest := []any{&p.TestID, &p.CreatedAt, &branch, &p.Commit, &verdict, &p.Value, &params}
	if withTotal {
		dest = append(dest, &total)
	}
	_, err := pgx.ForEachRow(rows, dest,
		func() error {
			set, err := ps.decode(params)
			if err != nil {
				return fmt.Errorf("test %d's parameters: %w", p.TestID, err)
			}
			p.Branch, p.Verdict, p.Params = texts.of(branch), texts.of(verdict), ps.sets[set]
			if each != nil {
				each(&p, set)
			}
			out = append(out, p)
			p = TrendPoint{}
			return nil
		})
	return out, total, err
}

// counted says whether a page of n points of a filter says how many
// points there are in all: a page shorter than its limit, with points or
// on the first page.
func (f TrendFilter) counted(n int) bool { return n < f.Limit && (n > 0 || f.Offset == 0) }

// KPITrend returns one page, newest first, of the mean of a KPI over each
// finished test of a framework that matches the filter, each with its
// verdict on this KPI, and how many tests match in all (trendSQL).
func (s *Store) KPITrend(ctx context.Context, f TrendFilter) ([]TrendPoint, int, error) {
	if f.Limit <= 0 {
		f.Limit = 500
	}
	want, err := f.params()
	if err != nil {
		return nil, 0, err
	}
	order, err := f.order()
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, trendSQL(order, false, want, f.byVerdict()), f.Team, f.Framework, f.KPI, f.Branches, want, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, err
	}
	out, _, err := trendRows(rows, &paramSets{}, false, nil)
	if err == nil && !f.byVerdict() {
		err = s.trendVerdicts(ctx, f.Team, f.Framework, map[string][]TrendPoint{f.KPI: out})
	}
	if err != nil {
		return nil, 0, err
	}
	if f.counted(len(out)) {
		return out, f.Offset + len(out), nil
	}
	// A full page, or past the last one: counted apart.
	counts, err := s.trendCounts(ctx, f, want, []string{f.KPI})
	return out, counts[f.KPI], err
}

// trendCounts counts each KPI's points in all, for full pages and pages
// past the last.
func (s *Store) trendCounts(ctx context.Context, f TrendFilter, want string, kpis []string) (map[string]int, error) {
	// Per KPI, the tests with it as a semi-join of two index ranges (no
	// sort, as count(DISTINCT) over the KPI rows needed).
	rows, err := s.pool.Query(ctx, `
		WITH f AS (SELECT id FROM frameworks WHERE team = $1 AND name = $2)
		SELECT kn.name, (SELECT count(*) FROM tests t
			WHERE t.framework_id = (SELECT id FROM f) AND t.state = 'finished' AND t.confirmation_arm = ''
			  AND ($4::text[] IS NULL OR t.branch = ANY($4)) AND `+paramsMatch(want)+`
			  AND t.id IN (SELECT test_id FROM test_kpis WHERE framework_id = (SELECT id FROM f) AND name = kn.name))
		FROM unnest($3::text[]) AS kn(name)`,
		f.Team, f.Framework, kpis, f.Branches, want)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	var (
		kpi string
		n   int
	)
	_, err = pgx.ForEachRow(rows, []any{&kpi, &n}, func() error {
		if n > 0 { // as a KPI without points has no count
			out[kpi] = n
		}
		return nil
	})
	return out, err
}

// order is the SQL order of the filter's points: newest first, or by a
// column of TrendSortColumns.
func (f TrendFilter) order() (string, error) {
	if f.Sort == "" {
		return "t.id DESC", nil
	}
	expr, ok := TrendSortColumns[f.Sort]
	if !ok {
		return "", fmt.Errorf("unknown sort column %q", f.Sort)
	}
	dir := "ASC"
	if f.Desc {
		dir = "DESC"
	}
	return expr + " " + dir + ", t.id " + dir, nil
}

// paramSets decodes tests' parameters read as text, once per distinct set
// (a framework's tests share a few).
type paramSets struct {
	index map[string]int
	sets  [][]framework.Param
}

// decode returns the index in sets of the parameters of text.
func (ps *paramSets) decode(text []byte) (int, error) {
	if i, ok := ps.index[string(text)]; ok {
		return i, nil
	}
	var d []framework.Param
	if err := json.Unmarshal(text, &d); err != nil {
		return 0, err
	}
	if ps.index == nil {
		ps.index = map[string]int{}
	}
	ps.index[string(text)] = len(ps.sets)
	ps.sets = append(ps.sets, d)
	return len(ps.sets) - 1, nil
}

// KPITrends is KPITrend for several KPIs at once, in one round trip (a
// batch of trendSQL with its count, one a KPI): each KPI's page of points (f.KPI
// is not used) and how many tests have it in all, by KPI; a KPI without
// points is missing from both. (One query numbering every KPI's points
// with window functions sorted all of them together and cost about twice
// as much a point.)
func (s *Store) KPITrends(ctx context.Context, f TrendFilter, kpis []string) (map[string][]TrendPoint, map[string]int, error) {
	if f.Limit <= 0 {
		f.Limit = 500
	}
	want, err := f.params()
	if err != nil {
		return nil, nil, err
	}
	order, err := f.order()
	if err != nil {
		return nil, nil, err
	}
	q, b := trendSQL(order, true, want, f.byVerdict()), &pgx.Batch{}
	for _, k := range kpis {
		b.Queue(q, f.Team, f.Framework, k, f.Branches, want, f.Limit, f.Offset)
	}
	out, totals, ps := map[string][]TrendPoint{}, map[string]int{}, &paramSets{}
	var past []string
	err = func() error {
		res := s.pool.SendBatch(ctx, b)
		defer res.Close()
		for _, k := range kpis {
			rows, err := res.Query()
			if err != nil {
				return err
			}
			points, total, err := trendRows(rows, ps, true, nil)
			if err != nil {
				return err
			}
			switch {
			case len(points) > 0:
				out[k], totals[k] = points, total
			case f.Offset > 0:
				past = append(past, k)
			}
		}
		return res.Close()
	}()
	if err == nil && !f.byVerdict() {
		err = s.trendVerdicts(ctx, f.Team, f.Framework, out)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(past) > 0 {
		// Past the last page: the count still says how many there are.
		counts, err := s.trendCounts(ctx, f, want, past)
		if err != nil {
			return nil, nil, err
		}
		for k, n := range counts {
			totals[k] = n
		}
	}
	return out, totals, nil
}

// TrendSeries is one branch and set of parameter values a framework's
// finished tests were run with: one line of a trend.
type TrendSeries struct {
	Branch string
	Params []framework.Param
	// Tests is how many finished tests it has (with the KPI, when one was
	// asked for); Latest is the newest of them.
	Tests  int
	Latest int64
}

// KPITrendSeries lists the branches and parameter sets of a framework's
// finished tests that have the KPI (any KPI when kpi is ""), newest first.
// The tests with the KPI are one range of test_kpis_trend_idx (00030).
func (s *Store) KPITrendSeries(ctx context.Context, team, name, kpi string) ([]TrendSeries, error) {
	// Two statements, not "($3 = '' OR k.name = $3)": a prepared
	// statement's generic plan could then not bound the range by the name
	// and read every KPI row of the framework (twice the time at 183
	// tests of 3 KPIs).
	ofKPI := "AND k.name = $3"
	if kpi == "" {
		ofKPI = "AND $3 = ''"
	}
	rows, err := s.pool.Query(ctx, `
		WITH f AS (SELECT id FROM frameworks WHERE team = $1 AND name = $2)
		SELECT t.branch, t.params, count(*), max(t.id)
		FROM tests t
		WHERE t.framework_id = (SELECT id FROM f) AND t.state = 'finished' AND t.confirmation_arm = ''
		  AND t.id IN (SELECT k.test_id FROM test_kpis k WHERE k.framework_id = (SELECT id FROM f) `+ofKPI+`)
		GROUP BY t.branch, t.params ORDER BY max(t.id) DESC`, team, name, kpi)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[TrendSeries])
}

// KPITrendLines returns every point of a framework's KPI (its finished
// tests with the KPI, on every branch and with every parameter set),
// newest first, and the series they make (what KPITrendSeries answers for
// the KPI), from one query, when there are fewer than max; whole is false
// when there are max or more, and nothing else is returned then (a trend
// page then asks KPITrendSeries and KPITrend). A trend page of a KPI
// draws a few of the series from the same points, so with one query
// instead of two (both reading every point) its database time no longer
// counts each point twice.
func (s *Store) KPITrendLines(ctx context.Context, team, name, kpi string, max int) (points []TrendPoint, series []TrendSeries, whole bool, err error) {
	rows, err := s.pool.Query(ctx, trendSQL("t.id DESC", false, "[]", false), team, name, kpi, nil, "[]", max, 0)
	if err != nil {
		return nil, nil, false, err
	}
	// Newest first: a series' first point is its newest, so the series
	// come in the order of their newest test, as KPITrendSeries's.
	type key struct {
		branch string
		set    int
	}
	index := map[key]int{}
	points, _, err = trendRows(rows, &paramSets{}, false, func(p *TrendPoint, set int) {
		k := key{p.Branch, set}
		i, ok := index[k]
		if !ok {
			i = len(series)
			index[k] = i
			series = append(series, TrendSeries{Branch: p.Branch, Params: slices.Clone(p.Params), Latest: p.TestID})
		}
		series[i].Tests++
	})
	if err != nil || len(points) >= max {
		return nil, nil, false, err
	}
	if err := s.trendVerdicts(ctx, team, name, map[string][]TrendPoint{kpi: points}); err != nil {
		return nil, nil, false, err
	}
	return points, series, true, nil
}

// Neighbours are the tests either side of a change point in its history.
type Neighbours struct {
	// TestID is the change point's test.
	TestID int64
	// Before are the newest tests before it, After the oldest from it on,
	// each oldest first.
	Before, After []int64
}

// ChangePointNeighbours returns, for each change point's test, up to n
// finished tests of its KPI history (the same framework and parameter
// values, on the baseline branch or marked as baseline, with the KPI)
// before it and up to n from it on: the tests to compare across the change.
func (s *Store) ChangePointNeighbours(ctx context.Context, testIDs []int64, baselineBranch, kpi string, n int) ([]Neighbours, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t.id,
		  coalesce((SELECT array_agg(id ORDER BY id) FROM (
		    SELECT b.id FROM tests b WHERE b.framework_id = t.framework_id AND b.params = t.params
		      AND b.state = 'finished' AND (b.branch = $2 OR b.baseline) AND b.confirmation_arm = '' AND b.id < t.id
		      AND EXISTS (SELECT 1 FROM test_kpis k WHERE k.test_id = b.id AND k.name = $3)
		    ORDER BY b.id DESC LIMIT $4) q), '{}'),
		  coalesce((SELECT array_agg(id ORDER BY id) FROM (
		    SELECT a.id FROM tests a WHERE a.framework_id = t.framework_id AND a.params = t.params
		      AND a.state = 'finished' AND (a.branch = $2 OR a.baseline) AND a.confirmation_arm = '' AND a.id >= t.id
		      AND EXISTS (SELECT 1 FROM test_kpis k WHERE k.test_id = a.id AND k.name = $3)
		    ORDER BY a.id LIMIT $4) q), '{}')
		FROM tests t WHERE t.id = ANY($1) ORDER BY t.id`, testIDs, baselineBranch, kpi, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Neighbours])
}

// FrameworkKPINames lists the KPI names a framework's tests have reported.
// The names come from framework_kpis (migration 00029), each checked
// against the framework's KPI rows (test_kpis_trend_idx, 00030), so the
// list costs an index probe per name, not a read of every KPI row of the
// framework.
func (s *Store) FrameworkKPINames(ctx context.Context, team, name string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT fk.name FROM framework_kpis fk JOIN frameworks f ON f.id = fk.framework_id
		WHERE f.team = $1 AND f.name = $2
		  AND EXISTS (SELECT 1 FROM test_kpis k WHERE k.framework_id = f.id AND k.name = fk.name)
		ORDER BY fk.name`, team, name)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
