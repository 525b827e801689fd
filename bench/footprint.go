package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/confirm"
	"github.com/pitwall/pitwall/internal/wire"
)

// footprintAgent is the host name of the agent the footprint measure runs
// as a process of its own.
const footprintAgent = "bench-footprint"

// clkTck is the kernel's USER_HZ, the unit of /proc/PID/stat's times (100
// on every Linux architecture Go supports).
const clkTck = 100

// treeSample is one reading of an agent's process tree.
type treeSample struct {
	at time.Time
	// cpu is the CPU seconds of the tree: the live processes' own (their
	// CPU clocks, to the nanosecond) plus what their reaped children used
	// (cutime+cstime, in 10 ms ticks).
	cpu float64
	// rssKB is the sum of the live processes' VmRSS.
	rssKB int64
	// byName is the CPU seconds of the tree by command name (a process's
	// own and its reaped children's), to tell where the tree's time goes.
	byName map[string]float64
}

// procStat reads PID's parent and CPU ticks (utime+stime+cutime+cstime).
func procStat(pid int) (ppid int, ticks int64, err error) {
	ppid, ticks, _, err = procStatName(pid)
	return ppid, ticks, err
}

// procStatName is procStat with the command name.
func procStatName(pid int) (ppid int, ticks int64, comm string, err error) {
	ppid, own, reaped, comm, err := procStatSplit(pid)
	return ppid, own + reaped, comm, err
}

// procStatSplit is procStatName with the process's own ticks
// (utime+stime) apart from its reaped children's (cutime+cstime).
func procStatSplit(pid int) (ppid int, own, reaped int64, comm string, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, "", err
	}
	// The command name is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, 0, "", errors.New("bad stat")
	}
	if j := strings.IndexByte(s, '('); j >= 0 && j < i {
		comm = s[j+1 : i]
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); ppid is field 4, utime..cstime are 14..17.
	if len(f) < 15 {
		return 0, 0, 0, "", errors.New("short stat")
	}
	ppid, _ = strconv.Atoi(f[1])
	for i, k := range f[11:15] {
		v, _ := strconv.ParseInt(k, 10, 64)
		if i < 2 {
			own += v
		} else {
			reaped += v
		}
	}
	return ppid, own, reaped, comm, nil
}

// procCPUNs reads PID's own CPU time (every thread's, the ended ones
// included; not its reaped children's) in nanoseconds, from its process
// CPU clock (clock_gettime of the clock clock_getcpuclockid names: the
// scheduler's sum_exec_runtime, exact where /proc/PID/stat counts 10 ms
// ticks).
func procCPUNs(pid int) (int64, bool) {
	// A process's CPU clock is ~pid << 3 with CPUCLOCK_SCHED (2).
	var ts unix.Timespec
	if err := unix.ClockGettime(int32(^pid<<3|2), &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}

// procRSS reads PID's VmRSS (kB).
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// readTree sums CPU and RSS over root and its descendants.
func readTree(root int) (treeSample, error) {
	s := treeSample{at: time.Now()}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return s, err
	}
	parent := map[int]int{}
	ownNs := map[int]int64{}
	reapedNs := map[int]int64{}
	comm := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, own, r, c, err := procStatSplit(pid); err == nil {
			parent[pid], ownNs[pid], reapedNs[pid], comm[pid] = pp, own*1e9/clkTck, r*1e9/clkTck, c
		}
	}
	if _, ok := parent[root]; !ok {
		return s, fmt.Errorf("process %d is gone", root)
	}
	inTree := func(pid int) bool {
		for i := 0; i < 64 && pid > 1; i++ {
			if pid == root {
				return true
			}
			pid = parent[pid]
		}
		return false
	}
	var total int64
	s.byName = map[string]float64{}
	for pid, own := range ownNs {
		if !inTree(pid) {
			continue
		}
		// The process's own time to the nanosecond; its reaped
		// children's is known in ticks only.
		if ns, ok := procCPUNs(pid); ok {
			own = ns
		}
		total += own + reapedNs[pid]
		s.rssKB += procRSS(pid)
		s.byName[comm[pid]] += float64(own) / 1e9
		if r := reapedNs[pid]; r > 0 {
			s.byName[comm[pid]+" (reaped children)"] += float64(r) / 1e9
		}
	}
	s.cpu = float64(total) / 1e9
	return s, nil
}

// watchTree samples root's tree every 250 ms until stop is closed.
func watchTree(root int, stop <-chan struct{}) <-chan []treeSample {
	out := make(chan []treeSample, 1)
	go func() {
		var all []treeSample
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if s, err := readTree(root); err == nil {
				all = append(all, s)
			}
			select {
			case <-stop:
				if s, err := readTree(root); err == nil {
					all = append(all, s)
				}
				out <- all
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// breakdown says how a window's CPU splits by command name (ms/s), from
// the samples nearest inside it; a process that ended inside the window
// shows in its parent's reaped children's time.
func breakdown(all []treeSample, from, to time.Time) string {
	var first, last *treeSample
	for i := range all {
		if s := &all[i]; !s.at.Before(from) && !s.at.After(to) {
			if first == nil {
				first = s
			}
			last = s
		}
	}
	if first == nil || last == first {
		return ""
	}
	secs := last.at.Sub(first.at).Seconds()
	var parts []string
	for name, v := range last.byName {
		if d := (v - first.byName[name]) * 1000 / secs; d != 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", name, d))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// window returns the tree's CPU ms per wall second and peak RSS (MB)
// between from and to (the samples nearest inside them).
func window(all []treeSample, from, to time.Time) (msPerS, peakMB float64, ok bool) {
	var first, last *treeSample
	var peak int64
	for i := range all {
		s := &all[i]
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		if first == nil {
			first = s
		}
		last = s
		peak = max(peak, s.rssKB)
	}
	if first == nil || last == first || !last.at.After(first.at) {
		return 0, 0, false
	}
	return (last.cpu - first.cpu) * 1000 / last.at.Sub(first.at).Seconds(), float64(peak) / 1024, true
}

// measureFootprint runs an agent as a process of its own (the built worker
// in the agent role, heartbeats every second, its scripts under the built
// pitwall-supervise) and reads its whole process tree from /proc while it
// idles and while a test whose script sleeps runs on it with the execution
// host sampled at 1 s (the real path: monitor, log shipping, heartbeats),
// with sysstat's sadc sampling at 1 s beside it for the same time.
func measureFootprint(ctx context.Context, e *env) []Result {
	secs := e.pick(4, 60)
	if v, err := strconv.Atoi(os.Getenv("PITWALL_BENCH_FOOTPRINT_SECS")); err == nil && v > 0 {
		secs = v
	}
	names := [5]string{"footprint-cpu", "footprint-cpu-off", "footprint-cpu-idle", "footprint-rss", "footprint-aa"}
	goals := [5]string{"≤ sadc's CPU", "reference (no goal)", "reference (no goal)", "reference (no goal)", "within noise (CI holds 0)"}
	method := fmt.Sprintf("an agent as its own process (built worker --role agent, heartbeat 1 s, supervisor pitwall-supervise); "+
		"its whole process tree (the worker and every descendant: supervisor, script) read from /proc every 250 ms: "+
		"CPU = each process's CPU clock (clock_gettime of its clock_getcpuclockid: every thread's time, in ns) plus its reaped children's "+
		"cutime+cstime of /proc/PID/stat (10 ms ticks), summed over the tree, RSS = VmRSS summed over the tree; "+
		"test: a script that sleeps %d s and prints one KPI, statistics interval 1 s on the execution host, "+
		"CPU counted from timeline stage 'script started' to 'script ended', as ms of CPU per wall second; "+
		"idle: the same agent with no test for %d s just before; "+
		"monitoring off: the same test with statistics {off: true} right after (no monitor, no samples shipped); "+
		"sadc: '%s -S XALL 1 %d FILE' started with the monitored test, CPU from wait4 over its %d samples; one run each",
		secs, secs, sadcPath, secs, secs)
	fail := func(err error) []Result {
		var out []Result
		for i := range names {
			out = append(out, failed(names[i], method, goals[i], err))
		}
		return out
	}
	if os.Geteuid() == 0 && !e.NoInstall {
		if _, err := os.Stat(sadcPath); err != nil {
			e.logf("footprint: installing sysstat")
			aptInstall(ctx, "sysstat")
		}
	}

	token, err := e.st.AgentToken(ctx, footprintAgent)
	if err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("", "pitwall-bench-footprint-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	// The work directory sits in the stack's folder, as the in-process
	// agents' do: scripts run as other users and must reach it.
	args := []string{"--role", "agent", "--host", footprintAgent,
		"--agent-token", token, "--heartbeat", "1s", "--work-dir", filepath.Join(e.st.Dir, footprintAgent),
		"--supervisor", filepath.Join(e.st.Bin, "pitwall-supervise")}
	// PITWALL_BENCH_FOOTPRINT_PROFILE=FILE writes the agent's CPU profile
	// over its whole life (idle, both tests, the A/A runs) to FILE.
	if prof := os.Getenv("PITWALL_BENCH_FOOTPRINT_PROFILE"); prof != "" {
		args = append(args, "--cpuprofile", prof)
	}
	agent, err := e.st.Spawn("footprint-agent", "worker", args...)
	if err != nil {
		return fail(fmt.Errorf("start the agent: %w", err))
	}
	defer agent.Stop(10 * time.Second)
	exited := func() error {
		if agent.Exited() {
			return fmt.Errorf("the footprint agent exited; its log:\n%s", agent.Log())
		}
		return nil
	}
	if err := e.st.WaitReady(ctx, "/readyz", fmt.Sprintf(`"agents_online":"%d"`, e.agents+1), exited); err != nil {
		return fail(err)
	}
	fw := "bench-footprint"
	script := fmt.Sprintf(`#!/bin/sh\nsleep %d\necho 'Slept, %d' > results.csv\n`, secs, secs)
	if _, err := e.st.Framework(ctx, "name: "+fw+"\nexecution:\n  script: \""+script+"\"\n  hosts: ["+footprintAgent+"]\n"+
		"statistics:\n  interval: 1s\nkpis: [{name: Slept, unit: s, better: lower}]\n"); err != nil {
		return fail(err)
	}
	fwOff := "bench-footprint-off"
	if _, err := e.st.Framework(ctx, "name: "+fwOff+"\nexecution:\n  script: \""+script+"\"\n  hosts: ["+footprintAgent+"]\n"+
		"statistics: {off: true}\nkpis: [{name: Slept, unit: s, better: lower}]\n"); err != nil {
		return fail(err)
	}

	stop := make(chan struct{})
	samples := watchTree(agent.Pid(), stop)
	idleFrom := time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	idleTo := time.Now()

	var sadcU usage
	sadcDone := make(chan struct{})
	if _, err := os.Stat(sadcPath); err == nil {
		go func() {
			defer close(sadcDone)
			sadcU = runWatched(exec.CommandContext(ctx, sadcPath, "-S", "XALL", "1", strconv.Itoa(secs), filepath.Join(dir, "sa.data")))
		}()
	} else {
		sadcU.err = errors.New("skipped: sysstat's sadc is missing (apt-get install sysstat)")
		close(sadcDone)
	}
	runTest := func(fw string) (*wire.Test, error) {
		t, err := e.st.Submit(ctx, wire.RunRequest{Framework: fw})
		if err == nil {
			t, err = e.st.Await(ctx, t.ID, time.Duration(secs)*time.Second+2*time.Minute, stack.Ended)
		}
		if err == nil && t.State != wire.StateFinished {
			err = fmt.Errorf("test %d %s: %s", t.ID, t.State, t.Reason)
		}
		return t, err
	}
	t, err := runTest(fw)
	<-sadcDone
	var tOff *wire.Test
	if err == nil {
		tOff, err = runTest(fwOff)
	}
	close(stop)
	all := <-samples
	if err != nil {
		return fail(err)
	}
	during := func(t *wire.Test) (cpu, mb float64, err error) {
		started, ok1 := stageAt(t, "script started")
		ended, ok2 := stageAt(t, "script ended")
		if !ok1 || !ok2 {
			return 0, 0, fmt.Errorf("test %d: timeline lacks script started / script ended", t.ID)
		}
		cpu, mb, ok := window(all, started, ended)
		if !ok {
			return 0, 0, fmt.Errorf("too few samples of the agent during test %d", t.ID)
		}
		return cpu, mb, nil
	}
	e.logf("footprint: CPU ms/s by command: idle: %s", breakdown(all, idleFrom, idleTo))
	for _, x := range []*wire.Test{t, tOff} {
		started, _ := stageAt(x, "script started")
		ended, _ := stageAt(x, "script ended")
		e.logf("footprint: CPU ms/s by command: test %d (%s): %s", x.ID, x.Framework, breakdown(all, started, ended))
	}
	idleCPU, idleMB, ok := window(all, idleFrom, idleTo)
	if !ok {
		return fail(errors.New("too few samples of the idle agent"))
	}
	testCPU, testMB, err := during(t)
	if err != nil {
		return fail(err)
	}
	offCPU, offMB, err := during(tOff)
	if err != nil {
		return fail(err)
	}

	one := func(unit string, v float64, extra map[string]float64) Figure {
		return Figure{N: 1, Unit: unit, Median: v, P50: v, Extra: extra}
	}
	sadcFig := func(main string) Figure {
		if sadcU.err != nil {
			return Figure{Text: sadcU.err.Error()}
		}
		cpu := sadcU.cpu * 1000 / float64(secs)
		if main == "rss" {
			return one("MB", sadcU.rssMB, map[string]float64{"CPU ms/s": cpu})
		}
		return one("CPU ms/s", cpu, map[string]float64{"RSS MB": sadcU.rssMB})
	}
	cpu := Result{Name: names[0], Method: method, Goal: goals[0],
		Ours: one("CPU ms/s", testCPU, map[string]float64{"idle CPU ms/s": idleCPU, "monitoring off CPU ms/s": offCPU,
			"peak RSS MB": testMB}),
		PeerName: "sadc", Peer: sadcFig("cpu"), Met: "n/a"}
	cpu.setRatio()
	if sadcU.err == nil {
		cpu.Met = met(testCPU <= sadcU.cpu*1000/float64(secs))
	}
	off := Result{Name: names[1], Method: method, Goal: goals[1],
		Ours:     one("CPU ms/s", offCPU, map[string]float64{"peak RSS MB": offMB, "monitoring costs CPU ms/s": testCPU - offCPU}),
		PeerName: "sadc", Peer: sadcFig("cpu"), Met: "n/a"}
	off.setRatio()
	idle := Result{Name: names[2], Method: method, Goal: goals[2],
		Ours: one("CPU ms/s", idleCPU, map[string]float64{"peak RSS MB": idleMB}),
		Peer: Figure{Text: "reference: the same agent's tree during the test is footprint-cpu"}, Met: "n/a"}
	rss := Result{Name: names[3], Method: method, Goal: goals[3],
		Ours:     one("MB", max(testMB, idleMB, offMB), map[string]float64{"idle peak MB": idleMB, "monitoring off peak MB": offMB}),
		PeerName: "sadc", Peer: sadcFig("rss"), Met: "n/a"}
	rss.setRatio()
	// PITWALL_BENCH_FOOTPRINT_PAIRS=0 leaves the A/A comparison out (for
	// quick runs while profiling).
	if v := os.Getenv("PITWALL_BENCH_FOOTPRINT_PAIRS"); v == "0" {
		return []Result{cpu, off, idle, rss}
	}
	return []Result{cpu, off, idle, rss, measureAA(ctx, e, goals[4])}
}

// aaLoop is a fixed CPU-bound loop that reports its own duration (wall
// clock, as a benchmark would). It starts aaSettle after the script does,
// in both arms: through Pitwall, the loop then runs while the agent
// monitors (samples, ships, heartbeats), not during the start of the test,
// when on this one machine the bench's server, Temporal and central worker
// are busy starting it, which the run by hand has no counterpart of.
const aaLoop = `#!/bin/sh
sleep 2
s=$(date +%s%N)
awk 'BEGIN { for (i = 0; i < 4000000; i++) x += i * 2 }'
e=$(date +%s%N)
echo "Loop, $(( (e - s) / 1000000 ))" > results.csv
`

// aaSettle is the sleep at the start of aaLoop.
const aaSettle = 2 * time.Second

// measureAA runs the loop by hand (sh in a folder of its own, no agent
// involved) and as a Pitwall test on the footprint agent with its host
// sampled at 1 s, interleaved, and asks internal/confirm's paired test
// whether the loop's own figure differs.
func measureAA(ctx context.Context, e *env, goal string) Result {
	const name = "footprint-aa"
	pairs := e.pick(3, 20)
	if v, err := strconv.Atoi(os.Getenv("PITWALL_BENCH_FOOTPRINT_PAIRS")); err == nil && v > 1 {
		pairs = v
	}
	method := fmt.Sprintf("%d interleaved pairs of the loop script (sleep %v, then awk, 4M iterations, printing its own wall-clock duration in ms as a KPI): "+
		"A by hand (sh in a temporary folder and a session of its own, as the bench's user, no agent involved), B as a Pitwall test on the footprint agent "+
		"(statistics interval 1 s: monitor, log shipping, heartbeats), A first in even pairs and B first in odd ones; "+
		"internal/confirm's paired t-test (threshold 5%%, α 0.05, "+
		"one look at %d pairs): B's change against A with its confidence interval; 'within noise' when the interval holds 0", pairs, aaSettle, pairs)
	fail := func(err error) Result { return failed(name, method, goal, err) }
	fw := "bench-footprint-aa"
	var y strings.Builder
	y.WriteString("name: " + fw + "\nexecution:\n  hosts: [" + footprintAgent + "]\n  script: |\n")
	for _, l := range strings.Split(strings.TrimSuffix(aaLoop, "\n"), "\n") {
		y.WriteString("    " + l + "\n")
	}
	y.WriteString("statistics:\n  interval: 1s\nkpis: [{name: Loop, unit: ms, better: lower}]\n")
	if _, err := e.st.Framework(ctx, y.String()); err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("", "pitwall-bench-aa-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "loop.sh")
	if err := os.WriteFile(script, []byte(aaLoop), 0o755); err != nil {
		return fail(err)
	}
	byHand := func() (float64, error) {
		cmd := exec.CommandContext(ctx, "sh", script)
		cmd.Dir = dir
		// A session of its own, as a script under Pitwall has (its
		// supervisor's) and as a shell a user runs it from: with the
		// kernel's autogroups each session gets a fair share of the CPU,
		// and in the bench's session the loop shared its share with the
		// bench's whole stack (Temporal, the server, the agents).
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("loop by hand: %v: %s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(dir, "results.csv"))
		if err != nil {
			return 0, err
		}
		_, v, _ := strings.Cut(strings.TrimSpace(string(b)), ",")
		return strconv.ParseFloat(strings.TrimSpace(v), 64)
	}
	viaPitwall := func() (float64, error) {
		t, err := e.st.Submit(ctx, wire.RunRequest{Framework: fw})
		if err == nil {
			t, err = e.st.Await(ctx, t.ID, 2*time.Minute, stack.Ended)
		}
		if err == nil && t.State != wire.StateFinished {
			err = fmt.Errorf("test %d %s: %s", t.ID, t.State, t.Reason)
		}
		if err != nil {
			return 0, err
		}
		for _, k := range t.KPIs {
			if k.Name == "Loop" {
				return k.Value, nil
			}
		}
		return 0, fmt.Errorf("test %d has no Loop KPI", t.ID)
	}
	var a, b []float64
	for i := range pairs {
		// The order alternates, so that a drift of the machine's load
		// within pairs does not count for one arm only.
		var x, y float64
		var err error
		if i%2 == 0 {
			if x, err = byHand(); err == nil {
				y, err = viaPitwall()
			}
		} else {
			if y, err = viaPitwall(); err == nil {
				x, err = byHand()
			}
		}
		if err != nil {
			return fail(err)
		}
		a, b = append(a, x), append(b, y)
	}
	d := confirm.Config{LowerIsBetter: true, Threshold: 0.05, MinPairs: pairs, MaxPairs: pairs}.Decide(a, b)
	r := Result{Name: name, Method: method, Goal: goal, Ours: summarize("ms", b, false),
		PeerName: "by hand", Peer: summarize("ms", a, false)}
	r.Ours.Extra = map[string]float64{"change %": d.ChangePct, "CI low %": d.CILowPct, "CI high %": d.CIHighPct}
	r.setRatio()
	r.Met = met(d.CILowPct <= 0 && d.CIHighPct >= 0)
	return r
}
