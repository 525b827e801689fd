package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// Retention applies every team's retention once: partitions made ahead,
// tests rolled up, expired partitions dropped (docs/retention.md). The
// retention schedule starts it; its work is one activity, which commits
// part by part, so a retry goes on where the last attempt stopped.
func Retention(ctx workflow.Context, in contract.RetentionInput) (*contract.RetentionResult, error) {
	act := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    10 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumInterval: 10 * time.Minute, MaximumAttempts: 5},
	})
	res, err := contract.RetentionRun.Execute(act, in).Result(ctx)
	if err != nil {
		return nil, err
	}
	workflow.GetLogger(ctx).Info("retention applied", "dropped", res.PartitionsDropped, "rolled_up", res.RolledUp,
		"raw_expired", res.RawExpired, "logs_expired", res.LogsExpired)
	return res, nil
}
