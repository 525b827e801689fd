package schedules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Register registers the schedule activities on the central worker.
func Register(r worker.ActivityRegistry, s *Service) {
	contract.ScheduleStart.Register(r, s.StartRun)
	contract.ScheduleWait.Register(r, s.WaitRun)
	contract.ScheduleCheck.Register(r, s.CheckRun)
	contract.NoiseScheduleStart.Register(r, s.StartNoiseRun)
	contract.NoiseScheduleWait.Register(r, s.WaitNoise)
}

// StartRun starts a schedule's test as the schedule's principal, or finds
// the one an earlier attempt started (contract.ScheduleStart). A refusal
// that will not change (the framework was deleted, a parameter is no
// longer declared) is returned as the run's Reason, not retried.
func (s *Service) StartRun(ctx context.Context, in contract.ScheduleStartInput) (*contract.ScheduledRunResult, error) {
	sc, err := s.Store.ScheduleGet(ctx, in.Schedule)
	if errors.Is(err, store.ErrNotFound) {
		return &contract.ScheduledRunResult{Reason: fmt.Sprintf("schedule %d was deleted", in.Schedule)}, nil
	}
	if err != nil {
		return nil, err
	}
	found, err := s.Store.TestList(ctx, store.TestFilter{Framework: sc.Framework, Teams: []string{sc.Team},
		Tag: TagRun + "=" + in.Run, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(found) > 0 {
		return &contract.ScheduledRunResult{Test: found[0].ID}, nil
	}
	spec := Defaults(sc.Spec)
	req := wire.RunRequest{Framework: sc.Framework, Team: sc.Team, Params: spec.Params, Branch: spec.Branch, Commit: spec.Commit, Priority: spec.Priority,
		Tags: map[string]string{TagSchedule: fmt.Sprint(sc.ID), TagRun: in.Run}}
	t, err := s.Tests.Start(as(ctx, sc.Team), req)
	switch service.KindOf(err) {
	case service.Invalid, service.NotFound, service.Forbidden, service.TooLarge:
		return &contract.ScheduledRunResult{Reason: "could not start a test: " + err.Error()}, nil
	}
	if err != nil {
		// Unavailable or internal: the activity retries, and finds the
		// test if one was made.
		return nil, err
	}
	return &contract.ScheduledRunResult{Test: t.ID}, nil
}

// WaitRun returns a test's final state once it has ended, "" when it was
// deleted (contract.ScheduleWait).
func (s *Service) WaitRun(ctx context.Context, id int64) (string, error) {
	every := s.Wait
	if every <= 0 {
		every = 2 * time.Second
	}
	for {
		t, err := s.Store.TestGet(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if wire.Ended(t.State) {
			return t.State, nil
		}
		activity.RecordHeartbeat(ctx, t.State)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(every):
		}
	}
}

// CheckRun pauses the schedule, with a note saying why, when its runs
// failed its pause_after_failures times in a row, or at once when its
// test could not be started at all (contract.ScheduleCheck). It reports
// whether it paused the schedule.
func (s *Service) CheckRun(ctx context.Context, in contract.ScheduleCheckInput) (bool, error) {
	sc, err := s.Store.ScheduleGet(ctx, in.Schedule)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	spec := Defaults(sc.Spec)
	var note string
	if in.Test == 0 {
		note = "paused: " + in.StartError
	} else {
		limit := *spec.PauseAfterFailures
		if limit == 0 {
			return false, nil
		}
		ts, err := s.recentTests(ctx, sc, limit+20)
		if err != nil {
			return false, err
		}
		n, failed := FailuresInARow(ts)
		if n < limit {
			return false, nil
		}
		why := make([]string, 0, limit)
		for _, t := range failed[:limit] {
			w := fmt.Sprintf("test %d %s", t.ID, t.State)
			if t.Reason != "" {
				w += ": " + strings.Join(strings.Fields(t.Reason), " ")
			}
			if len(w) > 200 {
				w = w[:200] + "…"
			}
			why = append(why, w)
		}
		note = fmt.Sprintf("paused after %d failed runs in a row: %s", limit, strings.Join(why, "; "))
	}
	h := s.handle(sc.ID)
	d, err := h.Describe(ctx)
	if err != nil {
		return false, err
	}
	if d.Schedule.State != nil && d.Schedule.State.Paused {
		return false, nil
	}
	if err := h.Pause(ctx, client.SchedulePauseOptions{Note: note}); err != nil {
		return false, err
	}
	s.Log.Info("schedule paused", "schedule", sc.ID, "note", note)
	service.Audit(as(ctx, sc.Team), s.Store, s.Log, "schedule paused", sc.Team, fmt.Sprintf("schedule %d", sc.ID), note)
	return true, nil
}
