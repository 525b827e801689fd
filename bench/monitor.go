package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	sadcPath         = "/usr/lib/sysstat/sadc"
	nodeExporterPath = "/usr/bin/prometheus-node-exporter"
)

// usage is what the kernel accounted to one monitor process.
type usage struct {
	cpu   float64 // user + system seconds
	rssMB float64 // peak resident set (ru_maxrss)
	err   error
}

// rusage is the CPU time wait4 reported; RSS is the peak VmHWM read while
// the process ran (ru_maxrss would carry the parent's high-water mark over
// fork and exec).
func rusage(st *os.ProcessState, hwmKB int64) usage {
	return usage{cpu: (st.UserTime() + st.SystemTime()).Seconds(), rssMB: float64(hwmKB) / 1024}
}

// watchHWM polls /proc/PID/status for VmHWM until stop is closed and
// returns the last value read (kB).
func watchHWM(pid int, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var last int64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
						last = max(last, kb)
					}
				}
			}
			select {
			case <-stop:
				out <- last
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// runWatched runs cmd to its end and returns what it used.
func runWatched(cmd *exec.Cmd) usage {
	if err := cmd.Start(); err != nil {
		return usage{err: err}
	}
	stop := make(chan struct{})
	hwm := watchHWM(cmd.Process.Pid, stop)
	_ = cmd.Wait()
	close(stop)
	return rusage(cmd.ProcessState, <-hwm)
}

var aptUpdate sync.Once

// aptInstall installs Debian packages (as root), updating the lists once
// if the first try fails.
func aptInstall(ctx context.Context, pkgs ...string) {
	args := append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)
	if exec.CommandContext(ctx, "apt-get", args...).Run() == nil {
		return
	}
	aptUpdate.Do(func() { _ = exec.CommandContext(ctx, "apt-get", "update").Run() })
	_ = exec.CommandContext(ctx, "apt-get", args...).Run()
}

// measureMonitor runs Pitwall's sampler at 1 Hz as its own process next to
// sysstat's sadc at 1 s and the Prometheus node exporter scraped every
// second, all at once for the same time, and compares CPU time and peak RSS.
func measureMonitor(ctx context.Context, e *env) []Result {
	secs := e.pick(3, 60)
	method := fmt.Sprintf("the three monitors run at once for %d samples at 1 s: Pitwall's sampler as its own process "+
		"(cmd/benchsampler: internal/sampler plus one JSON line a sample to a file), "+
		"'%s -S XALL 1 %d FILE', and %s on a loopback port scraped every second (its default collectors); "+
		"CPU = user+system seconds and CPU from wait4 as each exits, RSS = peak VmHWM read from /proc/PID/status every 100 ms; one run each (each figure is already a sum over %d samples)",
		secs, sadcPath, secs, nodeExporterPath, secs)
	names := [3]string{"monitor-cpu", "monitor-rss", "monitor-vs-node-exporter"}
	goals := [3]string{"≤ sadc's CPU", "≤ 15 MB", "reference (no goal)"}
	fail := func(err error) []Result {
		var out []Result
		for i := range names {
			out = append(out, failed(names[i], method, goals[i], err))
		}
		return out
	}
	if os.Geteuid() == 0 && !e.NoInstall {
		var missing []string
		if _, err := os.Stat(sadcPath); err != nil {
			missing = append(missing, "sysstat")
		}
		if _, err := os.Stat(nodeExporterPath); err != nil {
			missing = append(missing, "prometheus-node-exporter")
		}
		if len(missing) > 0 {
			e.logf("monitor: installing %v", missing)
			aptInstall(ctx, missing...)
		}
	}
	dir, err := os.MkdirTemp("", "pitwall-bench-monitor-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	ours := filepath.Join(dir, "sampler")
	build := exec.CommandContext(ctx, "go", "build", "-o", ours, "./cmd/benchsampler")
	build.Dir = e.Root
	if out, err := build.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("build the sampler: %v: %s", err, out))
	}

	var wg sync.WaitGroup
	var oursU, sadcU, neU usage
	run := func(u *usage, cmd *exec.Cmd) {
		defer wg.Done()
		*u = runWatched(cmd)
	}
	wg.Add(1)
	go run(&oursU, exec.CommandContext(ctx, ours, "-n", strconv.Itoa(secs), "-interval", "1s", "-out", filepath.Join(dir, "ours.jsonl")))
	if _, err := os.Stat(sadcPath); err == nil {
		wg.Add(1)
		go run(&sadcU, exec.CommandContext(ctx, sadcPath, "-S", "XALL", "1", strconv.Itoa(secs), filepath.Join(dir, "sa.data")))
	} else {
		sadcU.err = errors.New("skipped: sysstat's sadc is missing (apt-get install sysstat)")
	}
	if _, err := os.Stat(nodeExporterPath); err == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			neU = runNodeExporter(ctx, dir, secs)
		}()
	} else {
		neU.err = errors.New("skipped: prometheus-node-exporter is missing (apt-get install prometheus-node-exporter)")
	}
	wg.Wait()
	if oursU.err != nil {
		return fail(oursU.err)
	}
	fig := func(u usage, main string) Figure {
		if u.err != nil {
			return Figure{Text: u.err.Error()}
		}
		f := Figure{N: 1, Unit: "CPU s", Median: u.cpu, P50: u.cpu, Extra: map[string]float64{"RSS MB": u.rssMB}}
		if main == "rss" {
			f = Figure{N: 1, Unit: "MB RSS", Median: u.rssMB, P50: u.rssMB, Extra: map[string]float64{"CPU s": u.cpu}}
		}
		return f
	}
	cpu := Result{Name: names[0], Method: method, Goal: goals[0], Ours: fig(oursU, "cpu"), PeerName: "sadc", Peer: fig(sadcU, "cpu")}
	cpu.setRatio()
	cpu.Met = "n/a"
	if sadcU.err == nil {
		cpu.Met = met(oursU.cpu <= sadcU.cpu)
	}
	rss := Result{Name: names[1], Method: method, Goal: goals[1], Ours: fig(oursU, "rss"), PeerName: "sadc", Peer: fig(sadcU, "rss")}
	rss.setRatio()
	rss.Met = met(oursU.rssMB <= 15)
	ne := Result{Name: names[2], Method: method, Goal: goals[2], Ours: fig(oursU, "cpu"), PeerName: "node exporter", Peer: fig(neU, "cpu"), Met: "n/a"}
	ne.setRatio()
	return []Result{cpu, rss, ne}
}

// runNodeExporter starts the exporter on a free loopback port, scrapes it
// every second secs times, stops it and returns what it used.
func runNodeExporter(ctx context.Context, dir string, secs int) usage {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return usage{err: err}
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.CommandContext(ctx, nodeExporterPath, "--web.listen-address="+addr)
	logf, _ := os.Create(filepath.Join(dir, "node-exporter.log"))
	if logf != nil {
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	if err := cmd.Start(); err != nil {
		return usage{err: err}
	}
	stopWatch := make(chan struct{})
	hwm := watchHWM(cmd.Process.Pid, stopWatch)
	scrape := func() error {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	// Wait until it listens (up to 5 s), then scrape once a second.
	for i := 0; i < 50 && scrape() != nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	var scrapeErr error
	tick := time.NewTicker(time.Second)
	for i := 1; i < secs; i++ {
		<-tick.C
		if err := scrape(); err != nil {
			scrapeErr = err
		}
	}
	tick.Stop()
	// The last reading of VmHWM comes before the signal.
	close(stopWatch)
	peak := <-hwm
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	u := rusage(cmd.ProcessState, peak)
	if scrapeErr != nil {
		u.err = fmt.Errorf("scrape: %w", scrapeErr)
	}
	return u
}
