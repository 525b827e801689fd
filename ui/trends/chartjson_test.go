package trends

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// A chart's JSON is what encoding/json writes for its fields: the same
// bytes, for numbers of every size, missing outliers, an empty chart and
// text that needs escaping; NaN is refused as there.
func TestChartJSONIsEncodingJSONs(t *testing.T) {
	type plain chart // the fields without the MarshalJSON method
	tiny, huge := 1.5e-9, 3e21
	charts := map[string]chart{
		"points": {Title: `fw "<b>" & co` + "\u2028\x01\xff", Unit: "ms", Href: "/trends?framework=a&kpi=b", Compact: true,
			X: []float64{1, 2, 3, 4, 5}, Y: []float64{12.5, tiny, huge, -0.000001, 0}, IDs: []int64{7, 8, 9, 10, 11},
			Line: []int{0, 1, 0, 0, 1}, Verdicts: []string{"", "regressed", "improved", "", "no change"},
			When: []string{"2026-11-27 10:00", "", "x", "y", "z"}, Commits: []string{"abc1234", "", "d", "e", "f"},
			Lines:    []line{{Label: "main", Color: "#2563eb", Baseline: true}, {Label: "dev · n=1", Color: "#7c3aed"}},
			Outliers: []*float64{nil, &tiny, nil, nil, &huge},
			Marks:    []mark{{X: 3, Label: "+5.0%", Color: "#b91c1c", Href: "/compare?ids=1,2"}},
			Bands:    []band{{From: 1, Level: 12.5, Low: 11.875, High: 13.125, Color: "#2563eb", Label: "main: accepted level 12.5 ± 5%"}}},
		"empty": chartOf("fw · kpi", "", nil, nil, nil, nil, nil),
	}
	for name, c := range charts {
		got, err := json.Marshal(c)
		require.NoError(t, err, name)
		want, err := json.Marshal(plain(c))
		require.NoError(t, err, name)
		require.Equal(t, string(want), string(got), name)
	}
	nan := math.NaN()
	_, err := json.Marshal(chart{Y: []float64{nan}})
	require.Error(t, err)
	_, err = json.Marshal(chart{Outliers: []*float64{&nan}})
	require.Error(t, err)
}
