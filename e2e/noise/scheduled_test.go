package noise

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// scheduledFile is a framework with a noise key (given whole, "" for
// none) whose script moves itself between CPU 0 and 1 five times
// (taskset), then reports a Latency with 1% noise.
func scheduledFile(name, noise string) string {
	return fmt.Sprintf(`
name: %s
execution:
  timeout: 2m
  script: |
    #!/bin/sh
    if command -v taskset >/dev/null; then
      for i in 1 2 3 4 5; do taskset -p -c 0 $$ >/dev/null 2>&1; taskset -p -c 1 $$ >/dev/null 2>&1; done
    fi
    awk -v id="$PITWALL_TEST_ID" 'BEGIN { srand(id); printf "Latency, %%.5fms\n", 100 * (1 + 0.01 * (rand() - 0.5)) }' > results.csv
kpis:
  - {name: Latency, unit: ms, better: lower, threshold: 5%%}
%s`, name, noise)
}

// A framework's noise key is a Temporal schedule: applying the framework
// creates it (cron, time zone, a ScheduledNoise action naming the
// framework, overlap skip), applying a changed key updates it, and
// removing the key deletes it; the framework page shows the next A/A.
// Triggering it measures the named host: a NoiseFloor measurement of the
// key's runs, started by the schedule, whose runs record their CPU
// migrations and hardware.
func TestScheduledNoiseMeasurement(t *testing.T) {
	ctx := t.Context()
	host := st.Agents[1]
	const name = "noise-scheduled"
	st.Apply(t, scheduledFile(name, `noise: {schedule: "0 3 * * 0", runs: 3, hosts: [`+host+`]}`))

	h := st.Temporal.ScheduleClient().GetHandle(ctx, contract.NoiseScheduleID("default", name))
	d, err := h.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, "UTC", d.Schedule.Spec.TimeZoneName)
	require.NotEmpty(t, d.Info.NextActionTimes)
	for _, next := range d.Info.NextActionTimes {
		next = next.UTC()
		require.Equal(t, time.Sunday, next.Weekday(), "0 3 * * 0 fires on Sundays: %s", next)
		require.Equal(t, []int{3, 0, 0}, []int{next.Hour(), next.Minute(), next.Second()}, "at 03:00 UTC: %s", next)
	}
	require.Equal(t, enums.SCHEDULE_OVERLAP_POLICY_SKIP, d.Schedule.Policy.Overlap)
	act, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok, "the action starts a workflow: %T", d.Schedule.Action)
	require.Equal(t, contract.NoiseScheduleWorkflow, fmt.Sprint(act.Workflow))
	require.Equal(t, contract.CentralQueue, act.TaskQueue)
	require.Equal(t, contract.ScheduledNoiseID("default", name), act.ID)
	require.Len(t, act.Args, 1)
	tc := st.TemporalConfig()
	opts, err := tc.Options()
	require.NoError(t, err)
	var in contract.ScheduledNoiseInput
	require.NoError(t, opts.DataConverter.FromPayload(act.Args[0].(*commonpb.Payload), &in))
	require.Equal(t, contract.ScheduledNoiseInput{Team: "default", Framework: name}, in)

	// A changed key updates the schedule: 04:30 in Paris, every day.
	st.Apply(t, scheduledFile(name, `noise: {schedule: "30 4 * * *", timezone: Europe/Paris, runs: 3, hosts: [`+host+`]}`))
	d, err = h.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, "Europe/Paris", d.Schedule.Spec.TimeZoneName)
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	next := d.Info.NextActionTimes[0].In(paris)
	require.Equal(t, []int{4, 30}, []int{next.Hour(), next.Minute()}, "next at 04:30 Paris time: %s", next)

	// The framework page shows the next scheduled A/A.
	code, page := st.Page(t, "/frameworks/"+name+"?team=default")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, `id="noise-schedule"`)
	require.Contains(t, page, "Scheduled A/A: <code>30 4 * * *</code> (Europe/Paris), 3 runs on "+host+";")
	require.Contains(t, page, `<time class="next-aa" datetime="`+d.Info.NextActionTimes[0].UTC().Format(time.RFC3339)+`"`)

	// Triggered, it measures the host as the schedule.
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	var m wire.NoiseMeasurement
	require.Eventually(t, func() bool {
		for _, x := range hostNoise(t, host).Measurements {
			if x.Framework == name && x.State != wire.NoiseRunning {
				m = x
				return true
			}
		}
		return false
	}, 2*time.Minute, 500*time.Millisecond, "the scheduled measurement ends")
	require.Equal(t, wire.NoiseFinished, m.State, m.Reason)
	require.Equal(t, "schedule", m.StartedBy)
	require.Equal(t, 3, m.Runs)
	require.Len(t, m.Tests, 3)
	require.Len(t, m.Floors, 1)
	t.Logf("scheduled A/A %d on %s: Latency CV %.3f%% over %d runs", m.ID, host, 100*m.Floors[0].CV, m.Floors[0].N)

	// The ScheduledNoise workflow waited for it and says so.
	require.Eventually(t, func() bool {
		d, err = h.Describe(ctx)
		return err == nil && len(d.Info.RecentActions) > 0 && len(d.Info.RunningWorkflows) == 0
	}, 30*time.Second, 250*time.Millisecond)
	run := d.Info.RecentActions[len(d.Info.RecentActions)-1].StartWorkflowResult
	var res contract.ScheduledNoiseResult
	require.NoError(t, st.Temporal.GetWorkflow(ctx, run.WorkflowID, run.FirstExecutionRunID).Get(ctx, &res))
	require.Equal(t, []int64{m.ID}, res.Measurements)
	require.Equal(t, []string{wire.NoiseFinished}, res.States)
	require.Empty(t, res.Skipped)
	st.RecordHistory(t, run.WorkflowID, "../../workflows/testdata/scheduled-noise.json")

	// Each run recorded its hardware and its CPU migrations.
	for _, id := range m.Tests {
		x := st.Wait(t, id)
		require.Equal(t, host, x.Host)
		require.NotEmpty(t, x.Fingerprint.Hardware, "%+v", x.Fingerprint)
		mig := x.Fingerprint.CPUMigrations
		require.NotNil(t, mig, "test %d counted its CPU migrations", id)
		t.Logf("test %d on %s (%s): %d CPU migrations in %.2f s", id, host, x.Fingerprint.Hardware, mig.Count, mig.Seconds)
		require.Equal(t, host, mig.Host)
		require.Positive(t, mig.Seconds)
		if _, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 {
			require.GreaterOrEqual(t, mig.Count, int64(5), "the script moved itself to the other CPU five times")
		}
		code, page := st.Page(t, fmt.Sprintf("/tests/%d", id))
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, page, fmt.Sprintf(`<dd class="cpu-migrations">%d in `, mig.Count))
		require.Contains(t, page, `">`+x.Fingerprint.Hardware+`</dd>`, "the test page shows the hardware fingerprint")
	}

	// In a real browser: the framework page's next A/A, and a run's
	// hardware and CPU migrations on its test page (screenshots kept).
	bctx := st.Browser(t)
	bc, cancel := context.WithTimeout(bctx, time.Minute)
	defer cancel()
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bc, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		if dir := stack.ScreenshotDir; os.MkdirAll(dir, 0o755) == nil {
			_ = os.WriteFile(filepath.Join(dir, name), png, 0o644)
		}
	}
	require.NoError(t, chromedp.Do(bc, chromedp.EmulateViewport(1280, 900),
		stack.Navigate(st.URL+"/frameworks/"+name+"?team=default"), chromedp.WaitVisible(chromedp.CSS("#noise-schedule"))))
	text, err := chromedp.Run(bc, chromedp.Text(chromedp.CSS("#noise-schedule")))
	require.NoError(t, err)
	require.Contains(t, text, "Scheduled A/A: 30 4 * * * (Europe/Paris), 3 runs on "+host)
	require.Contains(t, text, "next: ")
	require.NoError(t, chromedp.Do(bc, chromedp.ScrollIntoView(chromedp.CSS("#noise-schedule"))))
	shoot("framework-noise-schedule.png")
	require.NoError(t, chromedp.Do(bc, stack.Navigate(fmt.Sprintf("%s/tests/%d", st.URL, m.Tests[0])),
		chromedp.WaitVisible(chromedp.CSS(".cpu-migrations"))))
	text, err = chromedp.Run(bc, chromedp.Text(chromedp.CSS(".cpu-migrations")))
	require.NoError(t, err)
	require.Regexp(t, `^\d+ in [0-9.]+ s \([0-9.]+/s\)`, strings.TrimSpace(text))
	require.NoError(t, chromedp.Do(bc, chromedp.ScrollIntoView(chromedp.CSS("#fingerprint"))))
	shoot("test-cpu-migrations.png")

	// Without the key, the schedule is gone.
	st.Apply(t, scheduledFile(name, ""))
	_, err = h.Describe(ctx)
	var nf *serviceerror.NotFound
	require.True(t, errors.As(err, &nf), "the schedule was deleted: %v", err)
	_, page = st.Page(t, "/frameworks/"+name+"?team=default")
	require.False(t, strings.Contains(page, `id="noise-schedule"`))
}

// triggerNoise fires a framework's noise schedule and returns what its
// ScheduledNoise workflow did once it has ended.
func triggerNoise(t *testing.T, name string) *contract.ScheduledNoiseResult {
	t.Helper()
	ctx := t.Context()
	h := st.Temporal.ScheduleClient().GetHandle(ctx, contract.NoiseScheduleID("default", name))
	d, err := h.Describe(ctx)
	require.NoError(t, err)
	before := len(d.Info.RecentActions)
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	require.Eventually(t, func() bool {
		d, err = h.Describe(ctx)
		return err == nil && len(d.Info.RecentActions) > before
	}, 30*time.Second, 100*time.Millisecond, "the schedule fires")
	run := d.Info.RecentActions[len(d.Info.RecentActions)-1].StartWorkflowResult
	var res contract.ScheduledNoiseResult
	require.NoError(t, st.Temporal.GetWorkflow(ctx, run.WorkflowID, run.FirstExecutionRunID).Get(ctx, &res))
	return &res
}

// A noise key that names no host measures every online agent the
// framework may run on; one that names a host that is not an agent
// measures the others and says why it skipped that one.
func TestScheduledNoiseChoosesItsHosts(t *testing.T) {
	const name = "noise-every"
	st.Apply(t, scheduledFile(name, `noise: {schedule: "@daily", runs: 2}`))
	res := triggerNoise(t, name)
	require.Empty(t, res.Skipped)
	require.Len(t, res.Measurements, 2)
	require.Equal(t, []string{wire.NoiseFinished, wire.NoiseFinished}, res.States)
	var hosts []string
	for _, a := range st.Agents {
		for _, m := range hostNoise(t, a).Measurements {
			if m.Framework == name {
				hosts = append(hosts, m.Host)
				require.Contains(t, res.Measurements, m.ID)
			}
		}
	}
	require.ElementsMatch(t, st.Agents, hosts, "one measurement on each agent")

	st.Apply(t, scheduledFile(name, `noise: {schedule: "@daily", runs: 2, hosts: [`+st.Agents[0]+`, ghost-01]}`))
	res = triggerNoise(t, name)
	require.Len(t, res.Measurements, 1)
	require.Equal(t, []string{"ghost-01: not a registered agent"}, res.Skipped)
	require.Equal(t, []string{wire.NoiseFinished}, res.States)
}
