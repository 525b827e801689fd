package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// GitHubEvent handles one verified webhook delivery: it starts the tests
// the event asks for (or answers a command), reports them as pending on
// GitHub, waits for them to end and reports their verdicts: commit
// statuses and the pull request's one comment. Calls to GitHub retry
// durably, after what GitHub's rate limits say.
func GitHubEvent(ctx workflow.Context, ev contract.GitHubEvent) error {
	act := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 10 * time.Minute, MaximumAttempts: 30},
	})
	plan, err := contract.GitHubHandle.Execute(act, ev).Result(ctx)
	if err != nil {
		return err
	}
	if len(plan.Tests) == 0 && !plan.Report {
		return nil
	}
	if err := contract.GitHubReport.Execute(act, contract.GitHubReportInput{Event: ev, Tests: plan.Tests}).Get(ctx, nil); err != nil {
		return err
	}
	if len(plan.Tests) == 0 {
		return nil
	}
	wait := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 7 * 24 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute},
	})
	if err := contract.GitHubWait.Execute(wait, plan.Tests).Get(ctx, nil); err != nil {
		return err
	}
	return contract.GitHubReport.Execute(act, contract.GitHubReportInput{Event: ev, Tests: plan.Tests, Final: true}).Get(ctx, nil)
}
