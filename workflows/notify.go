package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// NotifyAttempts is how often a delivery is tried before it is recorded
// as failed (about 25 minutes of backoff in all).
const NotifyAttempts = 8

// Notify evaluates a test's ending for alerts, then makes each delivery
// it leads to, each retried on its own with backoff, so one failing
// channel neither holds up nor repeats the others.
func Notify(ctx workflow.Context, testID int64) error {
	eval := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	plan, err := contract.AlertsEvaluate.Execute(eval, testID).Result(ctx)
	if err != nil {
		return err
	}
	deliverAll(ctx, plan.Deliveries)
	return nil
}

// deliverAll sends each delivery with its own retries, in parallel, and
// waits for them all. A delivery that failed every attempt is recorded as
// failed on the delivery; the others still count.
func deliverAll(ctx workflow.Context, deliveries []int64) {
	deliver := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 3,
			MaximumInterval: 10 * time.Minute, MaximumAttempts: NotifyAttempts},
	})
	var futures []workflow.Future
	for _, d := range deliveries {
		futures = append(futures, contract.NotifyDeliver.Execute(deliver, contract.DeliverInput{Delivery: d, MaxAttempts: NotifyAttempts}))
	}
	for _, f := range futures {
		_ = f.Get(ctx, nil)
	}
}
