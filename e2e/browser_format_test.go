package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/units"
	"github.com/pitwall/pitwall/internal/wire"
)

// unitCase is one of the cases internal/units and ui/static/units.js share.
type unitCase struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Want  string  `json:"want"`
}

// The charts' formatter (ui/static/units.js), run in Chromium, prints every
// shared case as internal/units does; and the chart helper uses it for its
// legend (the last value, not "--", before any hover), keeps stage labels
// apart and gives a 200 ms run an axis of its own size.
func TestBrowserUnitsJSMatchesGo(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	b, err := os.ReadFile("../internal/units/testdata/cases.json")
	require.NoError(t, err)
	var cases []unitCase
	require.NoError(t, json.Unmarshal(b, &cases))
	require.NotEmpty(t, cases)
	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	waitJS(t, tctx, `!!(window.Pitwall && Pitwall.units && Pitwall.chart)`, 10*time.Second)
	got := evalJS[[]string](t, tctx, fmt.Sprintf(
		`%s.map((c) => Pitwall.units.format(c.value, c.unit))`, b))
	require.Len(t, got, len(cases))
	for i, c := range cases {
		require.Equal(t, c.Want, got[i], "JS format(%v, %q)", c.Value, c.Unit)
		require.Equal(t, units.Format(c.Value, c.Unit), got[i], "Go and JS agree on (%v, %q)", c.Value, c.Unit)
	}

	// A chart of a 200 ms run in ns: legend values formatted before any
	// hover, an x axis under a second wide, two marks at the same instant
	// on two label rows.
	type chartFacts struct {
		Legend []string `json:"legend"`
		Span   float64  `json:"span"`
		Rows   string   `json:"rows"`
	}
	evalJS[bool](t, tctx, `(() => {
		const el = document.createElement('div');
		el.id = 'fmt-chart';
		el.style.width = '600px';
		document.querySelector('main').appendChild(el);
		const t0 = 1700000000;
		window.__fmtChart = Pitwall.chart(el, {
			title: 'latency', unit: 'ns', x: [t0, t0 + 0.1, t0 + 0.2],
			series: [{label: 'p50', values: [900, 1100, 1200]}, {label: 'p99', values: [15000000, 2500000, 3000000]}],
			marks: [{x: t0, label: 'script started'}, {x: t0, label: 'monitor started'}],
		});
		return true;
	})()`)
	// uPlot draws (and fills its legend) on its first commit, just after.
	waitJS(t, tctx, `document.getElementById('fmt-chart').dataset.markRows !== undefined`, 5*time.Second)
	facts := evalJS[chartFacts](t, tctx, `(() => {
		const el = document.getElementById('fmt-chart'), u = window.__fmtChart;
		const legend = Array.from(el.querySelectorAll('.u-legend .u-series')).slice(1)
			.map((r) => r.querySelector('.u-value').textContent);
		return {legend, span: u.scales.x.max - u.scales.x.min, rows: el.dataset.markRows};
	})()`)
	require.Equal(t, []string{"1.2 µs", "3 ms"}, facts.Legend, "the legend shows each series' last value, formatted")
	require.Less(t, facts.Span, 1.0, "a 200 ms run is not drawn on a window of many seconds")
	require.Greater(t, facts.Span, 0.2)
	require.Equal(t, "2", facts.Rows, "two marks at one instant have their labels on two rows")
}

// The test page shows KPI values in their declared units, scaled: 1200 ns
// as 1.2 µs, 15000000 bytes as 14.3 MiB, 2212000 as 2.21M; never a raw
// 15000000 or an exponent. The system charts' legends show values, in
// units, before any hover.
func TestBrowserTestPageFormatsValues(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	st.Apply(t, fmt.Sprintf(`
name: fmt-units
execution:
  script: |
    #!/bin/sh
    sleep 1
    printf 'Latency, 1200\nMemory, 15000000\nOps, 2212000\n' > results.csv
  hosts: [%s]
statistics:
  hosts: [%s]
  interval: 200ms
kpis:
  - {name: Latency, unit: ns, better: lower}
  - {name: Memory, unit: bytes, better: lower}
  - {name: Ops, better: higher}
`, agentName, agentName))
	got := st.Run(t, wire.RunRequest{Framework: "fmt-units", Branch: "main"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx, stack.Navigate(fmt.Sprintf("%s/tests/%d", st.URL, got.ID)),
		chromedp.WaitVisible(chromedp.CSS("#kpis"))))
	kpis := evalJS[string](t, tctx, `document.querySelector('#kpis').innerText`)
	require.Contains(t, kpis, "1.2 µs")
	require.Contains(t, kpis, "14.3 MiB")
	require.Contains(t, kpis, "2.21M")
	require.NotContains(t, kpis, "15000000")
	require.NotContains(t, kpis, "e+")

	waitJS(t, tctx, `document.getElementById('charts').dataset.charts !== undefined`, 30*time.Second)
	mem := evalJS[[]string](t, tctx, `Array.from(document.querySelectorAll('#charts .chart[data-family="mem"] .u-legend .u-series'))
		.slice(1).map((r) => r.querySelector('.u-value').textContent)`)
	require.NotEmpty(t, mem, "the memory chart has a legend")
	for _, v := range mem {
		require.NotEqual(t, "--", v, "a legend shows a value before any hover")
		require.Regexp(t, `^(—|[0-9.]+ (B|KiB|MiB|GiB|TiB))$`, v, "memory in IEC units")
	}
	// Charts whose series all stayed at zero are hidden behind a toggle.
	zero := evalJS[int](t, tctx, `+document.getElementById('charts').dataset.zeroCharts`)
	hidden := evalJS[int](t, tctx, `document.querySelectorAll('#charts .chart[hidden]').length`)
	require.Equal(t, zero, hidden, "exactly the all-zero charts are hidden")
	if zero > 0 {
		require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#show-zero"))))
		require.Zero(t, evalJS[int](t, tctx, `document.querySelectorAll('#charts .chart[hidden]').length`),
			"the toggle shows them")
		require.NoError(t, chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#show-zero"))))
	}
	screenshot(t, tctx, "test-page-units", true)
}
