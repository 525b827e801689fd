package trends

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
)

// benchModel is a KPI's page of n points on the baseline branch, with
// the table's first page, as Handler.single fills it.
func benchModel(n int) model {
	m := model{Framework: "bench-year-01", KPI: "Latency-ms", Unit: "ms", Better: "lower", Page: 1, Team: "default",
		BaselineBranch: "main", Total: n}
	params := []framework.Param{{Name: "size", Value: "small"}}
	m.Lines = []line{{Branch: "main", Params: params, Key: lineKey("main", params), Label: "main", Color: lineColors[0], Baseline: true}}
	newest := make([]store.TrendPoint, n)
	t0 := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	for i := range newest {
		newest[i] = store.TrendPoint{TestID: int64(10000 - i), CreatedAt: t0.Add(-time.Duration(i) * 24 * time.Hour), Branch: "main",
			Commit: fmt.Sprintf("%040x", 1e12+float64(i)*7919), Value: 12.5 + float64(i%17)*0.37, Params: params}
	}
	points := slices.Clone(newest)
	slices.Reverse(points)
	on := onLines(points, m.Lines)
	outliers := outliersOf(points, on, m.Lines)
	for _, p := range newest[:min(n, pageSize)] {
		m.Rows = append(m.Rows, row{TrendPoint: p, Outlier: outliers[p.TestID], Params: paramsText(p.Params)})
	}
	m.Charts = []kpiChart{{KPI: m.KPI, Unit: m.Unit, Total: n, Chart: chartOf(m.Framework+" · "+m.KPI, m.Unit, points, on, m.Lines, nil, nil, outliers)}}
	return m
}

// BenchmarkTrendPage renders a KPI's trend (chart data and the points
// table's page) for 15 points (the seeded-year measure's database before
// the year) and 365 (a year's tests of one framework at its scale).
func BenchmarkTrendPage(b *testing.B) {
	for _, n := range []int{15, 365} {
		m := benchModel(n)
		b.Run(fmt.Sprintf("points=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := trend(m).Render(context.Background(), io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
