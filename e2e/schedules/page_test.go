package schedules

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
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
		stack.Navigate(page),
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
		if chromedp.Do(ctx, stack.Navigate(page), chromedp.WaitVisible(css(card))) != nil {
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

// A schedule's card edits it: the form holds its values, a change shows
// on the card, and a refused value is said with what was typed kept. Its
// backfill form runs the runs of a past period, and says why it refuses one.
func TestScheduleEditOnPage(t *testing.T) {
	framework(t, "sched-edit")
	sc := create(t, "sched-edit", `{"cron":"0 3 1 1 *","params":{"n":"2","delay":"0"},"description":"edit me"}`)
	// Paused, it runs only what the test backfills; an edit keeps it paused.
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/schedules/%d/pause", sc.ID), "", nil, nil))
	bctx := st.Browser(t)
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	page := st.URL + "/frameworks/sched-edit?team=default"
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	card := fmt.Sprintf("#schedule-%d", sc.ID)
	field := func(name string) chromedp.CSS { return css(fmt.Sprintf("#schedule-%d-%s", sc.ID, name)) }
	value := func(sel chromedp.CSS) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Value(sel))
		require.NoError(t, err)
		return v
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		require.NoError(t, err)
		return strings.TrimSpace(v)
	}

	// The edit form holds the schedule's values.
	require.NoError(t, chromedp.Do(ctx,
		stack.Navigate(page),
		chromedp.WaitVisible(css(card)),
		chromedp.Click(css(card+` .schedule-edit > summary`)),
		chromedp.WaitVisible(field("form")),
	))
	require.Equal(t, "0 3 1 1 *", value(field("cron")))
	require.Equal(t, "delay=0\nn=2", value(field("params")))
	require.Equal(t, "edit me", value(field("description")))

	// Changed to every hour, with another n: the card shows the new spec.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(fmt.Sprintf(`#schedule-%d-form input[name="when"][value="interval"]`, sc.ID))),
		chromedp.SendKeys(field("interval"), "1h"),
		chromedp.SetValue(field("params"), "delay=0\nn=9"),
		chromedp.Click(field("save")),
		chromedp.WaitVisible(css(`#notice`)),
	))
	require.Equal(t, fmt.Sprintf("schedule %d changed", sc.ID), text(css(`#notice`)))
	require.Equal(t, "every 1h delay=0 n=9", text(css(card+` .schedule-spec`)))
	got := get(t, sc.ID)
	require.Equal(t, "1h", got.Interval)
	require.Empty(t, got.Cron)
	require.Equal(t, map[string]string{"n": "9", "delay": "0"}, got.Params)
	require.Equal(t, "edit me", got.Description, "what the form did not change stays")
	require.True(t, got.Paused, "an edit keeps the schedule paused")

	// A refused value: the error on the card, the form open with what was typed.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(card+` .schedule-edit > summary`)),
		chromedp.WaitVisible(field("form")),
		chromedp.SetValue(field("interval"), "10ms"),
		chromedp.SetValue(field("params"), "delay=0\nn=11"),
		chromedp.Click(field("save")),
		chromedp.WaitVisible(field("error")),
	))
	require.Contains(t, text(field("error")), "whole number of seconds")
	at, err := chromedp.Run(ctx, chromedp.AttributeValue(field("error"), "data-field"))
	require.NoError(t, err)
	require.Equal(t, "interval", at.Value)
	require.Equal(t, "10ms", value(field("interval")))
	require.Equal(t, "delay=0\nn=11", value(field("params")))
	got = get(t, sc.ID)
	require.Equal(t, "1h", got.Interval, "a refused edit changes nothing")
	require.Equal(t, "9", got.Params["n"])
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	require.NoError(t, err)
	if dir := stack.ScreenshotDir; os.MkdirAll(dir, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(dir, "schedule-edit-refused.jpg"), shot, 0o644)
	}

	// Backfilled from the card (while paused): a period ending before it
	// starts is refused on the card; the hour before last runs once.
	due := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	local := func(t time.Time) string { return t.Format("2006-01-02T15:04") }
	require.NoError(t, chromedp.Do(ctx,
		stack.Navigate(page),
		chromedp.Click(css(card+` .schedule-backfill > summary`)),
		chromedp.WaitVisible(field("backfill-start")),
		chromedp.SetValue(field("backfill-start"), local(due.Add(30*time.Minute))),
		chromedp.SetValue(field("backfill-end"), local(due.Add(-30*time.Minute))),
		chromedp.Click(css(card+` button[name="backfill"]`)),
		chromedp.WaitVisible(field("backfill-error")),
	))
	require.Contains(t, text(field("backfill-error")), "must be after start")
	require.Equal(t, local(due.Add(30*time.Minute)), value(field("backfill-start")))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(field("backfill-start"), local(due.Add(-30*time.Minute))),
		chromedp.SetValue(field("backfill-end"), local(due.Add(30*time.Minute))),
		chromedp.Click(css(card+` button[name="backfill"]`)),
		chromedp.WaitVisible(css(`#notice`)),
	))
	require.Equal(t, fmt.Sprintf("schedule %d backfilled: it runs the 1 run due in the period, one after another", sc.ID), text(css(`#notice`)))
	ts := waitFinished(t, sc.ID, 1)
	require.Equal(t, wire.StateFinished, ts[0].State, ts[0].Reason)
	require.Equal(t, 9.0, ts[0].KPIs[0].Value)
	require.Equal(t, runIDs(sc.ID, due), []string{ts[0].Tags["schedule.run"]})
}
