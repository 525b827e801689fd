package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/results"
)

// trendHistory stores a framework of its own with finished tests of KPI
// K: values[i] on branches[i] (two iterations for the third test), and
// returns their IDs in order.
func trendHistory(t *testing.T, name string, branches []string, values []float64) []int64 {
	t.Helper()
	ctx := context.Background()
	_, err := testPool.Exec(ctx, `INSERT INTO frameworks (team, name, current_version) VALUES ('store', $1, 1)`, name)
	require.NoError(t, err)
	_, err = testPool.Exec(ctx, `INSERT INTO framework_versions (framework_id, version, spec, digest)
		SELECT id, 1, '{}', '' FROM frameworks WHERE name = $1`, name)
	require.NoError(t, err)
	ids := make([]int64, len(values))
	for i, v := range values {
		require.NoError(t, testPool.QueryRow(ctx, `INSERT INTO tests (framework_id, framework_version, state, branch)
			SELECT id, 1, 'finished', $2 FROM frameworks WHERE name = $1 RETURNING id`, name, branches[i]).Scan(&ids[i]))
		_, err := testPool.Exec(ctx, `INSERT INTO test_kpis (test_id, iteration, name, value, unit) VALUES ($1, 1, 'K', $2, 'ms')`, ids[i], v)
		require.NoError(t, err)
		if i == 2 {
			_, err := testPool.Exec(ctx, `INSERT INTO test_kpis (test_id, iteration, name, value, unit) VALUES ($1, 2, 'K', $2, 'ms')`, ids[i], v+2)
			require.NoError(t, err)
		}
	}
	return ids
}

// A trend pages newest first, says how many tests match even past the
// last page, keeps to the branches asked for, and carries each test's
// verdict on the KPI (not the test's overall one).
func TestKPITrendPagesNewestFirstWithTotal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := trendHistory(t, "trend-pages", []string{"main", "main", "main", "feature", "main", "feature", "main"},
		[]float64{10, 11, 12, 20, 13, 21, 14})
	_, err := testPool.Exec(ctx, `UPDATE tests SET verdict = 'regressed' WHERE id = $1`, ids[4])
	require.NoError(t, err)
	_, err = testPool.Exec(ctx, `INSERT INTO test_kpi_verdicts (test_id, kpi, verdict, delta_pct, ci_low_pct, ci_high_pct, p_value, method, baseline_n, candidate_n, evidence)
		VALUES ($1, 'K', 'unchanged', 0, 0, 0, 1, 'welch', 3, 1, ''), ($1, 'Other', 'regressed', 9, 9, 9, 0, 'welch', 3, 1, '')`, ids[4])
	require.NoError(t, err)
	s := New(testPool)
	f := TrendFilter{Team: "store", Framework: "trend-pages", KPI: "K", Branches: []string{"main"}, Limit: 2}

	got, total, err := s.KPITrend(ctx, f)
	require.NoError(t, err)
	require.Equal(t, 5, total)
	require.Equal(t, []int64{ids[6], ids[4]}, []int64{got[0].TestID, got[1].TestID}, "newest first")
	require.Equal(t, "unchanged", got[1].Verdict, "the verdict on K, not the test's")
	require.Empty(t, got[0].Verdict, "no verdict stored")

	f.Offset = 4
	got, total, err = s.KPITrend(ctx, f)
	require.NoError(t, err)
	require.Equal(t, 5, total)
	require.Len(t, got, 1)
	require.Equal(t, ids[0], got[0].TestID)

	f.Offset = 10
	got, total, err = s.KPITrend(ctx, f)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, 5, total, "past the last page, the count still holds")

	got, total, err = s.KPITrend(ctx, TrendFilter{Team: "store", Framework: "trend-pages", KPI: "K", Limit: 10})
	require.NoError(t, err)
	require.Equal(t, 7, total, "every branch")
	require.Len(t, got, 7)
	require.InDelta(t, 13, got[4].Value, 1e-9, "the mean of the test's iterations")

	series, err := s.KPITrendSeries(ctx, "store", "trend-pages", "K")
	require.NoError(t, err)
	require.Len(t, series, 2)
	require.Equal(t, TrendSeries{Branch: "main", Params: series[0].Params, Tests: 5, Latest: ids[6]}, series[0], "newest first")
	require.Equal(t, "feature", series[1].Branch)
	require.Equal(t, 2, series[1].Tests)
}

// The accepted level a trend draws is what a next test would be judged
// against: the head of the history among its tests, where BaselineFor of
// the head itself leaves it out. A change point's neighbours come from
// its history alone (the baseline branch).
func TestBaselineAfterAndNeighbours(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := trendHistory(t, "trend-level", []string{"main", "main", "feature", "main", "main", "main"},
		[]float64{10, 11, 30, 12, 13, 14})
	s := New(testPool)
	head := ids[5]
	before, err := s.BaselineFor(ctx, head, "main", "K", "ms", Level{}, 20)
	require.NoError(t, err)
	require.Equal(t, []int64{ids[4], ids[3], ids[1], ids[0]}, before)
	after, err := s.BaselineAfter(ctx, head, "main", "K", "ms", Level{}, 20)
	require.NoError(t, err)
	require.Equal(t, []int64{head, ids[4], ids[3], ids[1], ids[0]}, after)
	bounded, err := s.BaselineAfter(ctx, head, "main", "K", "ms", Level{Since: ids[3]}, 2)
	require.NoError(t, err)
	require.Equal(t, []int64{head, ids[4]}, bounded, "within the level, the newest max")

	near, err := s.ChangePointNeighbours(ctx, []int64{ids[3]}, "main", "K", 2)
	require.NoError(t, err)
	require.Equal(t, []Neighbours{{TestID: ids[3], Before: []int64{ids[0], ids[1]}, After: []int64{ids[3], ids[4]}}}, near,
		"the feature branch's test is not part of main's history")
}

// KPITrends answers several KPIs in one query, each exactly as KPITrend
// answers it alone (page, order, total, verdict), and leaves out a KPI no
// test has.
func TestKPITrendsMatchesKPITrendPerKPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := trendHistory(t, "trend-many", []string{"main", "main", "feature", "main", "main"}, []float64{10, 11, 12, 13, 14})
	for i, id := range ids[1:] {
		_, err := testPool.Exec(ctx, `INSERT INTO test_kpis (test_id, iteration, name, value, unit) VALUES ($1, 1, 'L', $2, 'req/s')`, id, 100+i)
		require.NoError(t, err)
	}
	_, err := testPool.Exec(ctx, `INSERT INTO test_kpi_verdicts (test_id, kpi, verdict, delta_pct, ci_low_pct, ci_high_pct, p_value, method, baseline_n, candidate_n, evidence)
		VALUES ($1, 'L', 'improved', 5, 4, 6, 0, 'welch', 3, 1, '')`, ids[3])
	require.NoError(t, err)
	s := New(testPool)
	for _, f := range []TrendFilter{
		{Team: "store", Framework: "trend-many", Limit: 2},
		{Team: "store", Framework: "trend-many", Limit: 2, Offset: 2, Branches: []string{"main"}},
		{Team: "store", Framework: "trend-many", Limit: 3, Sort: "value", Desc: true},
		{Team: "store", Framework: "trend-many", Limit: 2, Offset: 10},
		{Team: "store", Framework: "trend-many", Limit: 2, Offset: 1, Sort: "verdict", Desc: true},
		{Team: "store", Framework: "trend-many", Limit: 2, Offset: 1, Sort: "value"},
	} {
		points, totals, err := s.KPITrends(ctx, f, []string{"K", "L", "None"})
		require.NoError(t, err)
		for _, kpi := range []string{"K", "L"} {
			f.KPI = kpi
			want, total, err := s.KPITrend(ctx, f)
			require.NoError(t, err)
			require.Equal(t, want, points[kpi], "%s with %+v", kpi, f)
			require.Equal(t, total, totals[kpi], "%s with %+v", kpi, f)
		}
		require.NotContains(t, points, "None")
		require.Zero(t, totals["None"])
	}
	points, totals, err := s.KPITrends(ctx, TrendFilter{Team: "store", Framework: "trend-many", Limit: 10}, []string{"K", "L"})
	require.NoError(t, err)
	require.Equal(t, 5, totals["K"])
	require.Equal(t, 4, totals["L"])
	require.Equal(t, ids[3], points["L"][1].TestID, "newest first")
	require.Equal(t, "improved", points["L"][1].Verdict, "the verdict on L")
	require.InDelta(t, 102, points["L"][1].Value, 1e-9)

	// A page ordered by verdict has every point's verdict before it is
	// cut; a page ordered otherwise has its own points' verdicts.
	byVerdict, total, err := s.KPITrend(ctx, TrendFilter{Team: "store", Framework: "trend-many", KPI: "L", Limit: 2, Sort: "verdict", Desc: true})
	require.NoError(t, err)
	require.Equal(t, 4, total)
	require.Equal(t, []int64{ids[3], ids[4]}, []int64{byVerdict[0].TestID, byVerdict[1].TestID}, "improved first, then the newest without")
	require.Equal(t, []string{"improved", ""}, []string{byVerdict[0].Verdict, byVerdict[1].Verdict})
	byValue, _, err := s.KPITrend(ctx, TrendFilter{Team: "store", Framework: "trend-many", KPI: "L", Limit: 2, Offset: 1, Sort: "value"})
	require.NoError(t, err)
	require.Equal(t, []int64{ids[2], ids[3]}, []int64{byValue[0].TestID, byValue[1].TestID}, "101 and 102, past 100")
	require.Equal(t, []string{"", "improved"}, []string{byValue[0].Verdict, byValue[1].Verdict})
}

// A framework's KPI names are those its tests report, whichever way the
// KPIs are written (a statement, COPY through TestResultsStore), and a
// name goes when the last test with it does.
func TestFrameworkKPINamesFollowTheTests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := trendHistory(t, "trend-names", []string{"main", "main"}, []float64{1, 2})
	s := New(testPool)
	names, err := s.FrameworkKPINames(ctx, "store", "trend-names")
	require.NoError(t, err)
	require.Equal(t, []string{"K"}, names)

	require.NoError(t, s.TestResultsStore(ctx, ids[1], []IterationResults{{Iteration: 1, KPIs: []results.KPI{
		{Name: "K", Value: 2}, {Name: "Z-copied", Value: 3}, {Name: "A-copied", Value: 4}}}}, nil))
	names, err = s.FrameworkKPINames(ctx, "store", "trend-names")
	require.NoError(t, err)
	require.Equal(t, []string{"A-copied", "K", "Z-copied"}, names)
	other, err := s.FrameworkKPINames(ctx, "store", "trend-many")
	require.NoError(t, err)
	require.NotContains(t, other, "A-copied", "another framework's names are its own")

	require.NoError(t, s.TestDelete(ctx, ids[1]))
	names, err = s.FrameworkKPINames(ctx, "store", "trend-names")
	require.NoError(t, err)
	require.Equal(t, []string{"K"}, names, "no test has the copied names any more")
}

// A baseline is the newest qualifying tests of the whole level even when
// the newest tests of the framework (the window read first) hold fewer
// than asked for: here a run of feature-branch tests after main's.
func TestBaselinePastTheWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	branches := []string{"main", "main", "main", "main"}
	values := []float64{10, 11, 12, 13}
	for i := range 3*2 + 1 { // more than the window of max 2
		branches = append(branches, "feature")
		values = append(values, float64(20+i))
	}
	branches = append(branches, "main")
	values = append(values, 14)
	ids := trendHistory(t, "trend-window", branches, values)
	s := New(testPool)
	head := ids[len(ids)-1]
	got, err := s.BaselineFor(ctx, head, "main", "K", "ms", Level{}, 2)
	require.NoError(t, err)
	require.Equal(t, []int64{ids[3], ids[2]}, got, "main's newest two, older than every feature test")
	got, err = s.BaselineAfter(ctx, head, "main", "K", "ms", Level{}, 2)
	require.NoError(t, err)
	require.Equal(t, []int64{head, ids[3]}, got, "one in the window, one past it")
	got, err = s.BaselineAfter(ctx, head, "main", "K", "ms", Level{}, 20)
	require.NoError(t, err)
	require.Equal(t, []int64{head, ids[3], ids[2], ids[1], ids[0]}, got, "a window wider than the history")
	got, err = s.BaselineFor(ctx, ids[4], "main", "K", "ms", Level{Since: ids[4]}, 2)
	require.NoError(t, err)
	require.Empty(t, got, "none in the level")
}

// KPITrendLines answers in one query what KPITrendSeries and KPITrend
// over every branch answer apart (the same points, series, order and
// counts), and nothing when a KPI has max points or more.
func TestKPITrendLinesIsSeriesAndTrendInOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := trendHistory(t, "trend-lines", []string{"main", "feature", "main", "main", "feature", "main"}, []float64{10, 20, 11, 12, 21, 13})
	_, err := testPool.Exec(ctx, `UPDATE tests SET params = '[{"name": "size", "value": "big"}]' WHERE id = ANY($1)`, []int64{ids[2], ids[3]})
	require.NoError(t, err)
	_, err = testPool.Exec(ctx, `INSERT INTO test_kpi_verdicts (test_id, kpi, verdict, delta_pct, ci_low_pct, ci_high_pct, p_value, method, baseline_n, candidate_n, evidence)
		VALUES ($1, 'K', 'regressed', 9, 8, 10, 0, 'welch', 3, 1, '')`, ids[5])
	require.NoError(t, err)
	s := New(testPool)

	points, series, whole, err := s.KPITrendLines(ctx, "store", "trend-lines", "K", 100)
	require.NoError(t, err)
	require.True(t, whole)
	want, total, err := s.KPITrend(ctx, TrendFilter{Team: "store", Framework: "trend-lines", KPI: "K", Limit: 100})
	require.NoError(t, err)
	require.Equal(t, want, points)
	require.Len(t, points, total)
	wantSeries, err := s.KPITrendSeries(ctx, "store", "trend-lines", "K")
	require.NoError(t, err)
	require.Len(t, wantSeries, 3, "main, feature, main with size=big")
	require.Equal(t, wantSeries, series)
	require.Equal(t, "regressed", points[0].Verdict)
	require.InDelta(t, 12, points[3].Value, 1e-9, "the mean of the test's iterations")

	points, series, whole, err = s.KPITrendLines(ctx, "store", "trend-lines", "K", 6)
	require.NoError(t, err)
	require.False(t, whole, "six points are not fewer than six")
	require.Nil(t, points)
	require.Nil(t, series)

	points, series, whole, err = s.KPITrendLines(ctx, "store", "trend-lines", "None", 6)
	require.NoError(t, err)
	require.True(t, whole, "a KPI no test has: no points, no series")
	require.Empty(t, points)
	require.Empty(t, series)
}
