package schedules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Defaults and bounds of a backfill.
const (
	// DefaultBackfillOverlap is a backfill's overlap policy unless one is
	// given: every run of the period happens, one after another. Not the
	// schedule's own policy (buffer_one would run one run of the period and
	// skip the rest), and not allow_all: tests of a framework queue for
	// their host anyway (its lease), so starting them all at once only
	// fills the queue and takes the host from other teams' tests in turn.
	DefaultBackfillOverlap = "buffer_all"
	// MaxBackfillSpan is the longest period one backfill covers.
	MaxBackfillSpan = 31 * 24 * time.Hour
	// MaxBackfillRuns is the most runs one backfill starts: each is a test.
	MaxBackfillRuns = 100
)

// Backfill runs the runs a schedule would have made from start to end,
// both included, under overlap (empty: DefaultBackfillOverlap), whether
// or not the schedule is paused: the team's members. It returns the
// schedule and the number of runs that were due.
func (s *Service) Backfill(ctx context.Context, id int64, start, end time.Time, overlap string) (*wire.Schedule, int, error) {
	sc, err := s.loadToChange(ctx, id, "backfilling")
	if err != nil {
		return nil, 0, err
	}
	policy, err := CheckBackfill(start, end, &overlap, time.Now())
	if err != nil {
		return nil, 0, err
	}
	due, err := s.dueTimes(ctx, id, start, end)
	if err != nil {
		return nil, 0, backfillError(err, sc.Spec)
	}
	period := fmt.Sprintf("from %s to %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
	switch {
	case len(due) == 0:
		return nil, 0, service.InvalidField("start", fmt.Sprintf("schedule %d had no run due %s", id, period))
	case len(due) > MaxBackfillRuns:
		return nil, 0, service.InvalidField("start", fmt.Sprintf("schedule %d had %s runs due %s; a backfill runs at most %d: choose a shorter period",
			id, atLeast(len(due)), period, MaxBackfillRuns))
	}
	err = s.handle(id).Backfill(ctx, client.ScheduleBackfillOptions{Backfill: []client.ScheduleBackfill{
		{Start: start, End: end, Overlap: policy}}})
	if err != nil {
		return nil, 0, backfillError(err, sc.Spec)
	}
	service.Audit(ctx, s.Store, s.Log, "schedule backfilled", sc.Team, fmt.Sprintf("schedule %d", id),
		fmt.Sprintf("%s: %d runs due %s, overlap %s", sc.Framework, len(due), period, overlap))
	return s.describe(ctx, sc), len(due), nil
}

// CheckBackfill validates a backfill's period at now and its overlap
// policy (filling in the default, in place) and returns Temporal's
// policy. Each refusal names its field.
func CheckBackfill(start, end time.Time, overlap *string, now time.Time) (enums.ScheduleOverlapPolicy, error) {
	const when = "an RFC 3339 time such as 2026-01-02T03:00:00Z"
	switch {
	case start.IsZero():
		return 0, service.InvalidField("start", "give start, "+when)
	case end.IsZero():
		return 0, service.InvalidField("end", "give end, "+when)
	case !end.After(start):
		return 0, service.InvalidField("end", fmt.Sprintf("end %s must be after start %s", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339)))
	case end.After(now):
		return 0, service.InvalidField("end", fmt.Sprintf("end %s is in the future: a backfill runs the runs of a past period, the schedule runs later ones itself", end.UTC().Format(time.RFC3339)))
	case end.Sub(start) > MaxBackfillSpan:
		return 0, service.InvalidField("start", fmt.Sprintf("the period from %s to %s is longer than %d days: backfill it a month at a time",
			start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), MaxBackfillSpan/(24*time.Hour)))
	}
	if *overlap == "" {
		*overlap = DefaultBackfillOverlap
	}
	policy, ok := Overlaps[*overlap]
	if !ok {
		return 0, service.InvalidField("overlap", fmt.Sprintf("overlap %q must be one of %s", *overlap, strings.Join(OverlapNames, ", ")))
	}
	return policy, nil
}

// dueTimes are the times schedule id was due from start to end, both
// included, as Temporal computes them from the schedule's spec (it lists
// at most 1000). Temporal lists the times after its start and a backfill
// includes its own: the start asked for is a millisecond earlier.
func (s *Service) dueTimes(ctx context.Context, id int64, start, end time.Time) ([]time.Time, error) {
	resp, err := s.Temporal.WorkflowService().ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
		Namespace: s.namespace(), ScheduleId: contract.ScheduleID(id),
		StartTime: timestamppb.New(start.Add(-time.Millisecond)), EndTime: timestamppb.New(end)})
	if err != nil {
		return nil, fmt.Errorf("list the times schedule %d was due: %w", id, err)
	}
	out := make([]time.Time, 0, len(resp.GetStartTime()))
	for _, t := range resp.GetStartTime() {
		out = append(out, t.AsTime())
	}
	return out, nil
}

// atLeast says n, or "at least n" when n is Temporal's limit on the
// times it lists.
func atLeast(n int) string {
	if n >= 1000 {
		return fmt.Sprintf("at least %d", n)
	}
	return fmt.Sprint(n)
}

// backfillError maps Temporal's answer to a backfill: a period it refuses
// is bad input about the period; the rest as for any schedule call.
func backfillError(err error, spec wire.ScheduleSpec) error {
	var bad *serviceerror.InvalidArgument
	if errors.As(err, &bad) {
		return service.InvalidField("start", "Temporal refused the backfill: "+bad.Message)
	}
	return temporalError(err, spec)
}
