package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	got := Summarize([]KPI{
		{Name: "lat", Value: 10, Unit: "ms", Iteration: 1},
		{Name: "rps", Value: 100, Iteration: 1},
		{Name: "lat", Value: 14, Unit: "ms", Iteration: 2},
		{Name: "lat", Value: 12, Unit: "ms", Iteration: 3},
		{Name: "lat", Value: 20, Unit: "ms", Iteration: 4},
	})
	require.Len(t, got, 2)
	lat := got[0]
	require.Equal(t, "lat", lat.Name)
	require.Equal(t, "ms", lat.Unit)
	require.Equal(t, 4, lat.Count)
	require.InDelta(t, 14, lat.Mean, 1e-9)
	require.InDelta(t, 13, lat.Median, 1e-9)
	require.Equal(t, 10.0, lat.Min)
	require.Equal(t, 20.0, lat.Max)
	require.InDelta(t, 4.3204937989, lat.Stddev, 1e-9)
	require.Equal(t, KPISummary{Name: "rps", Count: 1, Mean: 100, Median: 100, Min: 100, Max: 100}, got[1])
	require.Empty(t, Summarize(nil))
}
