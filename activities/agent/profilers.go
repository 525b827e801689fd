package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/profiles"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Profilers run beside the script, on the agent's own account: they are
// trusted code, but what they read (the script's processes, their
// symbols, a service's answer) is not, so every output is bounded and
// parsed, never interpreted. A profiler is a child of the agent in a
// process group of its own that the kernel kills with the agent
// (Pdeathsig), so an agent restart leaves none running; the script's end,
// the profiler's duration, a cancel and Kill each stop it.
const (
	// profilerStopGrace is how long a profiler has to write its output
	// after SIGINT before its group is killed.
	profilerStopGrace = 10 * time.Second
	// profilerPostTimeout bounds perf script's conversion and a pprof fetch
	// beyond its duration.
	profilerPostTimeout = 2 * time.Minute
	// maxProfilerOutput bounds what is read of a profiler's output.
	maxProfilerOutput = 256 << 20
	// ProfilesDir is where a test's profiles are among its artifacts.
	ProfilesDir = "profiles"
)

// profilerKPIsFile holds the KPIs and notes the profilers of the latest
// script run gave, for its Collect, in the test's runs directory.
const profilerKPIsFile = "profiler-kpis.json"

// profilerReport is what the profilers of one script run left for Collect.
type profilerReport struct {
	KPIs  []contract.KPI `json:"kpis"`
	Notes []string       `json:"notes"`
}

// profilerSet is the profilers of one script run.
type profilerSet struct {
	a      *Activities
	r      *scriptRun
	dir    string
	ended  chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	report profilerReport
	procs  map[*exec.Cmd]bool
	once   sync.Once
}

// startProfilers starts the run's profilers, each after its delay. The
// set's finish, called when the script has ended, stops them, waits for
// their output and reports; kill ends them at once.
func (a *Activities) startProfilers(ctx context.Context, r *scriptRun) *profilerSet {
	if r.logName != "script" {
		return nil
	}
	// The KPIs of the run before are gone once collected; hooks leave them.
	_ = os.Remove(filepath.Join(a.runsDir(r.in.TestID), profilerKPIsFile))
	if len(r.in.Profilers) == 0 {
		return nil
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ps := &profilerSet{a: a, r: r, dir: filepath.Join(a.runsDir(r.in.TestID), "profiles-"+r.id),
		ended: make(chan struct{}), cancel: cancel, procs: map[*exec.Cmd]bool{}}
	if err := os.MkdirAll(ps.dir, 0o700); err != nil {
		ps.note("profilers: not started: %v", err)
		return ps
	}
	a.profiling(r.in.TestID, ps, true)
	for _, p := range r.in.Profilers {
		ps.wg.Go(func() { ps.run(pctx, p) })
	}
	return ps
}

// finish tells the profilers the script ended, waits for them to stop and
// write their profiles and KPIs, and leaves the KPIs for Collect.
func (ps *profilerSet) finish() {
	if ps == nil {
		return
	}
	close(ps.ended)
	ps.wg.Wait()
	ps.cancel()
	ps.a.profiling(ps.r.in.TestID, ps, false)
	b, err := json.Marshal(ps.report)
	if err == nil {
		err = os.WriteFile(filepath.Join(ps.a.runsDir(ps.r.in.TestID), profilerKPIsFile), b, 0o600)
	}
	if err != nil {
		ps.a.logger().Warn("profiler KPIs not kept", "test", ps.r.in.TestID, "err", err)
	}
	_ = os.RemoveAll(ps.dir)
}

// finishBeating is finish with heartbeats, as converting a profile can
// take longer than the activity's heartbeat timeout.
func (ps *profilerSet) finishBeating(ctx context.Context, r *scriptRun) {
	if ps == nil {
		return
	}
	h := &heartbeat{}
	h.set(r.id)
	defer h.beat(ctx)()
	ps.finish()
}

// kill ends every profiler of the set at once (cancel, abort, agent
// stopping); their output is dropped.
func (ps *profilerSet) kill() {
	if ps == nil {
		return
	}
	ps.once.Do(func() {
		ps.cancel()
		ps.mu.Lock()
		for cmd := range ps.procs {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		ps.mu.Unlock()
		ps.a.profiling(ps.r.in.TestID, ps, false)
	})
}

func (ps *profilerSet) note(format string, args ...any) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.report.Notes = append(ps.report.Notes, fmt.Sprintf(format, args...))
}

func (ps *profilerSet) kpi(k profiles.KPI) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.report.KPIs = append(ps.report.KPIs, contract.KPI{Name: k.Name, Value: k.Value, Unit: k.Unit,
		Raw: strconv.FormatFloat(k.Value, 'g', -1, 64) + k.Unit})
}

// run is one profiler's life: wait for its delay, find its targets, run it
// until its duration or the script's end, then turn its output into a
// profile or KPIs.
func (ps *profilerSet) run(ctx context.Context, p framework.Profiler) {
	select {
	case <-time.After(time.Duration(p.Delay)):
	case <-ps.ended:
		ps.note("profiler %s: the script ended before its delay (%s); not run", p.Name, time.Duration(p.Delay))
		return
	case <-ctx.Done():
		return
	}
	if p.Kind == framework.ProfilerPprof {
		ps.fetchPprof(ctx, p)
		return
	}
	target, err := ps.target(ctx, p)
	if err != nil {
		ps.note("profiler %s: %v; not run", p.Name, err)
		return
	}
	out := filepath.Join(ps.dir, p.Name)
	argv := profilerArgv(p, target, out)
	cpu, err := ps.runCommand(ctx, p, argv, out+".stderr")
	if err != nil {
		ps.note("profiler %s: %v", p.Name, err)
		return
	}
	ps.kpi(profiles.KPI{Name: p.Name + ".cpu-time", Value: float64(cpu.Microseconds()) / 1000, Unit: "ms"})
	switch p.Kind {
	case framework.ProfilerPerf:
		ps.convertPerf(ctx, p, out)
	case framework.ProfilerPerfStat:
		ps.perfStat(ctx, p, out)
	case framework.ProfilerStrace:
		ps.strace(ctx, p, out+".stderr")
	}
}

// target is the -p list of the script's own PIDs or a service
// container's processes, or "" for the host.
func (ps *profilerSet) target(ctx context.Context, p framework.Profiler) (string, error) {
	var pids []int
	switch svc, isService := p.Service(); {
	case p.Target == framework.TargetHost:
		return "", nil
	case isService:
		if ps.a.Docker == nil {
			return "", errors.New("this agent runs no containers")
		}
		var err error
		if pids, err = ps.a.Docker.PIDs(ctx, strconv.FormatInt(ps.r.in.TestID, 10), svc); err != nil {
			return "", err
		}
	default:
		pids = ps.a.scriptPids(ps.r.in.TestID, ps.r.in.ResultsDir)
		if len(pids) == 0 {
			return "", errors.New("the script lists none of its processes in its pids file")
		}
	}
	s := make([]string, len(pids))
	for i, pid := range pids {
		s[i] = strconv.Itoa(pid)
	}
	return strings.Join(s, ","), nil
}

// profilerArgv is the command line of a profiler writing to out (its
// stderr goes to out.stderr). Every value comes from the validated
// framework or from numbers, never from the script.
func profilerArgv(p framework.Profiler, pids, out string) []string {
	var argv []string
	switch p.Kind {
	case framework.ProfilerPerf:
		argv = []string{"perf", "record", "-F", strconv.Itoa(p.Frequency), "-g", "--no-buildid", "--no-buildid-cache", "-o", out}
		for _, e := range p.Events {
			argv = append(argv, "-e", e)
		}
	case framework.ProfilerPerfStat:
		events := p.Events
		if len(events) == 0 {
			events = framework.DefaultPerfStatEvents
		}
		argv = []string{"perf", "stat", "-x,", "-o", out}
		for _, e := range events {
			argv = append(argv, "-e", e)
		}
	case framework.ProfilerStrace:
		argv = []string{"strace", "-c", "-f", "-q"}
		for _, pid := range strings.Split(pids, ",") {
			argv = append(argv, "-p", pid)
		}
		return argv
	}
	if pids == "" {
		return append(argv, "-a")
	}
	return append(argv, "-p", pids)
}

// runCommand runs a profiler until its duration is over, the script ends
// or ctx ends, then stops it with SIGINT (each of perf record, perf stat
// and strace writes its output then) and returns the CPU time it used.
func (ps *profilerSet) runCommand(ctx context.Context, p framework.Profiler, argv []string, stderr string) (time.Duration, error) {
	// Pdeathsig fires when the thread that started the child exits, not
	// the process: hold this goroutine to its thread until the profiler
	// is gone, so only the agent's death kills it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	errf, err := os.OpenFile(stderr, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer errf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = ps.dir
	cmd.Stderr = errf
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "HOME=" + ps.dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	ps.mu.Lock()
	if ctx.Err() != nil {
		ps.mu.Unlock()
		return 0, ctx.Err()
	}
	if err := cmd.Start(); err != nil {
		ps.mu.Unlock()
		return 0, fmt.Errorf("not started: %w", err)
	}
	ps.procs[cmd] = true
	ps.mu.Unlock()
	defer func() {
		ps.mu.Lock()
		delete(ps.procs, cmd)
		ps.mu.Unlock()
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var limit <-chan time.Time
	if p.Duration > 0 {
		t := time.NewTimer(time.Duration(p.Duration))
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-done:
		// Its targets all ended (perf record and strace then stop by
		// themselves): what it wrote is read as usual.
		return cpuOf(cmd), nil
	case <-limit:
	case <-ps.ended:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(profilerStopGrace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return cpuOf(cmd), fmt.Errorf("did not stop within %s of SIGINT; killed", profilerStopGrace)
	}
	if ctx.Err() != nil {
		return cpuOf(cmd), ctx.Err()
	}
	return cpuOf(cmd), nil
}

func cpuOf(cmd *exec.Cmd) time.Duration {
	if cmd.ProcessState == nil {
		return 0
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// convertPerf turns perf.data into a pprof profile with perf script and
// uploads it.
func (ps *profilerSet) convertPerf(ctx context.Context, p framework.Profiler, data string) {
	cctx, cancel := context.WithTimeout(ctx, profilerPostTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, "perf", "script", "-i", data)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "HOME=" + ps.dir}
	cmd.Dir = ps.dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		ps.note("profiler %s: perf script: %v", p.Name, err)
		return
	}
	if err := cmd.Start(); err != nil {
		ps.note("profiler %s: perf script: %v", p.Name, err)
		return
	}
	prof, skipped, perr := profiles.FromPerfScript(io.LimitReader(out, maxProfilerOutput))
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	switch {
	case perr != nil:
		ps.note("profiler %s: %v", p.Name, perr)
		return
	case werr != nil:
		ps.note("profiler %s: perf script: %v", p.Name, werr)
		return
	case len(prof.Sample) == 0:
		ps.note("profiler %s: perf recorded no samples", p.Name)
		return
	}
	if skipped > 0 {
		ps.note("profiler %s: %d lines of perf script output not understood", p.Name, skipped)
	}
	ps.kpi(profiles.KPI{Name: p.Name + ".samples", Value: float64(len(prof.Sample))})
	var buf bytes.Buffer
	if err := prof.Write(&buf); err != nil {
		ps.note("profiler %s: write profile: %v", p.Name, err)
		return
	}
	ps.upload(ctx, p.Name+".pb.gz", buf.Bytes())
}

// perfStat reads perf stat's counters into KPIs.
func (ps *profilerSet) perfStat(ctx context.Context, p framework.Profiler, out string) {
	data, err := readBounded(out)
	if err != nil {
		ps.note("profiler %s: %v", p.Name, err)
		return
	}
	kpis, unsupported := profiles.PerfStat(p.Name, data)
	for _, k := range kpis {
		ps.kpi(k)
	}
	if len(unsupported) > 0 {
		ps.note("profiler %s: this host cannot count %s", p.Name, strings.Join(unsupported, ", "))
	}
	ps.upload(ctx, p.Name+".csv", data)
}

// strace reads strace -c's summary into KPIs and a table.
func (ps *profilerSet) strace(ctx context.Context, p framework.Profiler, out string) {
	data, err := readBounded(out)
	if err != nil {
		ps.note("profiler %s: %v", p.Name, err)
		return
	}
	rows, total, ok := profiles.StraceSummary(data)
	if !ok {
		ps.note("profiler %s: strace printed no summary: %s", p.Name, tail(out, 512))
		return
	}
	for _, k := range profiles.StraceKPIs(p.Name, total) {
		ps.kpi(k)
	}
	ps.upload(ctx, p.Name+".csv", profiles.StraceCSV(rows))
}

// fetchPprof asks a service's pprof endpoint for a CPU profile of the
// profiler's duration.
func (ps *profilerSet) fetchPprof(ctx context.Context, p framework.Profiler) {
	svc, _ := p.Service()
	base := ""
	prefix := framework.ServiceEnvName(svc) + "_URL="
	for _, kv := range ps.r.in.ServiceEnv {
		if v, ok := strings.CutPrefix(kv, prefix); ok {
			base = v
		}
	}
	if base == "" {
		ps.note("profiler %s: service %s has no address on this host; not run", p.Name, svc)
		return
	}
	secs := max(int(time.Duration(p.Duration).Seconds()), 1)
	cctx, cancel := context.WithTimeout(ctx, time.Duration(p.Duration)+profilerPostTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, base+p.Path+"?seconds="+strconv.Itoa(secs), nil)
	if err != nil {
		ps.note("profiler %s: %v", p.Name, err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ps.note("profiler %s: %v", p.Name, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProfilerOutput))
	switch {
	case err != nil:
		ps.note("profiler %s: %v", p.Name, err)
		return
	case resp.StatusCode != http.StatusOK:
		ps.note("profiler %s: %s answered %s", p.Name, svc, resp.Status)
		return
	}
	prof, err := profile.ParseData(body)
	if err != nil {
		ps.note("profiler %s: %s's answer is not a pprof profile: %v", p.Name, svc, err)
		return
	}
	ps.kpi(profiles.KPI{Name: p.Name + ".samples", Value: float64(len(prof.Sample))})
	// Written again, so what is stored is a profile pprof itself wrote.
	var buf bytes.Buffer
	if err := prof.Write(&buf); err != nil {
		ps.note("profiler %s: write profile: %v", p.Name, err)
		return
	}
	ps.upload(ctx, p.Name+".pb.gz", buf.Bytes())
}

// upload sends one output as the artifact profiles/<run>/<name>, or
// profiles/<role>.<index>/<run>/<name> in a multi-host test.
func (ps *profilerSet) upload(ctx context.Context, name string, data []byte) {
	rel := ProfilesDir + "/" + ps.r.tag + "/" + name
	if place := ps.r.in.Place; place != "" {
		rel = ProfilesDir + "/" + place + "/" + ps.r.tag + "/" + name
	}
	if ps.a.Ingest == nil {
		return
	}
	if err := ps.a.Ingest.SendArtifact(ctx, ps.r.in.TestID, ps.a.Host, rel, bytes.NewReader(data), int64(len(data))); err != nil {
		ps.note("profile %s not kept: %v", rel, err)
	}
}

// readBounded reads a profiler's own output file.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxProfilerOutput))
}

// profilerReportOf returns what the profilers of the latest script run
// left, if any.
func (a *Activities) profilerReportOf(testID int64) *profilerReport {
	b, err := os.ReadFile(filepath.Join(a.runsDir(testID), profilerKPIsFile))
	if err != nil {
		return nil
	}
	var r profilerReport
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}

// addProfilerKPIs adds the latest script run's profiler KPIs and notes to
// what its Collect found in results.csv; results.csv wins a name both give.
func (a *Activities) addProfilerKPIs(testID int64, res *contract.CollectResult) {
	r := a.profilerReportOf(testID)
	if r == nil {
		return
	}
	for _, k := range r.KPIs {
		if !slices.ContainsFunc(res.KPIs, func(x contract.KPI) bool { return x.Name == k.Name }) {
			res.KPIs = append(res.KPIs, k)
		}
	}
	res.Notes = append(res.Notes, r.Notes...)
}

// profilers of a test, for Kill.
type profilerRegistry struct {
	mu   sync.Mutex
	sets map[int64]map[*profilerSet]bool
}

func (a *Activities) profiling(testID int64, ps *profilerSet, on bool) {
	reg := &a.profilerSets
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.sets == nil {
		reg.sets = map[int64]map[*profilerSet]bool{}
	}
	if on {
		if reg.sets[testID] == nil {
			reg.sets[testID] = map[*profilerSet]bool{}
		}
		reg.sets[testID][ps] = true
		return
	}
	delete(reg.sets[testID], ps)
	if len(reg.sets[testID]) == 0 {
		delete(reg.sets, testID)
	}
}

// killProfilers ends every profiler of a test at once.
func (a *Activities) killProfilers(testID int64) {
	reg := &a.profilerSets
	reg.mu.Lock()
	var sets []*profilerSet
	for ps := range reg.sets[testID] {
		sets = append(sets, ps)
	}
	reg.mu.Unlock()
	for _, ps := range sets {
		ps.kill()
	}
}
