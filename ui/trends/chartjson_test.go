package trends

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A chart's JSON, and a list's, is what json.Marshal writes for their
// fields: the same bytes, for numbers of every size, missing outliers, an
// empty chart and text that needs escaping (for HTML too: chartScript
// writes it into the page as it is); NaN is refused as there.
func TestChartJSONIsEncodingJSONs(t *testing.T) {
	type plain chart // the fields without the MarshalJSON method
	tiny, huge := 1.5e-9, 3e21
	all := map[string]chart{
		"points": {Title: `fw "<b>" & co</script>` + "\u2028\u2029\x01\b\f\xff", Unit: "ms>", Href: "/trends?framework=a&kpi=b", Compact: true,
			X: []float64{1}, Y: []float64{2}, IDs: []int64{1}, Line: []int{0}, Verdicts: []string{"<"}, When: []string{"&"}, Commits: []string{"\u2028"}},
		"more points": {Title: "fw", Unit: "ms", Href: "/trends?framework=a&kpi=b", Compact: true,
			X: []float64{1, 2, 3, 4, 5}, Y: []float64{12.5, tiny, huge, -0.000001, 0, math.Copysign(0, -1), 1e15, 999999999999999, -42, 1e20}, IDs: []int64{7, 8, 9, 10, 11},
			Line: []int{0, 1, 0, 0, 1}, Verdicts: []string{"", "regressed", "improved", "", "no change"},
			When: []string{"2026-11-27 10:00", "", "x", "y", "z"}, Commits: []string{"abc1234", "", "d", "e", "f"},
			Lines:    []line{{Label: "main", Color: "#2563eb", Baseline: true}, {Label: "dev · n=1", Color: "#7c3aed"}},
			Outliers: []*float64{nil, &tiny, nil, nil, &huge},
			Marks:    []mark{{X: 3, Label: "+5.0%", Color: "#b91c1c", Href: "/compare?ids=1,2"}},
			Bands:    []band{{From: 1, Level: 12.5, Low: 11.875, High: 13.125, Color: "#2563eb", Label: "main: accepted level 12.5 ± 5%"}}},
		"empty": chartOf("fw · kpi", "", nil, nil, nil, nil, nil, nil),
	}
	var list charts
	var plains []plain
	for name, c := range all {
		got, err := c.MarshalJSON()
		require.NoError(t, err, name)
		want, err := json.Marshal(plain(c))
		require.NoError(t, err, name)
		require.Equal(t, string(want), string(got), name)
		list, plains = append(list, c), append(plains, plain(c))
	}
	got, err := list.MarshalJSON()
	require.NoError(t, err)
	want, err := json.Marshal(plains)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "a list of charts")
	got, err = charts(nil).MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, "null", string(got))

	var page strings.Builder
	require.NoError(t, chartScript("trend-data", all["points"]).Render(context.Background(), &page))
	body := strings.TrimSuffix(strings.TrimPrefix(page.String(), `<script id="trend-data" type="application/json">`), "</script>")
	require.NotEqual(t, page.String(), body, "a JSON script element")
	require.NotContains(t, body, "<", "the script's text cannot end it")
	var back plain
	require.NoError(t, json.Unmarshal([]byte(body), &back))
	require.Equal(t, strings.ToValidUTF8(all["points"].Title, "\ufffd"), back.Title)
	nan := math.NaN()
	_, err = json.Marshal(chart{Y: []float64{nan}})
	require.Error(t, err)
	_, err = json.Marshal(chart{Outliers: []*float64{&nan}})
	require.Error(t, err)
}
