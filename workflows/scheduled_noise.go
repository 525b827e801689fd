package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// ScheduledNoise is one firing of a framework's noise schedule (its
// noise key, docs/noise.md): it starts an A/A measurement (a NoiseFloor
// workflow) on each host the key names, then waits for them all to end,
// so the schedule's overlap policy (skip) sees a measurement still going.
func ScheduledNoise(ctx workflow.Context, in contract.ScheduledNoiseInput) (*contract.ScheduledNoiseResult, error) {
	act := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	run := workflow.GetInfo(ctx).WorkflowExecution.ID
	res, err := contract.NoiseScheduleStart.Execute(act, contract.ScheduledNoiseStartInput{
		Team: in.Team, Framework: in.Framework, Run: run}).Result(ctx)
	if err != nil {
		return nil, err
	}
	if len(res.Measurements) > 0 {
		wait := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 7 * 24 * time.Hour,
			HeartbeatTimeout:    time.Minute,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute},
		})
		if res.States, err = contract.NoiseScheduleWait.Execute(wait, res.Measurements).Result(ctx); err != nil {
			return nil, err
		}
	}
	workflow.GetLogger(ctx).Info("scheduled noise measurement ended", "framework", in.Framework, "team", in.Team,
		"measurements", res.Measurements, "states", res.States, "skipped", res.Skipped)
	return res, nil
}
