package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// The multi-host path of PerfTest (docs/multihost.md): every host of
// every role is leased (in the global order, as any test's hosts), set
// up, and its role's setup hook run, all hosts at once; services (serve
// roles) start and the barrier waits until each says it is ready; then
// every other host's script starts at one common instant. The first
// script to fail stops the others; services are stopped when the rest
// end. Each host's results are collected, the role's merge rules make the
// test's KPIs (with each host's own value as NAME@host), and at the end,
// whatever the ending, each host's teardown runs once and its directory
// is removed.

// versionRoles guards the multi-host path (only tests with roles take it).
const versionRoles = "roles"

// roleHost is one host playing one role.
type roleHost struct {
	role  framework.Role
	index int // among the role's hosts, from 0
	host  string
	setup *contract.SetupResult
	// exec is the running script's Execute; run and err how it ended.
	exec workflow.Future
	run  *contract.ExecuteResult
	err  error
	// killed is set once the host was told to kill its scripts.
	killed bool
	lost   bool
	got    *contract.CollectResult
}

// roleRun is the state of a multi-host test.
type roleRun struct {
	hosts []*roleHost
	// failed is the first host whose script failed.
	failed *roleHost
	env    []string
	// breach is why a live threshold aborted the test (perftest_abortif.go).
	breach string
	// loadStart is the load's common start instant, for the progress
	// query (set, never read, by the workflow: no command depends on it).
	loadStart time.Time
}

// hostsProgress is the progress query's view of the hosts: read only.
func (r *roleRun) hostsProgress() []contract.HostProgress {
	out := make([]contract.HostProgress, 0, len(r.hosts))
	for _, h := range r.hosts {
		p := contract.HostProgress{Role: h.role.Name, Host: h.host, Serve: h.role.Serve, State: "preparing"}
		switch {
		case h.run == nil && h.err == nil && h.exec != nil && h.role.Serve:
			p.State = "serving"
		case h.run == nil && h.err == nil && h.exec != nil:
			p.State = "running"
		case h.run == nil && h.err == nil && h.setup != nil:
			p.State = "ready"
		case h.run == nil && h.err == nil:
		case h.killed:
			p.State = "stopped"
		case h.err != nil || h.run.ExitCode != 0 || h.run.TimedOut:
			p.State = "failed"
		default:
			p.State = "ended"
		}
		out = append(out, p)
	}
	return out
}

// multiHost says whether the test takes the multi-host path.
func (t *perfTest) multiHost(ctx workflow.Context) bool {
	return len(t.plan.Roles) > 0 && workflow.GetVersion(ctx, versionRoles, workflow.DefaultVersion, 1) == 1
}

// executeRoles runs a multi-host test up to its ending.
func (t *perfTest) executeRoles(ctx workflow.Context) *contract.PerfTestResult {
	res := &contract.PerfTestResult{}
	t.roles = &roleRun{}
	why := t.prepareRoles(ctx, res)
	if why == "" {
		why = t.measureRoles(ctx, res)
	}
	if why == "" {
		why = t.conclude(ctx, res)
		if f := t.roles.failed; f != nil && res.State == wire.StateFailed {
			res.Reason = fmt.Sprintf("%s on %s: %s", f.role.Name, f.host, res.Reason)
		}
	}
	if why == "" && t.roles.breach != "" {
		res.State, res.Reason = wire.StateAborted, "aborted: "+t.roles.breach
	}
	if why != "" {
		res.State, res.Reason = wire.StateFailed, why
	}
	return res
}

// versionPinnedRoles guards a confirmation's run of a multi-host test
// playing on the hosts its confirmation chose (only runs handed
// RoleHosts take it).
const versionPinnedRoles = "roles-pinned"

// pickRoles chooses the roles' hosts, or takes those the confirmation
// chose, which must name the framework's roles in its order.
func (t *perfTest) pickRoles(ctx workflow.Context, in contract.RolesPickInput) (*contract.RolesPickResult, string) {
	if len(t.pinRoles) > 0 && workflow.GetVersion(ctx, versionPinnedRoles, workflow.DefaultVersion, 1) == 1 {
		if len(t.pinRoles) != len(in.Roles) {
			return nil, fmt.Sprintf("choose hosts: the confirmation chose hosts for %d role(s), the framework has %d", len(t.pinRoles), len(in.Roles))
		}
		for i, rh := range t.pinRoles {
			if rh.Name != in.Roles[i].Name || len(rh.Hosts) == 0 {
				return nil, fmt.Sprintf("choose hosts: the confirmation chose hosts for role %q, the framework's role %d is %q", rh.Name, i+1, in.Roles[i].Name)
			}
		}
		t.stage(ctx, "hosts chosen", "by the confirmation")
		return &contract.RolesPickResult{Roles: t.pinRoles}, ""
	}
	picked, err := contract.RolesPick.ExecuteLocal(workflow.WithLocalActivityOptions(ctx, pickOptions), in).Result(ctx)
	if err != nil {
		return nil, because("choose hosts", err)
	}
	return picked, ""
}

// prepareRoles picks and leases the roles' hosts, sets each up and runs
// its setup hook, starts the services and waits at the barrier until
// every host is ready.
func (t *perfTest) prepareRoles(ctx workflow.Context, res *contract.PerfTestResult) string {
	p := t.plan
	in := contract.RolesPickInput{TestID: t.id}
	for _, r := range p.Roles {
		in.Roles = append(in.Roles, contract.RoleWant{Name: r.Name, Hosts: r.Hosts, Labels: r.Labels, Count: r.Count})
	}
	picked, why := t.pickRoles(ctx, in)
	if why != "" {
		return why
	}
	for i, rh := range picked.Roles {
		for j, h := range rh.Hosts {
			t.roles.hosts = append(t.roles.hosts, &roleHost{role: p.Roles[i], index: j, host: h})
		}
		t.roles.env = append(t.roles.env, "PITWALL_ROLE_"+envName(rh.Name)+"_HOSTS="+strings.Join(rh.Hosts, ","))
	}
	t.host = t.roles.hosts[0].host
	for _, h := range t.roles.hosts[1:] {
		t.stats = append(t.stats, h.host)
	}
	for _, h := range p.Statistics.Hosts {
		if !slices.Contains(t.stats, h) && h != t.host {
			t.stats = append(t.stats, h)
		}
	}
	t.stats = append([]string{t.host}, t.stats...)
	res.Host = t.host
	if err := t.acquire(ctx); err != nil {
		return because("lease hosts", err)
	}
	if err := t.transition(ctx, wire.StateSetup, ""); err != nil {
		return because("setup", err)
	}
	if why := t.eachHost(ctx, "setup", func(h *roleHost) workflow.Future {
		var hooks []contract.Hook
		for _, name := range []string{"setup", "teardown"} {
			if s := h.role.RoleHooks()[name]; s != "" {
				hooks = append(hooks, contract.Hook{Name: name, Script: s})
			}
		}
		in := contract.SetupInput{TestID: t.id, Script: h.role.Script, ScriptPath: h.role.ScriptPath, Hooks: hooks}
		return contract.Setup.Execute(t.agent(ctx, h.host, time.Minute, 3), in).Future
	}, func(h *roleHost, f workflow.Future) error { return f.Get(ctx, &h.setup) }); why != "" {
		return why
	}
	t.setup = t.roles.hosts[0].setup
	t.stage(ctx, "setup done", fmt.Sprintf("%d host(s)", len(t.roles.hosts)))
	if why := t.roleHooks(ctx, "setup"); why != "" {
		return why
	}
	return t.startServices(ctx)
}

// eachHost starts one step on every host at once and waits for them all;
// it returns why the first that failed failed, or "".
func (t *perfTest) eachHost(ctx workflow.Context, step string, start func(*roleHost) workflow.Future,
	done func(*roleHost, workflow.Future) error) string {
	futures := make([]workflow.Future, len(t.roles.hosts))
	for i, h := range t.roles.hosts {
		futures[i] = start(h)
	}
	why := ""
	for i, h := range t.roles.hosts {
		if futures[i] == nil {
			continue
		}
		if err := done(h, futures[i]); err != nil && why == "" {
			h.lost = agentGone(err)
			why = fmt.Sprintf("%s on %s (%s): %s", step, h.host, h.role.Name, errorMessage(err))
		}
	}
	return why
}

// roleHooks runs a role hook (setup) on every host whose role has it, all
// at once.
func (t *perfTest) roleHooks(ctx workflow.Context, name string) string {
	ran := 0
	why := t.eachHost(ctx, "hook "+name, func(h *roleHost) workflow.Future {
		path, ok := h.setup.Hooks[name]
		if !ok {
			return nil
		}
		ran++
		return t.roleExecute(ctx, h, name, path, time.Time{})
	}, func(h *roleHost, f workflow.Future) error {
		var run contract.ExecuteResult
		err := f.Get(ctx, &run)
		if why := hookFailure(name, &run, err); why != "" {
			return errors.New(why)
		}
		return nil
	})
	if why == "" && ran > 0 {
		t.stage(ctx, "hook "+name+" done", fmt.Sprintf("%d host(s)", ran))
	}
	return why
}

// roleExecute starts a script or hook on a host, with the role's
// variables and, for the run itself, the common start instant.
func (t *perfTest) roleExecute(ctx workflow.Context, h *roleHost, name, path string, startAt time.Time) workflow.Future {
	p := t.plan
	env := append(slices.Clone(t.roles.env), "PITWALL_ROLE="+h.role.Name, "PITWALL_ROLE_INDEX="+strconv.Itoa(h.index))
	in := contract.ExecuteInput{
		TestID: t.id, Framework: p.Framework, Script: path, Dir: h.setup.Dir, ResultsDir: h.setup.ResultsDir,
		Args: p.Execution.Args, Params: p.Params, Timeout: p.Execution.Timeout, Name: name,
		Env: p.Execution.Env, Commit: p.Commit, StartAt: startAt, RoleEnv: env,
	}
	if name == "script" {
		// Inputs, not commands: replay compares none of them.
		in.Profilers = framework.ProfilersFor(p.Profilers, h.role.Name)
		in.Interference = framework.InterferenceOn(p.Interference, h.role.Name, h.host)
		in.Place = fmt.Sprintf("%s.%d", h.role.Name, h.index)
	}
	t.running = true // an abort kills it
	return contract.Execute.Execute(t.agent(ctx, h.host, p.Execution.Timeout+time.Minute, executeAttempts), in).Future
}

// startServices starts the serve roles' scripts and waits until each has
// written "ready" in its results directory: the barrier's last part.
func (t *perfTest) startServices(ctx workflow.Context) string {
	var serving []*roleHost
	for _, h := range t.roles.hosts {
		if h.role.Serve {
			t.running = true
			h.exec = t.roleExecute(ctx, h, "script", h.setup.Script, time.Time{})
			serving = append(serving, h)
		}
	}
	for _, h := range serving {
		wctx, cancel := workflow.WithCancel(ctx)
		wait := contract.WaitFile.Execute(t.agent(wctx, h.host, t.plan.Execution.Timeout, 3),
			contract.WaitFileInput{TestID: t.id, ResultsDir: h.setup.ResultsDir, File: "ready"})
		var waitErr error
		ended := false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(wait, func(f workflow.Future) { waitErr = f.Get(ctx, nil) })
		sel.AddFuture(h.exec, func(f workflow.Future) { ended = true; h.err = f.Get(ctx, &h.run) })
		sel.Select(ctx)
		cancel()
		switch {
		case ended && h.err != nil:
			return fmt.Sprintf("%s on %s: %s", h.role.Name, h.host, errorMessage(h.err))
		case ended:
			return fmt.Sprintf("%s on %s ended before it was ready: %s", h.role.Name, h.host, exitReason(*h.run))
		case waitErr != nil:
			return fmt.Sprintf("%s on %s never became ready: %s", h.role.Name, h.host, errorMessage(waitErr))
		}
	}
	t.stage(ctx, "barrier passed", fmt.Sprintf("%d host(s) ready", len(t.roles.hosts)))
	return ""
}

// measureRoles starts every non-service script at one instant, waits for
// them (the first failure stops the others), stops the services, and
// collects and merges every host's results.
func (t *perfTest) measureRoles(ctx workflow.Context, res *contract.PerfTestResult) string {
	t.monitors = t.startMonitors(ctx)
	if err := t.transition(ctx, wire.StateRunning, ""); err != nil {
		t.stopMonitors(ctx)
		return because("running", err)
	}
	startAt := workflow.Now(ctx).Add(framework.RoleStartDelay)
	t.roles.loadStart = startAt
	var load []*roleHost
	for _, h := range t.roles.hosts {
		if !h.role.Serve {
			t.running = true
			h.exec = t.roleExecute(ctx, h, "script", h.setup.Script, startAt)
			load = append(load, h)
		}
	}
	t.stage(ctx, "start instant", startAt.UTC().Format("15:04:05.000"))
	stopWatch := t.watchThresholds(ctx, load)
	t.awaitRuns(ctx, load)
	stopWatch()
	t.stopServices(ctx)
	t.running = false
	t.stopMonitors(ctx)
	t.recordRoleRuns(ctx, load, res)
	if why := t.collectRoles(ctx); why != "" {
		return why
	}
	for _, h := range t.roles.hosts {
		if h.err != nil && !temporal.IsCanceledError(h.err) {
			if h.lost {
				t.lost = h == t.roles.hosts[0]
				return fmt.Sprintf("agent lost: %s stopped answering", h.host)
			}
			return fmt.Sprintf("%s on %s: %s", h.role.Name, h.host, errorMessage(h.err))
		}
	}
	return ""
}

// awaitRuns waits for every run; the first that fails (or cannot run)
// has the other hosts kill theirs.
func (t *perfTest) awaitRuns(ctx workflow.Context, runs []*roleHost) {
	sel := workflow.NewSelector(ctx)
	for _, h := range runs {
		sel.AddFuture(h.exec, func(f workflow.Future) {
			h.err = f.Get(ctx, &h.run)
			if h.err != nil {
				h.lost = agentGone(h.err)
			}
			if t.roles.failed == nil && (h.err != nil || h.run.ExitCode != 0 || h.run.TimedOut) {
				t.roles.failed = h
				for _, o := range runs {
					if o != h && !o.exec.IsReady() {
						t.killHost(ctx, o)
					}
				}
			}
		})
	}
	for range runs {
		sel.Select(ctx)
	}
}

// versionStopServices stops services with StopScripts, which lets their
// profilers finish, instead of Kill.
const versionStopServices = "roles-stop-services"

// recordRoleRuns stages each host's start and end, the spread of the
// start instants, and keeps the run the test's ending is judged by.
func (t *perfTest) recordRoleRuns(ctx workflow.Context, load []*roleHost, res *contract.PerfTestResult) {
	var first, last time.Time
	for _, h := range t.roles.hosts {
		if h.run == nil {
			continue
		}
		name := fmt.Sprintf("%s %s", h.role.Name, h.host)
		ended := fmt.Sprintf("exit %d", h.run.ExitCode)
		if h.run.TimedOut {
			ended = "timed out"
		}
		if h.role.Serve && h.killed {
			ended = "stopped"
		}
		t.stages = append(t.stages,
			contract.Stage{Name: name + " started", At: h.run.StartedAt},
			contract.Stage{Name: name + " ended", At: h.run.EndedAt, Detail: ended + usage(h.run)})
		t.stages = append(t.stages, interferenceStages(h.run.Interference, h.role.Name)...)
		if h.role.Serve {
			continue
		}
		if first.IsZero() || h.run.StartedAt.Before(first) {
			first = h.run.StartedAt
		}
		if h.run.StartedAt.After(last) {
			last = h.run.StartedAt
		}
	}
	if !first.IsZero() {
		t.stage(ctx, "load started", fmt.Sprintf("%d host(s) within %s", len(load), last.Sub(first)))
		t.windowStart = first
	}
	run := t.roles.failed
	if run == nil || run.run == nil {
		for _, h := range load {
			if h.run != nil {
				run = h
				break
			}
		}
	}
	if run != nil && run.run != nil {
		t.last = *run.run
		exit := run.run.ExitCode
		res.ExitCode = &exit
		t.windowEnd = run.run.EndedAt
		for _, h := range load {
			if h.run != nil && h.run.EndedAt.After(t.windowEnd) {
				t.windowEnd = h.run.EndedAt
			}
		}
	}
}

// collectRoles reads every host's results (and the histograms its merge
// rules name) and uploads its artifacts, all hosts at once, then merges
// them into the test's one iteration.
func (t *perfTest) collectRoles(ctx workflow.Context) string {
	why := t.eachHost(ctx, "collect", func(h *roleHost) workflow.Future {
		if h.lost {
			return nil
		}
		in := contract.CollectInput{TestID: t.id, ResultsDir: h.setup.ResultsDir, Upload: true, ArtifactDir: h.host}
		for _, m := range h.role.Merge {
			if m.How == framework.MergeHistogram && !slices.Contains(in.Histograms, m.File) {
				in.Histograms = append(in.Histograms, m.File)
			}
		}
		return contract.Collect.Execute(t.agent(ctx, h.host, 30*time.Minute, 5), in).Future
	}, func(h *roleHost, f workflow.Future) error { return f.Get(ctx, &h.got) })
	if why != "" {
		return why
	}
	it := contract.Iteration{File: "results.csv"}
	seen := map[string]bool{}
	add := func(k results.KPI) {
		if !seen[k.Name] {
			seen[k.Name] = true
			it.KPIs = append(it.KPIs, contract.KPI{Name: k.Name, Value: k.Value, Unit: k.Unit, Raw: k.Raw})
		}
	}
	files, bytes := 0, int64(0)
	for i, r := range t.plan.Roles {
		var hosts []results.HostResults
		for _, h := range t.roles.hosts {
			if h.role.Name != r.Name || h.got == nil {
				continue
			}
			hr := results.HostResults{Host: h.host, Histograms: h.got.Histograms}
			for _, k := range h.got.KPIs {
				hr.KPIs = append(hr.KPIs, results.KPI{Name: k.Name, Value: k.Value, Unit: k.Unit, Raw: k.Raw})
			}
			hosts = append(hosts, hr)
			for _, n := range h.got.Notes {
				it.Notes = append(it.Notes, h.host+": "+n)
			}
			if h.got.Upload != nil {
				files, bytes = files+h.got.Upload.Files, bytes+h.got.Upload.Bytes
			}
		}
		// Merging is pure (workflowcheck flags the reflection
		// encoding/binary.Read uses to decode histogram headers).
		merged, notes := results.Merge(t.plan.Roles[i].Merge, hosts) //workflowcheck:ignore
		for _, k := range merged {
			add(k)
		}
		it.Notes = append(it.Notes, notes...)
		for _, hr := range hosts {
			for _, k := range hr.KPIs {
				k.Name += "@" + hr.Host
				add(k)
			}
		}
	}
	t.iterations = []contract.Iteration{it}
	t.stage(ctx, "artifacts collected", fmt.Sprintf("%d file(s), %d bytes from %d host(s)", files, bytes, len(t.roles.hosts)))
	return ""
}

// finishRoles runs each host's teardown hook once, all hosts at once,
// whatever the ending, and removes each host's test directory.
func (t *perfTest) finishRoles(dctx workflow.Context, res *contract.PerfTestResult) {
	var ready []*roleHost
	for _, h := range t.roles.hosts {
		switch {
		case h.setup == nil:
		case h.lost:
			t.stage(dctx, "cleanup skipped on "+h.host, "agent lost")
		default:
			ready = append(ready, h)
		}
	}
	teardowns := make([]workflow.Future, len(ready))
	for i, h := range ready {
		if path, ok := h.setup.Hooks["teardown"]; ok {
			teardowns[i] = t.roleExecute(dctx, h, "teardown", path, time.Time{})
		}
	}
	cleanups := make([]workflow.Future, len(ready))
	for i, h := range ready {
		if teardowns[i] != nil {
			var run contract.ExecuteResult
			err := teardowns[i].Get(dctx, &run)
			why := hookFailure("teardown", &run, err)
			if why != "" && res.State == wire.StateFinished {
				res.State, res.Reason = wire.StateFailed, fmt.Sprintf("%s on %s: %s", h.role.Name, h.host, why)
			}
			t.stage(dctx, "teardown on "+h.host, strings.TrimPrefix(why, "hook teardown "))
		}
		cleanups[i] = contract.Cleanup.Execute(t.agent(dctx, h.host, time.Minute, 5), t.id)
	}
	cleaned := 0
	for i, h := range ready {
		if err := cleanups[i].Get(dctx, nil); err != nil {
			workflow.GetLogger(dctx).Warn("cleanup failed", "test", t.id, "host", h.host, "error", err)
			continue
		}
		cleaned++
	}
	if len(ready) > 0 {
		t.stage(dctx, "cleaned up", fmt.Sprintf("%d of %d host(s)", cleaned, len(ready)))
	}
}

// agentGone says whether an activity failed because its agent stopped
// answering.
func agentGone(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te) && (te.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT ||
		te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START)
}

// envName is a role's name as a variable name's part: upper case, '_'
// for '-'.
func envName(role string) string {
	return strings.ToUpper(strings.ReplaceAll(role, "-", "_"))
}
