package central

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/workflows/contract"
)

// RetentionRun applies every team's retention as of in.Now (zero: now),
// heartbeating between its parts.
func (a *Activities) RetentionRun(ctx context.Context, in contract.RetentionInput) (*contract.RetentionResult, error) {
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep, err := a.Store.RetentionRun(ctx, now, store.RetentionOptions{
		Progress: func(part string) { activity.RecordHeartbeat(ctx, part) },
	})
	if err != nil {
		return nil, err
	}
	return &contract.RetentionResult{
		PartitionsCreated: rep.PartitionsCreated, PartitionsDropped: rep.PartitionsDropped, RolledUp: rep.RolledUp,
		RawExpired: rep.RawExpired, LogsExpired: rep.LogsExpired, KeptRows: rep.KeptRows,
		RollupsDeleted: rep.RollupsDeleted, ArtifactTests: rep.ArtifactTests, Took: rep.Took,
	}, nil
}

// EnsureRetentionSchedule makes the Temporal schedule that runs retention
// every interval, or sets its interval if it exists. Overlapping runs are
// skipped: one run at a time.
func EnsureRetentionSchedule(ctx context.Context, tc client.Client, every time.Duration) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	_, err := tc.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: contract.RetentionScheduleID, Spec: spec,
		Action: &client.ScheduleWorkflowAction{ID: contract.RetentionWorkflowID, Workflow: contract.RetentionWorkflow,
			Args: []any{contract.RetentionInput{}}, TaskQueue: contract.CentralQueue},
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		Note:    "retention of samples, logs and artifacts (docs/retention.md)",
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		h := tc.ScheduleClient().GetHandle(ctx, contract.RetentionScheduleID)
		err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sched := in.Description.Schedule
			sched.Spec = &spec
			return &client.ScheduleUpdate{Schedule: &sched}, nil
		}})
	}
	if err != nil {
		return fmt.Errorf("retention schedule: %w", err)
	}
	return nil
}
