package schedules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/workflows/contract"
)

// A framework's noise key (docs/noise.md) is a Temporal Schedule of its
// own, kept in step with the framework by SyncNoise whenever the
// framework is applied: created when the key appears, updated when it
// changes, deleted when it goes. Its action is a ScheduledNoise workflow,
// which starts a NoiseFloor measurement on each host the key names and
// waits for them. A run still going when the next is due makes that one
// skip (an A/A series must not overlap itself on a host).

// noiseCatchup is how late a missed firing (the server down) still runs.
const noiseCatchup = time.Hour

// NoisePlan is a noise key as Temporal takes it.
func NoisePlan(team, name string, n *framework.Noise) (client.ScheduleSpec, *client.ScheduleWorkflowAction) {
	spec := client.ScheduleSpec{CronExpressions: []string{n.Schedule}, TimeZoneName: n.Zone()}
	act := &client.ScheduleWorkflowAction{
		ID: contract.ScheduledNoiseID(team, name), Workflow: contract.NoiseScheduleWorkflow, TaskQueue: contract.CentralQueue,
		Args: []any{contract.ScheduledNoiseInput{Team: team, Framework: name}},
	}
	return spec, act
}

// SyncNoise makes the Temporal schedule of f's noise key match it: f is
// the framework about to be stored, had says its current version has a
// noise key (so one may have to be deleted). A spec Temporal refuses is
// bad input about noise.schedule.
func (s *Service) SyncNoise(ctx context.Context, f *framework.Framework, had bool) error {
	id := contract.NoiseScheduleID(f.Team, f.Name)
	h := s.Temporal.ScheduleClient().GetHandle(ctx, id)
	var nf *serviceerror.NotFound
	if f.Noise == nil {
		if !had {
			return nil
		}
		if err := h.Delete(ctx); err != nil && !errors.As(err, &nf) {
			return noiseError(err)
		}
		s.Log.Info("noise schedule deleted", "framework", f.Name, "team", f.Team)
		return nil
	}
	spec, act := NoisePlan(f.Team, f.Name, f.Noise)
	_, err := s.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: id, Spec: spec, Action: act, Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: noiseCatchup,
		Note: "the noise key of framework " + f.Team + "/" + f.Name,
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sched := in.Description.Schedule
			sched.Spec, sched.Action = &spec, act
			sched.Policy = &client.SchedulePolicies{Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: noiseCatchup}
			return &client.ScheduleUpdate{Schedule: &sched}, nil
		}})
	}
	if err != nil {
		return noiseError(err)
	}
	s.Log.Info("noise schedule set", "framework", f.Name, "team", f.Team, "schedule", f.Noise.Schedule, "timezone", f.Noise.Zone())
	return nil
}

// noiseError maps Temporal's answer about a noise schedule.
func noiseError(err error) error {
	var bad *serviceerror.InvalidArgument
	if errors.As(err, &bad) {
		return service.InvalidField("noise.schedule", "Temporal refused the schedule: "+bad.Message)
	}
	return service.Errorf(service.Unavailable, "", "Temporal did not answer about the noise schedule: %v", err)
}

// NoiseSchedule says when a framework's scheduled A/A runs next, from
// Temporal; nil when the framework has no noise key. The caller has
// checked the principal may see the framework.
func (s *Service) NoiseSchedule(ctx context.Context, info *wire.FrameworkInfo) *wire.NoiseSchedule {
	n := info.Noise
	if n == nil {
		return nil
	}
	out := &wire.NoiseSchedule{Schedule: n.Schedule, TimeZone: n.Zone(), Runs: n.NoiseRuns(), Hosts: n.Hosts,
		TemporalID: contract.NoiseScheduleID(info.Team, info.Name), NextRuns: []time.Time{}}
	d, err := s.Temporal.WorkflowService().DescribeSchedule(ctx, &workflowservice.DescribeScheduleRequest{
		Namespace: s.namespace(), ScheduleId: out.TemporalID})
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		out.Error = "Temporal holds no such schedule: apply the framework again to create it"
	case err != nil:
		s.Log.Warn("describe noise schedule", "framework", info.Name, "error", err)
		out.Error = "Temporal did not answer; the schedule's state is unknown"
	default:
		out.Paused = d.GetSchedule().GetState().GetPaused()
		for _, t := range d.GetInfo().GetFutureActionTimes() {
			out.NextRuns = append(out.NextRuns, t.AsTime())
		}
		out.Fired = d.GetInfo().GetActionCount()
	}
	return out
}

// StartNoiseRun starts a scheduled A/A: a measurement on each host of the
// framework's noise key, as the schedule's principal (a member of the
// team), through the rules of a measurement asked by hand
// (contract.NoiseScheduleStart). A host with a measurement of the
// framework running is waited for, not measured twice (which also makes
// a retried activity find what it started). A host that cannot be
// measured is skipped with why; the framework gone or without a noise
// key, every host is.
func (s *Service) StartNoiseRun(ctx context.Context, in contract.ScheduledNoiseStartInput) (*contract.ScheduledNoiseResult, error) {
	res := &contract.ScheduledNoiseResult{Measurements: []int64{}, Skipped: []string{}}
	info, err := s.Store.FrameworkGet(ctx, in.Team, in.Framework)
	if errors.Is(err, store.ErrNotFound) {
		res.Skipped = append(res.Skipped, fmt.Sprintf("framework %s/%s was deleted", in.Team, in.Framework))
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	n := info.Noise
	if n == nil {
		res.Skipped = append(res.Skipped, "the framework has no noise key any more")
		return res, nil
	}
	hosts, skipped, err := s.noiseHosts(ctx, info)
	if err != nil {
		return nil, err
	}
	res.Skipped = append(res.Skipped, skipped...)
	ctx = as(ctx, in.Team)
	for _, h := range hosts {
		m, err := s.Tests.StartNoise(ctx, h, wire.NoiseRequest{Framework: in.Framework, Team: in.Team, Runs: n.NoiseRuns(),
			Commit: n.Commit, Params: n.Params})
		switch service.KindOf(err) {
		case service.Conflict:
			id, ferr := s.Store.NoiseRunning(ctx, h, in.Team, in.Framework)
			if ferr != nil {
				return nil, ferr
			}
			if id > 0 {
				res.Measurements = append(res.Measurements, id)
				continue
			}
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", h, err))
			continue
		case service.Invalid, service.NotFound, service.Forbidden, service.TooLarge:
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", h, err))
			continue
		}
		if err != nil {
			return nil, err // Temporal or the database: retried
		}
		res.Measurements = append(res.Measurements, m.ID)
	}
	return res, nil
}

// noiseHosts are the hosts a scheduled A/A measures: those the noise key
// names, else the framework's execution host, else every online agent
// the framework may run on (the team's or shared, its labels, a Docker
// engine when it runs containers, not excluded). A named host that is
// offline is skipped with why.
func (s *Service) noiseHosts(ctx context.Context, info *wire.FrameworkInfo) (hosts, skipped []string, err error) {
	agents, err := s.Store.AgentList(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list agents: %w", err)
	}
	named := info.Noise.Hosts
	if len(named) == 0 {
		named = info.Execution.Hosts
	}
	containers := len(info.Services) > 0 || info.Load != nil
	for _, ag := range agents {
		switch {
		case len(named) > 0:
			if !slices.Contains(named, ag.Name) {
				continue
			}
			if !ag.Online {
				skipped = append(skipped, ag.Name+": offline")
				continue
			}
		case !ag.Online || ag.Excluded || !ag.UsableBy(info.Team) || containers && ag.Facts.Docker == "":
			continue
		default:
			if !labelsMatch(ag.Labels, info.Execution.Labels) {
				continue
			}
		}
		hosts = append(hosts, ag.Name)
	}
	for _, h := range named {
		if !slices.ContainsFunc(agents, func(a wire.Agent) bool { return a.Name == h }) {
			skipped = append(skipped, h+": not a registered agent")
		}
	}
	if len(named) == 0 && len(hosts) == 0 {
		skipped = append(skipped, "no online agent may run the framework")
	}
	return hosts, skipped, nil
}

// labelsMatch says whether an agent has every label the framework asks for.
func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// WaitNoise returns the measurements' endings once every one has ended
// (contract.NoiseScheduleWait); a deleted one is "".
func (s *Service) WaitNoise(ctx context.Context, ids []int64) ([]string, error) {
	every := s.Wait
	if every <= 0 {
		every = 2 * time.Second
	}
	for {
		states := make([]string, len(ids))
		done := true
		for i, id := range ids {
			m, err := s.Store.NoiseGet(ctx, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return nil, err
			default:
				states[i] = m.State
				done = done && m.State != wire.NoiseRunning
			}
		}
		if done {
			return states, nil
		}
		activity.RecordHeartbeat(ctx, states)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
}
