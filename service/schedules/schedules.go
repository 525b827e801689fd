// Package schedules is the service for scheduled runs: per framework, any
// number of Temporal Schedules that each start a test now and then (cron,
// calendar or interval, in a time zone, with parameter values and a
// branch), with an overlap policy, a catch-up window and pause-on-failure.
//
// Temporal owns each schedule: its spec, whether it is paused and why, its
// next runs and its counters come from Temporal, so schedules fire while
// Pitwall's processes restart. Pitwall keeps a row per schedule (team,
// framework, creator and the spec as given) to list and authorise them.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked where no zoneinfo is installed

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Service runs the operations on schedules (the server), and the
// activities of the runs they start (the central worker).
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// Namespace is Temporal's namespace (empty: "default").
	Namespace string
	// Tests starts the schedules' tests (central worker).
	Tests     *tests.Service
	PublicURL string
	Log       *slog.Logger
	// Wait is how often ScheduleWait looks at its test (0: 2 s).
	Wait time.Duration
}

// Defaults and bounds of a schedule's policies.
const (
	DefaultOverlap            = "buffer_one"
	DefaultCatchupWindow      = time.Hour
	MinCatchupWindow          = 10 * time.Second // Temporal's own floor
	MaxCatchupWindow          = 30 * 24 * time.Hour
	DefaultPauseAfterFailures = 3
	MaxPauseAfterFailures     = 100
	MinInterval               = time.Second
)

// Overlaps maps the API's overlap policies to Temporal's.
var Overlaps = map[string]enums.ScheduleOverlapPolicy{
	"skip":            enums.SCHEDULE_OVERLAP_POLICY_SKIP,
	"buffer_one":      enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
	"buffer_all":      enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL,
	"cancel_other":    enums.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER,
	"terminate_other": enums.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER,
	"allow_all":       enums.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
}

// OverlapNames are the overlap policies in the order forms offer them.
var OverlapNames = []string{"buffer_one", "skip", "buffer_all", "cancel_other", "terminate_other", "allow_all"}

// MayChange reports whether the principal of ctx may create, edit, pause,
// resume and trigger schedules of team: its members (as running a test).
func MayChange(ctx context.Context, team string) bool { return tests.MayRun(ctx, team) }

// MayDelete reports whether the principal of ctx may delete sc: its
// creator and the team's admins.
func MayDelete(ctx context.Context, sc *wire.Schedule) bool {
	return service.Principal(ctx).CanModify(sc.Team, sc.CreatedBy)
}

// notFound is the refusal of a schedule that does not exist or that the
// principal may not see.
func notFound(id int64) error {
	return service.Errorf(service.NotFound, "id", "schedule %d not found", id)
}

// List lists a framework's schedules with what Temporal says of each:
// the team's viewers.
func (s *Service) List(ctx context.Context, team, framework string) ([]wire.Schedule, error) {
	team = service.TeamOr(team)
	if !service.MayView(ctx, team) {
		return nil, service.Errorf(service.NotFound, "framework", "framework %q not found in team %q", framework, team)
	}
	if _, err := s.Store.FrameworkGet(ctx, team, framework); errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "framework", "framework %q not found in team %q", framework, team)
	} else if err != nil {
		return nil, err
	}
	rows, err := s.Store.ScheduleList(ctx, team, framework)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out := make([]wire.Schedule, 0, len(rows))
	for _, r := range rows {
		out = append(out, *s.describe(ctx, &r))
	}
	return out, nil
}

// Get shows one schedule: the team's viewers.
func (s *Service) Get(ctx context.Context, id int64) (*wire.Schedule, error) {
	sc, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.describe(ctx, sc), nil
}

// load reads a schedule the principal of ctx may see.
func (s *Service) load(ctx context.Context, id int64) (*store.Schedule, error) {
	if id <= 0 {
		return nil, service.InvalidField("id", "a schedule ID is a positive number")
	}
	sc, err := s.Store.ScheduleGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !service.MayView(ctx, sc.Team) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load schedule %d: %w", id, err)
	}
	return sc, nil
}

// loadToChange reads a schedule the principal of ctx may change.
func (s *Service) loadToChange(ctx context.Context, id int64, what string) (*store.Schedule, error) {
	sc, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !MayChange(ctx, sc.Team) {
		return nil, service.NotAllowed(fmt.Sprintf("%s a schedule of team %q needs the member role there", what, sc.Team))
	}
	return sc, nil
}

// Create makes a schedule of a framework: the team's members.
func (s *Service) Create(ctx context.Context, team, framework string, spec wire.ScheduleSpec) (*wire.Schedule, error) {
	info, err := s.Tests.Runnable(ctx, team, framework, 0)
	if err != nil {
		return nil, err
	}
	team = service.TeamOr(team)
	plan, err := Check(info, &spec)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	row := store.Schedule{Team: team, Framework: framework, Spec: spec, CreatedBy: service.Principal(ctx).Name, CreatedAt: now, UpdatedAt: now}
	if row.ID, err = s.Store.ScheduleCreate(ctx, row); err != nil {
		return nil, fmt.Errorf("store schedule: %w", err)
	}
	_, err = s.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: contract.ScheduleID(row.ID), Spec: plan.Spec, Action: action(row.ID),
		Overlap: plan.Overlap, CatchupWindow: plan.CatchupWindow,
		Note: "created by " + row.CreatedBy,
	})
	if err != nil {
		_ = s.Store.ScheduleDelete(context.WithoutCancel(ctx), row.ID)
		return nil, temporalError(err, spec)
	}
	service.Audit(ctx, s.Store, s.Log, "schedule created", team, fmt.Sprintf("schedule %d", row.ID), framework+": "+Describe(spec))
	return s.describe(ctx, &row), nil
}

// Update replaces a schedule's spec and policies (not its paused state):
// the team's members.
func (s *Service) Update(ctx context.Context, id int64, spec wire.ScheduleSpec) (*wire.Schedule, error) {
	sc, err := s.loadToChange(ctx, id, "changing")
	if err != nil {
		return nil, err
	}
	info, err := s.Tests.Runnable(ctx, sc.Team, sc.Framework, 0)
	if err != nil {
		return nil, err
	}
	plan, err := Check(info, &spec)
	if err != nil {
		return nil, err
	}
	err = s.handle(id).Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		sched := in.Description.Schedule
		sched.Spec = &plan.Spec
		sched.Action = action(id)
		sched.Policy = &client.SchedulePolicies{Overlap: plan.Overlap, CatchupWindow: plan.CatchupWindow}
		return &client.ScheduleUpdate{Schedule: &sched}, nil
	}})
	if err != nil {
		return nil, temporalError(err, spec)
	}
	sc.Spec, sc.UpdatedAt = spec, time.Now()
	if err := s.Store.ScheduleUpdate(ctx, id, spec, sc.UpdatedAt); err != nil {
		return nil, fmt.Errorf("store schedule %d: %w", id, err)
	}
	service.Audit(ctx, s.Store, s.Log, "schedule changed", sc.Team, fmt.Sprintf("schedule %d", id), sc.Framework+": "+Describe(spec))
	return s.describe(ctx, sc), nil
}

// Pause pauses a schedule with a note: the team's members.
func (s *Service) Pause(ctx context.Context, id int64, note string) (*wire.Schedule, error) {
	return s.act(ctx, id, "pausing", "schedule paused", func(h client.ScheduleHandle, by string) error {
		return h.Pause(ctx, client.SchedulePauseOptions{Note: noteBy("paused", by, note)})
	})
}

// Resume unpauses a schedule: the team's members.
func (s *Service) Resume(ctx context.Context, id int64, note string) (*wire.Schedule, error) {
	return s.act(ctx, id, "resuming", "schedule resumed", func(h client.ScheduleHandle, by string) error {
		return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: noteBy("resumed", by, note)})
	})
}

// Trigger runs a schedule now, under its overlap policy: the team's members.
func (s *Service) Trigger(ctx context.Context, id int64) (*wire.Schedule, error) {
	return s.act(ctx, id, "triggering", "schedule triggered", func(h client.ScheduleHandle, _ string) error {
		return h.Trigger(ctx, client.ScheduleTriggerOptions{})
	})
}

func (s *Service) act(ctx context.Context, id int64, what, audit string, do func(client.ScheduleHandle, string) error) (*wire.Schedule, error) {
	sc, err := s.loadToChange(ctx, id, what)
	if err != nil {
		return nil, err
	}
	if err := do(s.handle(id), service.Principal(ctx).Name); err != nil {
		return nil, temporalError(err, sc.Spec)
	}
	service.Audit(ctx, s.Store, s.Log, audit, sc.Team, fmt.Sprintf("schedule %d", id), sc.Framework)
	return s.describe(ctx, sc), nil
}

// noteBy is a pause or resume note: who did it, and what they said.
func noteBy(what, by, note string) string {
	note = strings.Join(strings.Fields(note), " ")
	if len(note) > 500 {
		note = note[:500]
	}
	out := what + " by " + by
	if note != "" {
		out += ": " + note
	}
	return out
}

// Delete removes a schedule from Temporal and Pitwall: its creator and
// the team's admins. Its tests stay.
func (s *Service) Delete(ctx context.Context, id int64) error {
	sc, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if !service.Principal(ctx).CanModify(sc.Team, sc.CreatedBy) {
		return service.NotAllowed(fmt.Sprintf("schedule %d belongs to %s; only they and the team's admins delete it", id, sc.CreatedBy))
	}
	var nf *serviceerror.NotFound
	if err := s.handle(id).Delete(ctx); err != nil && !errors.As(err, &nf) {
		return temporalError(err, sc.Spec)
	}
	if err := s.Store.ScheduleDelete(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete schedule %d: %w", id, err)
	}
	service.Audit(ctx, s.Store, s.Log, "schedule deleted", sc.Team, fmt.Sprintf("schedule %d", id), sc.Framework)
	return nil
}

// namespace is Temporal's namespace the schedules live in.
func (s *Service) namespace() string {
	if s.Namespace == "" {
		return "default"
	}
	return s.Namespace
}

func (s *Service) handle(id int64) client.ScheduleHandle {
	return s.Temporal.ScheduleClient().GetHandle(context.Background(), contract.ScheduleID(id))
}

// action is what schedule id does when it fires.
func action(id int64) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID: contract.ScheduledRunID(id), Workflow: contract.ScheduledRunWorkflow, TaskQueue: contract.CentralQueue,
		Args: []any{contract.ScheduledRunInput{Schedule: id}},
	}
}

// temporalError maps Temporal's answer about a schedule: a spec it
// refuses is bad input about the spec's field; the rest is Temporal
// being unavailable.
func temporalError(err error, spec wire.ScheduleSpec) error {
	var (
		bad *serviceerror.InvalidArgument
		nf  *serviceerror.NotFound
	)
	switch {
	case errors.As(err, &bad):
		return service.InvalidField(whenField(spec), "Temporal refused the schedule: "+bad.Message)
	case errors.As(err, &nf):
		return service.Errorf(service.Conflict, "", "Temporal holds no such schedule (was its namespace reset?); delete it and create it again")
	}
	if e := service.As(err); e != nil {
		return e
	}
	return service.Errorf(service.Unavailable, "", "Temporal did not answer: %v", err)
}

// whenField names the field that says when a spec fires.
func whenField(spec wire.ScheduleSpec) string {
	switch {
	case spec.Calendar != nil:
		return "calendar"
	case spec.Interval != "":
		return "interval"
	}
	return "cron"
}

// describe is a schedule as the API shows it: the row, what Temporal says
// of it, and its latest tests.
func (s *Service) describe(ctx context.Context, sc *store.Schedule) *wire.Schedule {
	out := &wire.Schedule{ID: sc.ID, Team: sc.Team, Framework: sc.Framework, ScheduleSpec: Defaults(sc.Spec),
		CreatedBy: sc.CreatedBy, CreatedAt: sc.CreatedAt, UpdatedAt: sc.UpdatedAt,
		TemporalID: contract.ScheduleID(sc.ID), NextRuns: []time.Time{}, Tests: []wire.ScheduleTest{}}
	d, err := s.Temporal.WorkflowService().DescribeSchedule(ctx, &workflowservice.DescribeScheduleRequest{
		Namespace: s.namespace(), ScheduleId: out.TemporalID})
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		out.Error = "Temporal holds no such schedule (was its namespace reset?); delete it and create it again"
	case err != nil:
		s.Log.Warn("describe schedule", "schedule", sc.ID, "error", err)
		out.Error = "Temporal did not answer; the schedule's state is unknown"
	default:
		st, info := d.GetSchedule().GetState(), d.GetInfo()
		out.Paused, out.Note = st.GetPaused(), st.GetNotes()
		for _, t := range info.GetFutureActionTimes() {
			out.NextRuns = append(out.NextRuns, t.AsTime())
		}
		out.Runs, out.MissedCatchupWindow = info.GetActionCount(), info.GetMissedCatchupWindow()
		out.OverlapSkipped, out.BufferDropped, out.Buffered = info.GetOverlapSkipped(), info.GetBufferDropped(), info.GetBufferSize()
		out.Running = len(info.GetRunningWorkflows())
	}
	ts, err := s.recentTests(ctx, sc, 10)
	if err != nil {
		s.Log.Warn("schedule's tests", "schedule", sc.ID, "error", err)
	}
	for _, t := range ts {
		out.Tests = append(out.Tests, wire.ScheduleTest{ID: t.ID, State: t.State, Verdict: tests.Verdict(t.State, t.Verdict),
			Created: t.CreatedAt, URL: s.PublicURL + tests.PagePath(t.ID)})
	}
	out.FailuresInARow, _ = FailuresInARow(ts)
	return out
}

// recentTests are a schedule's latest tests, newest first.
func (s *Service) recentTests(ctx context.Context, sc *store.Schedule, n int) ([]wire.Test, error) {
	return s.Store.TestList(ctx, store.TestFilter{Framework: sc.Framework, Teams: []string{sc.Team},
		Tag: TagSchedule + "=" + fmt.Sprint(sc.ID), Limit: n})
}

// Failed reports whether a scheduled run whose test ended in state counts
// as a failure for pause-on-failure: failed, aborted or timed out. A
// finished test counts as a success whatever its verdict: a regression is
// what verdicts and alerts are for, not a broken schedule.
func Failed(state string) bool {
	return state == wire.StateFailed || state == wire.StateAborted || state == wire.StateTimedOut
}

// FailuresInARow counts the tests (newest first) that failed in a row
// before the latest that finished, skipping those still going; it
// returns them too.
func FailuresInARow(ts []wire.Test) (int, []wire.Test) {
	var failed []wire.Test
	for _, t := range ts {
		switch {
		case !wire.Ended(t.State):
			continue
		case Failed(t.State):
			failed = append(failed, t)
		default:
			return len(failed), failed
		}
	}
	return len(failed), failed
}

// Principal is who a schedule's tests run as: a member of the schedule's
// team named "schedule", the owner of the tests it starts. Not the
// creator: a schedule is the team's and keeps running when its creator
// leaves, and it can do no more than any member (team admins abort its
// tests; the tag schedule=<id> finds them).
const Principal = "schedule"

func as(ctx context.Context, team string) context.Context {
	return service.WithPrincipal(ctx, &auth.Principal{Kind: auth.KindUser, Name: Principal,
		Teams: map[string]auth.Role{team: auth.Member}})
}

// Tags a scheduled test carries.
const (
	// TagSchedule is the schedule's ID.
	TagSchedule = "schedule"
	// TagRun is the scheduled run's workflow ID.
	TagRun = "schedule.run"
)

var lineRE = regexp.MustCompile(`^[^\x00-\x1f\x7f]*$`)
