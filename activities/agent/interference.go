package agent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Interference generators (docs/interference.md) run beside a script run,
// each under a supervisor of its own like the script, as the test's user,
// with argv only. Their state lives next to the script run's, in
// runs/<test>/<run>.gen/: one supervised run per generator (and per
// loopback iperf3 server) and a JSON note of when each began. They are
// stopped when the script ends, when the test is killed or cleaned up,
// and, after an agent restart, either taken over by the re-attached
// Execute or, when the script they went with is gone, stopped by the
// sweep at the agent's start.

// genSuffix ends the name of a script run's generators directory.
const genSuffix = ".gen"

// interferenceGrace is how long past its bound a generator's supervisor
// lets it run before killing it: a last guard should the agent never
// come back to stop it.
const interferenceGrace = 30 * time.Second

// serverWait bounds how long a loopback iperf3 server has to listen.
const serverWait = 5 * time.Second

// interferences is what the agent knows of the generators its Executes
// run: the generators directories they hold, which the sweep leaves alone.
type interferences struct {
	mu      sync.Mutex
	claimed map[string]bool
}

func (s *interferences) claim(dir string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed == nil {
		s.claimed = map[string]bool{}
	}
	if on {
		s.claimed[dir] = true
	} else {
		delete(s.claimed, dir)
	}
}

func (s *interferences) holds(dir string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claimed[dir]
}

// generatorBinary is the program a kind runs, and the Debian package that has it.
func generatorBinary(kind string) (bin, pkg string) {
	if kind == framework.InterferenceNetwork {
		return "iperf3", "iperf3"
	}
	return "stress-ng", "stress-ng"
}

// interferenceReady refuses a script run whose generators cannot run on
// this agent, before the script starts: a missing program fails the test
// with a reason rather than leaving the run without its load. A run that
// already started (a re-attach) is not checked again.
func (a *Activities) interferenceReady(r *scriptRun) error {
	if len(r.in.Interference) == 0 {
		return nil
	}
	if _, err := os.Stat(r.state); err == nil {
		return nil
	}
	for i, g := range r.in.Interference {
		bin, pkg := generatorBinary(g.Kind)
		if _, err := exec.LookPath(bin); err != nil {
			msg := fmt.Sprintf("interference[%d] (%s): %s is not installed on agent %s (install Debian's %s package there)",
				i, g.Kind, bin, a.Host, pkg)
			return temporal.NewNonRetryableApplicationError(msg, contract.ErrInterference, nil)
		}
	}
	return nil
}

// generatorArgv is what a generator runs, without a shell: bound is how
// long it may run by itself (its duration, or the script's timeout), home
// the test's home directory (io's files), server the loopback iperf3
// server's address when it has no target.
func generatorArgv(g framework.Interference, bound time.Duration, home, server string) []string {
	secs := int64(math.Ceil(bound.Seconds()))
	secs = min(max(secs, 1), 86400)
	workers := func(def int) string {
		if g.Workers > 0 {
			return strconv.Itoa(g.Workers)
		}
		return strconv.Itoa(def)
	}
	size := func() string {
		n, _ := framework.ParseBytes(g.Size)
		return strconv.FormatInt(n, 10)
	}
	timeout := []string{"--timeout", strconv.FormatInt(secs, 10) + "s", "--metrics-brief"}
	switch g.Kind {
	case framework.InterferenceCPU:
		// --cpu 0 is one worker per online CPU.
		return append([]string{"stress-ng", "--cpu", workers(0), "--cpu-load", strconv.Itoa(g.LoadPercent())}, timeout...)
	case framework.InterferenceMemory:
		return append([]string{"stress-ng", "--vm", workers(1), "--vm-bytes", size(), "--vm-keep"}, timeout...)
	case framework.InterferenceMemoryBandwidth:
		argv := []string{"stress-ng", "--stream", workers(0)}
		if g.Size != "" {
			argv = append(argv, "--stream-l3-size", size())
		}
		return append(argv, timeout...)
	case framework.InterferenceIO:
		return append([]string{"stress-ng", "--hdd", workers(1), "--hdd-bytes", size(), "--temp-path", home}, timeout...)
	case framework.InterferenceNetwork:
		target := g.Target
		if target == "" {
			target = server
		}
		host, port, _ := net.SplitHostPort(target)
		argv := []string{"iperf3", "--client", host, "--port", port, "--time", strconv.FormatInt(secs, 10),
			"--parallel", workers(1), "--interval", "0"}
		if g.Bandwidth != "" {
			argv = append(argv, "--bitrate", g.Bandwidth)
		}
		return argv
	}
	return nil
}

// genRun is the generators of one script run.
type genRun struct {
	a   *Activities
	r   *scriptRun
	dir string
	// start is when the script started, by this agent's clock.
	start time.Time
	gens  []*generator
	quit  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
}

// generator is one generator of a run: its supervised process (and a
// loopback server's), when it began, or why it never did.
type generator struct {
	idx          int
	spec         framework.Interference
	argv         []string
	run, server  *supervise.Run
	began        time.Time
	missed, fail string
	// expired says the agent stopped it at the end of its duration.
	expired bool
}

// genNote is what the agent keeps of a generator it started, beside its
// supervised run, for an agent that takes the run over after a restart.
type genNote struct {
	Began time.Time `json:"began"`
	Argv  []string  `json:"argv"`
}

// genPlan is when the script of a run started, for the same.
type genPlan struct {
	Start time.Time `json:"start"`
}

func (g *generator) name() string { return fmt.Sprintf("%d-%s", g.idx, g.spec.Kind) }

// startInterference starts the script run's generators at their offsets
// (or takes over those a previous agent started); nil when it has none.
// reattached says the script was already running.
func (a *Activities) startInterference(r *scriptRun, reattached bool) *genRun {
	if len(r.in.Interference) == 0 {
		return nil
	}
	gr := &genRun{a: a, r: r, dir: r.state + genSuffix, quit: make(chan struct{})}
	a.interference.claim(gr.dir, true)
	gr.start = time.Now()
	if reattached {
		var p genPlan
		if err := supervise.ReadJSON(gr.dir, "plan.json", &p); err == nil {
			gr.start = p.Start
		} else if fi, err := os.Stat(filepath.Join(r.state, "supervisor.json")); err == nil {
			// The agent died before noting the start: the supervisor's
			// identity is written as it starts the script.
			gr.start = fi.ModTime()
		}
	}
	if err := os.MkdirAll(gr.dir, 0o700); err == nil && !reattached {
		_ = supervise.WriteJSON(gr.dir, "plan.json", genPlan{Start: gr.start})
	}
	for i, spec := range r.in.Interference {
		g := &generator{idx: i, spec: spec}
		gr.gens = append(gr.gens, g)
		if run, err := supervise.Open(filepath.Join(gr.dir, g.name())); err == nil {
			var n genNote
			_ = supervise.ReadJSON(gr.dir, g.name()+".json", &n)
			g.run, g.began, g.argv = run, n.Began, n.Argv
			if srv, err := supervise.Open(filepath.Join(gr.dir, g.name()+"-server")); err == nil {
				g.server = srv
			}
			if d := time.Duration(spec.Duration); d > 0 && !g.began.IsZero() {
				gr.wg.Go(func() { gr.expire(g, d) })
			}
			continue
		}
		gr.wg.Go(func() { gr.schedule(g) })
	}
	return gr
}

// schedule starts g at its offset after the script's start, unless the
// run ends first.
func (gr *genRun) schedule(g *generator) {
	at := gr.start.Add(time.Duration(g.spec.Start))
	select {
	case <-gr.quit:
		return
	case <-time.After(time.Until(at)):
	}
	bound := gr.r.in.Timeout
	if d := time.Duration(g.spec.Duration); d > 0 {
		bound = d
		// Late (the agent was away): only what is left of its duration.
		if late := time.Since(at); late > time.Second {
			bound = d - late
		}
		if bound < time.Second {
			gr.mu.Lock()
			g.missed = "not started: the agent was away for its whole duration"
			gr.mu.Unlock()
			return
		}
	}
	// The program's own bound is a second past the agent's stop, so that
	// it ends by itself should the agent be gone by then.
	own := bound
	if g.spec.Duration > 0 {
		own += time.Second
	}
	if err := gr.launch(g, own); err != nil {
		gr.mu.Lock()
		g.fail = err.Error()
		gr.mu.Unlock()
		gr.a.logger().Warn("interference generator not started", "test", gr.r.in.TestID, "kind", g.spec.Kind, "err", err)
		return
	}
	if g.spec.Duration > 0 {
		gr.expire(g, bound)
	}
}

// expire stops g once it has run for d since it began, unless the run
// ends first.
func (gr *genRun) expire(g *generator, d time.Duration) {
	gr.mu.Lock()
	began, run, server := g.began, g.run, g.server
	gr.mu.Unlock()
	select {
	case <-gr.quit:
		return
	case <-time.After(time.Until(began.Add(d))):
	}
	gr.mu.Lock()
	g.expired = true
	gr.mu.Unlock()
	_ = run.Stop()
	if server != nil {
		finish([]*supervise.Run{run})
		_ = server.Stop()
	}
}

// launch starts a generator (and, for network without a target, its
// loopback server first) under supervisors of their own.
func (gr *genRun) launch(g *generator, bound time.Duration) error {
	a, in := gr.a, gr.r.in
	home := homeDir(in.Dir)
	server := ""
	if g.spec.Kind == framework.InterferenceNetwork && g.spec.Target == "" {
		addr, srv, err := gr.startServer(g, home)
		if err != nil {
			return err
		}
		server = addr
		gr.mu.Lock()
		g.server = srv
		gr.mu.Unlock()
	}
	argv := generatorArgv(g.spec, bound, home, server)
	run, err := gr.supervised(g.name(), argv, home, bound)
	if err != nil {
		return err
	}
	weigh(run.PID(), g.workers())
	began := time.Now()
	_ = supervise.WriteJSON(gr.dir, g.name()+".json", genNote{Began: began, Argv: argv})
	gr.mu.Lock()
	g.run, g.began, g.argv = run, began, argv
	gr.mu.Unlock()
	a.logger().Info("interference generator started", "test", in.TestID, "kind", g.spec.Kind, "argv", argv)
	return nil
}

// startServer starts an iperf3 server on a free loopback port and waits
// until it listens.
func (gr *genRun) startServer(g *generator, home string) (string, *supervise.Run, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("find a port for the iperf3 server: %w", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, port, _ := net.SplitHostPort(addr)
	srv, err := gr.supervised(g.name()+"-server", []string{"iperf3", "--server", "--bind", "127.0.0.1", "--port", port},
		home, gr.r.in.Timeout)
	if err != nil {
		return "", nil, err
	}
	deadline := time.Now().Add(serverWait)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return addr, srv, nil
		}
		if time.Now().After(deadline) || !srv.Alive() {
			_ = srv.Stop()
			return "", nil, fmt.Errorf("the loopback iperf3 server did not listen on %s: %s", addr,
				tail(filepath.Join(srv.Dir, supervise.StderrFile), 512))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// supervised starts argv under a supervisor of its own as the test's user.
func (gr *genRun) supervised(name string, argv []string, home string, bound time.Duration) (*supervise.Run, error) {
	a := gr.a
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", argv[0], err)
	}
	u, err := a.scriptUser(gr.r.in.TestID)
	if err != nil {
		return nil, err
	}
	spec := supervise.Spec{Path: path, Args: argv[1:], Dir: home,
		Env:     []string{"PATH=" + defaultPath, "HOME=" + home, "LANG=C"},
		Timeout: bound + interferenceGrace, KillGrace: time.Second, EndWith: gr.r.state}
	if u != nil {
		spec.Credential, spec.UID, spec.GID = true, u.uid, u.gid
	}
	sup, err := a.supervisor()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(gr.dir, 0o700); err != nil {
		return nil, err
	}
	run, err := supervise.Start(filepath.Join(gr.dir, name), spec, sup[0], sup[1:]...)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return run, nil
}

// end stops the run's generators and says when each loaded the host.
// waitErr is how waiting for the script ended: a stopping agent leaves
// them running for the Execute that takes the script over (nil spans).
func (gr *genRun) end(waitErr error) []contract.InterferenceSpan {
	if gr == nil {
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(waitErr, &app) && app.Type() == contract.ErrAgentStopping {
		close(gr.quit)
		gr.wg.Wait()
		gr.a.interference.claim(gr.dir, false)
		return nil
	}
	why := "script ended"
	switch {
	case waitErr == nil:
	case errors.Is(waitErr, context.Canceled):
		why = "aborted"
	default:
		why = "the run failed: " + waitErr.Error()
	}
	close(gr.quit)
	gr.wg.Wait()
	defer gr.a.interference.claim(gr.dir, false)
	// Generators first, then the loopback servers they send to: a client
	// whose server went first would end with an error of its own.
	var runs, servers []*supervise.Run
	for _, g := range gr.gens {
		if g.run != nil {
			_ = g.run.Stop()
			runs = append(runs, g.run)
		}
		if g.server != nil {
			servers = append(servers, g.server)
		}
	}
	finish(runs)
	for _, srv := range servers {
		_ = srv.Stop()
	}
	finish(servers)
	spans := make([]contract.InterferenceSpan, 0, len(gr.gens))
	for _, g := range gr.gens {
		spans = append(spans, gr.span(g, why))
		gr.shipOutput(g, spans[len(spans)-1].Stopped)
	}
	return spans
}

// outputLines is how many of a generator's last output lines go to the
// test's log (stress-ng's metrics, iperf3's summary, or why it failed).
const outputLines = 40

// shipOutput sends the last lines a generator wrote to the test's log,
// as streams interference.<kind>.stdout and .stderr, dated when it stopped.
func (gr *genRun) shipOutput(g *generator, at time.Time) {
	if g.run == nil || gr.a.Ingest == nil {
		return
	}
	var lines []ingest.Line
	for _, stream := range []string{"stdout", "stderr"} {
		text := tail(filepath.Join(g.run.Dir, stream+".log"), 16<<10)
		if text == "" {
			continue
		}
		all := strings.Split(text, "\n")
		for _, l := range all[max(len(all)-outputLines, 0):] {
			if gr.a.logBudget(gr.r.in.TestID) {
				lines = append(lines, ingest.Line{TS: at.UnixMilli(), Stream: "interference." + g.spec.Kind + "." + stream, Text: l})
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), logFlushWait)
	defer cancel()
	gr.a.containerLines(ctx, gr.r.in.TestID, gr.r.id+"-gen-"+g.name(), lines)
}

// finish waits for stopped runs to end, killing what a lost supervisor left.
func finish(runs []*supervise.Run) {
	for _, run := range runs {
		ctx, cancel := context.WithTimeout(context.Background(), stopWait)
		if _, err := run.Wait(ctx); err != nil {
			run.Reap()
		}
		cancel()
	}
}

// span is when g loaded the host and how it ended.
func (gr *genRun) span(g *generator, why string) contract.InterferenceSpan {
	s := contract.InterferenceSpan{Kind: g.spec.Kind, Index: g.idx, Host: gr.a.Host, Command: g.argv}
	switch {
	case g.fail != "":
		s.Stopped, s.Why = time.Now(), "could not start: "+g.fail
		return s
	case g.missed != "":
		s.Stopped, s.Why = time.Now(), g.missed
		return s
	case g.run == nil:
		s.Stopped, s.Why = time.Now(), "not started: the script ended before its start"
		return s
	}
	s.Began, s.Stopped, s.Why = g.began, time.Now(), why
	st, ok := g.run.Status()
	if !ok {
		return s
	}
	if !st.StartedAt.IsZero() {
		s.Began = st.StartedAt
	}
	s.Stopped = st.EndedAt
	switch {
	case g.expired:
		// The agent stopped it (or it ended a moment before, by its own
		// bound): either way, its duration was up.
		s.Why = "its duration"
	case st.EndedWith:
		s.Why = "script ended"
	case st.Stopped:
	case st.TimedOut:
		s.Why = "ran past its bound and was killed"
	case st.ExitCode == 0:
		s.Why = "its duration"
	default:
		s.Why = fmt.Sprintf("exited early with status %d", st.ExitCode)
		if t := tail(filepath.Join(g.run.Dir, supervise.StderrFile), 300); t != "" {
			s.Why += ": " + t
		} else if t := tail(filepath.Join(g.run.Dir, supervise.StdoutFile), 300); t != "" {
			s.Why += ": " + t
		}
	}
	return s
}

// stopInterference stops every generator of a test this agent has state
// for, its own or a previous agent's, and waits until they are gone.
func (a *Activities) stopInterference(testID int64) int {
	var runs []*supervise.Run
	dirs, _ := filepath.Glob(filepath.Join(a.runsDir(testID), "*"+genSuffix, "*"))
	for _, d := range dirs {
		if run, err := supervise.Open(d); err == nil && run.Alive() {
			_ = run.Stop()
			runs = append(runs, run)
		}
	}
	finish(runs)
	return len(runs)
}

// sweepInterference stops the generators of a test that no Execute of
// this agent holds and whose script run is over: those a previous agent
// left when it died. Generators whose script still runs are left for the
// Execute that re-attaches to it (or for the sweep once the script is
// stopped unclaimed).
func (a *Activities) sweepInterference(testID int64) {
	gens, _ := filepath.Glob(filepath.Join(a.runsDir(testID), "*"+genSuffix))
	for _, gdir := range gens {
		if a.interference.holds(gdir) {
			continue
		}
		if run, err := supervise.Open(strings.TrimSuffix(gdir, genSuffix)); err == nil && run.Alive() {
			continue
		}
		dirs, _ := filepath.Glob(filepath.Join(gdir, "*"))
		var runs []*supervise.Run
		for _, d := range dirs {
			if run, err := supervise.Open(d); err == nil && run.Alive() {
				a.logger().Warn("stopping an interference generator whose script is over", "test", testID, "generator", filepath.Base(d))
				_ = run.Stop()
				runs = append(runs, run)
			}
		}
		finish(runs)
	}
}

// workers is how many processes the generator runs (0 made explicit).
func (g *generator) workers() int {
	switch {
	case g.spec.Workers > 0:
		return g.spec.Workers
	case g.spec.Kind == framework.InterferenceCPU || g.spec.Kind == framework.InterferenceMemoryBandwidth:
		return runtime.NumCPU()
	}
	return 1
}

// autogroupFile turns the kernel's autogroup scheduling on or off.
const autogroupFile = "/proc/sys/kernel/sched_autogroup_enabled"

// weigh gives a generator's session the scheduling weight of its workers.
// With autogroup scheduling (Debian's default) each session is one
// scheduling entity, so a generator's N workers, in its supervisor's
// session, would together get one session's share of the CPUs, whatever
// N: the nice value of that autogroup is lowered so that the session
// weighs about N sessions (each nice step is a factor of 1.25). Only root
// can; elsewhere, or without autogroups, it does nothing.
func weigh(pid, workers int) {
	if workers <= 1 || os.Geteuid() != 0 {
		return
	}
	if b, err := os.ReadFile(autogroupFile); err != nil || strings.TrimSpace(string(b)) != "1" {
		return
	}
	nice := max(-int(math.Round(math.Log(float64(workers))/math.Log(1.25))), -20)
	_ = os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "autogroup"), []byte(strconv.Itoa(nice)), 0)
}
