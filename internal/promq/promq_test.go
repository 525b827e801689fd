package promq

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// A KPI's range query: one series' finite points are its samples, their
// aggregate its value; several series, none, or another type are problems.
func TestKPIFromRangeRaw(t *testing.T) {
	t.Parallel()
	one := json.RawMessage(`{"resultType":"matrix","result":[{"metric":{},"values":[[1,"4"],[2,"NaN"],[3,"1"],[4,"10"],[5,"2"]]}]}`)
	for agg, want := range map[string]float64{"": 4.25, "mean": 4.25, "median": 3, "min": 1, "max": 10} {
		v, samples, problem := KPIFromRangeRaw(one, agg)
		require.Empty(t, problem, agg)
		require.Equal(t, []float64{4, 1, 10, 2}, samples, "NaN is left out")
		require.Equal(t, want, v, agg)
	}
	for raw, problem := range map[string]string{
		`{"resultType":"matrix","result":[]}`:                                                                                "no finite point",
		`{"resultType":"matrix","result":[{"metric":{},"values":[[1,"NaN"]]}]}`:                                              "no finite point",
		`{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1,"1"]]},{"metric":{"a":"2"},"values":[[1,"2"]]}]}`: "2 series",
		`{"resultType":"vector","result":[]}`:                                                                                "not a matrix",
	} {
		_, _, got := KPIFromRangeRaw(json.RawMessage(raw), "mean")
		require.Contains(t, got, problem, raw)
	}
	_, _, got := KPIFromRangeRaw(one, "p95")
	require.Contains(t, got, `unknown aggregate "p95"`)
}
