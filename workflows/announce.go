package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/workflows/contract"
)

// Announce tells how a bisection ended, once it found its culprit: the
// notifications of their own (event bisected) are stored and each sent
// with retries as a test's are, and the culprit is posted to the pull
// request or commit the bisected test came from. A failure of one does
// not stop the other.
func Announce(ctx workflow.Context, id int64) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	posted := contract.GitHubCulprit.Execute(actx, id)
	plan, err := contract.AnnounceCompose.Execute(actx, id).Result(ctx)
	if err == nil {
		deliverAll(ctx, plan.Deliveries)
	}
	if perr := posted.Get(ctx, nil); perr != nil {
		workflow.GetLogger(ctx).Warn("culprit not posted to GitHub", "bisection", id, "error", perr)
		if err == nil {
			err = perr
		}
	}
	return err
}
