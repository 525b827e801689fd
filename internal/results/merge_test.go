package results

import (
	"math"
	"slices"
	"strings"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/framework"
)

func encoded(t *testing.T, values []int64) string {
	t.Helper()
	h := hdrhistogram.New(1, 3_600_000_000, 3)
	for _, v := range values {
		require.NoError(t, h.RecordValue(v))
	}
	s, err := EncodeHistogram(h)
	require.NoError(t, err)
	return s
}

func span(from, to int64) []int64 {
	var v []int64
	for i := from; i <= to; i++ {
		v = append(v, i)
	}
	return v
}

// Two hosts' histograms merge into the percentile of all their values,
// not the mean of the hosts' percentiles; sums and means of results.csv
// KPIs keep each host's value beside the merged one.
func TestMerge(t *testing.T) {
	t.Parallel()
	// A fast host and one with a slow tail: 1% of the second host's
	// requests take 1 s.
	fast, slow := span(1, 1000), append(span(1, 990), slices.Repeat([]int64{1_000_000}, 10)...)
	hosts := []HostResults{
		{Host: "a", Histograms: map[string]string{"lat.hdr": encoded(t, fast)}, KPIs: []KPI{{Name: "RPS", Value: 100, Unit: "req/s"}}},
		{Host: "b", Histograms: map[string]string{"lat.hdr": encoded(t, slow)}, KPIs: []KPI{{Name: "RPS", Value: 300, Unit: "req/s"}}},
	}
	rules := []framework.MergeRule{
		{KPI: "P99", How: framework.MergeHistogram, File: "lat.hdr", Percentile: 99, Unit: "us"},
		{KPI: "P995", How: framework.MergeHistogram, File: "lat.hdr", Percentile: 99.5, Unit: "us"},
		{KPI: "Throughput", How: framework.MergeSum, From: "RPS"},
		{KPI: "RPS", How: framework.MergeMean},
	}
	kpis, notes := Merge(rules, hosts)
	require.Empty(t, notes)
	got := map[string]float64{}
	for _, k := range kpis {
		got[k.Name] = k.Value
	}
	// All 2000 values: the 1980th smallest is 990, the 1990th 1000.
	require.InEpsilon(t, 990, got["P99"], 0.001)
	require.InEpsilon(t, 1000, got["P995"], 0.001)
	require.InEpsilon(t, 990, got["P99@a"], 0.001)
	require.InEpsilon(t, 990, got["P99@b"], 0.001)
	require.InEpsilon(t, 995, got["P995@a"], 0.001)
	require.InEpsilon(t, 1_000_000, got["P995@b"], 0.001)
	naive := (got["P995@a"] + got["P995@b"]) / 2
	require.Greater(t, math.Abs(naive-got["P995"]), 400_000.0, "averaging the hosts' percentiles is far off")
	require.Equal(t, 400.0, got["Throughput"])
	require.Equal(t, 300.0, got["Throughput@b"])
	require.Equal(t, 200.0, got["RPS"])

	// A host without the file or the KPI is left out, and said so.
	kpis, notes = Merge(rules[2:3], []HostResults{hosts[0], {Host: "c"}})
	require.Equal(t, 100.0, kpis[0].Value)
	require.Equal(t, []string{"Throughput: 1 of 2 host(s) reported RPS"}, notes)
	_, notes = Merge(rules[:1], []HostResults{{Host: "c"}})
	require.Len(t, notes, 2)
	require.Contains(t, notes[0], "c wrote no lat.hdr")
}

// A histogram file is an HdrHistogram log (its intervals add up) or one
// base64 histogram.
func TestReadHistogram(t *testing.T) {
	t.Parallel()
	var log strings.Builder
	w := hdrhistogram.NewHistogramLogWriter(&log)
	require.NoError(t, w.OutputLogFormatVersion())
	require.NoError(t, w.OutputLegend())
	for i := range int64(3) {
		h := hdrhistogram.New(1, 1_000_000, 3)
		for v := range int64(100) {
			require.NoError(t, h.RecordValue(1+v+100*i))
		}
		require.NoError(t, w.OutputIntervalHistogram(h))
	}
	h, err := ReadHistogram([]byte(log.String()))
	require.NoError(t, err)
	require.Equal(t, int64(300), h.TotalCount())
	require.Equal(t, int64(300), h.Max())

	h, err = ReadHistogram([]byte(encoded(t, span(1, 10)) + "\n"))
	require.NoError(t, err)
	require.Equal(t, int64(10), h.TotalCount())

	for _, bad := range []string{"", "not base64!", "#[Comment only]\n"} {
		_, err := ReadHistogram([]byte(bad))
		require.Error(t, err, bad)
	}
}
