package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// ScheduledRun is one firing of a Pitwall schedule: it starts the
// schedule's test, waits for it to end (so the schedule's overlap policy
// sees a run that is still going), then counts the schedule's failed runs
// in a row and pauses it when they reach its limit.
func ScheduledRun(ctx workflow.Context, in contract.ScheduledRunInput) (*contract.ScheduledRunResult, error) {
	act := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		// Central activities retry without limit: a restarting database or
		// server must not lose a scheduled run.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	run := workflow.GetInfo(ctx).WorkflowExecution.ID
	res, err := contract.ScheduleStart.Execute(act, contract.ScheduleStartInput{Schedule: in.Schedule, Run: run}).Result(ctx)
	if err != nil {
		return nil, err
	}
	if res.Test > 0 {
		wait := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 7 * 24 * time.Hour,
			HeartbeatTimeout:    time.Minute,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute},
		})
		if res.State, err = contract.ScheduleWait.Execute(wait, res.Test).Result(ctx); err != nil {
			return nil, err
		}
	}
	paused, err := contract.ScheduleCheck.Execute(act, contract.ScheduleCheckInput{
		Schedule: in.Schedule, Test: res.Test, StartError: res.Reason}).Result(ctx)
	if err != nil {
		return nil, err
	}
	res.Paused = paused
	workflow.GetLogger(ctx).Info("scheduled run ended", "schedule", in.Schedule, "test", res.Test, "state", res.State, "paused", paused)
	return res, nil
}
