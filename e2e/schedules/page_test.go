package schedules

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
)

// The framework page, in a real browser: a schedule created through its
// form runs, shows its next runs and counters, and is paused, resumed,
// run now and deleted with its buttons.
func TestSchedulePage(t *testing.T) {
	framework(t, "sched-page")
	bctx := st.Browser(t)
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	page := st.URL + "/frameworks/sched-page?team=default"
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	card := `#schedules section.schedule`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(css(`#new-schedule`)),
		chromedp.Click(css(`#new-schedule input[name="when"][value="interval"]`)),
		chromedp.SendKeys(css(`#schedule-interval`), "3s"),
		chromedp.SendKeys(css(`#schedule-params`), "n=5\ndelay=2"),
		chromedp.SendKeys(css(`#schedule-description`), "page <b>check</b>"),
		chromedp.Click(css(`#create-schedule`)),
		chromedp.WaitVisible(css(card)),
	))
	notice, err := chromedp.Run(ctx, chromedp.Text(css(`#notice`)))
	require.NoError(t, err)
	require.Regexp(t, `^schedule \d+ created$`, notice)
	id, err := chromedp.Run(ctx, chromedp.AttributeValue(css(card), "id"))
	require.NoError(t, err)
	n, err := strconv.ParseInt(strings.TrimPrefix(id.Value, "schedule-"), 10, 64)
	require.NoError(t, err)

	// Runs happen; the page shows them after a reload.
	eventually(t, 60*time.Second, "two runs counted on the page", func() bool {
		if chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(css(card))) != nil {
			return false
		}
		runs, _ := chromedp.Run(ctx, chromedp.Text(css(card+` td.runs`)))
		r, _ := strconv.Atoi(strings.TrimSpace(runs))
		return r >= 2
	})
	text, err := chromedp.Run(ctx, chromedp.Text(css(card)))
	require.NoError(t, err)
	nextRuns, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#schedules .next-run")].map(e => e.textContent)`))
	require.NoError(t, err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	require.NoError(t, err)
	t.Logf("the schedule's card on the framework page:\n%s", text)
	require.Len(t, nextRuns, 5)
	require.Contains(t, text, "page <b>check</b>", "the description is text, not markup")
	require.Contains(t, text, "every 3s delay=2 n=5")
	require.Contains(t, text, "overlap buffer_one")
	require.Contains(t, text, "Missed (catch-up window)")
	require.Contains(t, text, "Skipped (overlap)")
	if dir := stack.ScreenshotDir; os.MkdirAll(dir, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(dir, "schedule-page.jpg"), shot, 0o644)
	}

	// Pause with a note, resume, run now, delete.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(css(card+` input[name="note"]`), "maintenance window"),
		chromedp.Click(css(card+` button[name="pause"]`)),
		chromedp.WaitVisible(css(card+`[data-paused="true"]`)),
	))
	paused, err := chromedp.Run(ctx, chromedp.Text(css(card+` .schedule-note`)))
	require.NoError(t, err)
	require.Equal(t, "Note: paused by admin: maintenance window", strings.TrimSpace(paused))
	require.True(t, get(t, n).Paused, "Temporal has it paused")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(card+` button[name="resume"]`)),
		chromedp.WaitVisible(css(card+`[data-paused="false"]`)),
		chromedp.Click(css(card+` button[name="trigger"]`)),
	))
	eventually(t, 10*time.Second, "the page says the schedule was triggered", func() bool {
		notice, _ = chromedp.Run(ctx, chromedp.Text(css(`#notice`)))
		return notice == "schedule "+strconv.FormatInt(n, 10)+" triggered"
	})
	require.False(t, get(t, n).Paused)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(card+` button[name="delete"]`)),
		chromedp.WaitVisible(css(`#no-schedules`)),
	))
	_, err = st.Temporal.ScheduleClient().GetHandle(t.Context(), get404(t, n)).Describe(t.Context())
	require.Error(t, err, "deleted from Temporal too")
}

// get404 checks a schedule is gone from the API and returns its Temporal ID.
func get404(t *testing.T, id int64) string {
	t.Helper()
	code := st.Call(t, "GET", "/api/v1/schedules/"+strconv.FormatInt(id, 10), "", nil, nil)
	require.Equal(t, 404, code)
	return "pitwall-schedule-" + strconv.FormatInt(id, 10)
}
