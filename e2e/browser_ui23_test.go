package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// On a 390 px phone, compare with the baseline fits the screen: the page
// does not scroll sideways, and the regressed KPI's change and verdict are
// on screen.
func TestBrowserCompareBaselineFitsPhone(t *testing.T) {
	t.Parallel()
	_, c := answerTests(t)
	ctx := browser(t)
	signIn(t, ctx)
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx,
		chromedp.EmulateViewport(390, 900),
		chromedp.Navigate(fmt.Sprintf("%s/compare?test=%d", st.URL, c.ID)),
		chromedp.WaitVisible(chromedp.CSS("#kpis-baseline")),
		chromedp.Sleep(time.Second)))
	require.LessOrEqual(t, evalJS[int](t, tctx, `document.documentElement.scrollWidth`), 390, "the page does not scroll sideways")
	// The regressed KPI's change and verdict are on the screen, not
	// behind a sideways scroll.
	for _, sel := range []string{"#kpi-Latency-ms .delta", "#kpi-Latency-ms .badge.verdict-regressed", "#kpi-Latency-ms .confidence"} {
		box := evalJS[[]float64](t, tctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || !e.offsetParent) return []; const r = e.getBoundingClientRect(); return [r.left, r.right, r.width]; })()`, sel))
		require.Len(t, box, 3, "%s is shown", sel)
		require.GreaterOrEqual(t, box[0], 0.0, sel)
		require.LessOrEqual(t, box[1], 390.0, "%s is on screen", sel)
		require.Positive(t, box[2], sel)
	}
	require.True(t, strings.HasPrefix(evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms .delta').innerText`), "+50%"))
	require.Equal(t, "regressed", strings.TrimSpace(evalJS[string](t, tctx, `document.querySelector('#kpi-Latency-ms .badge.verdict-regressed').innerText`)))
	// Each value says what it is.
	require.Equal(t, `"Change"`, evalJS[string](t, tctx, `getComputedStyle(document.querySelector('#kpi-Latency-ms td.cmp-change'), '::before').content`))
	shot(t, tctx, "compare-baseline-phone-fits", 390)
}
