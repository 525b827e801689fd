package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Prometheus is a private Prometheus server for one test package, started
// in TestMain by StartPrometheus; Err says what is missing when it could
// not start, and Require fails (under CI) or skips each test that needs it.
type Prometheus struct {
	URL  string // http://127.0.0.1:PORT
	Err  error
	stop func()
	log  string
}

// StartPrometheus runs Debian's prometheus on a free loopback port with a
// storage of its own, scraping targets (host:port) every second, and
// returns once it has scraped each target twice.
func StartPrometheus(ctx context.Context, targets ...string) *Prometheus {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return &Prometheus{Err: fmt.Errorf("prometheus not found (Debian: apt-get install prometheus)")}
	}
	dir, err := os.MkdirTemp("", "pitwall-prometheus-")
	if err != nil {
		return &Prometheus{Err: err}
	}
	quoted := make([]string, len(targets))
	for i, t := range targets {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: service
    scrape_interval: 1s
    static_configs: [{targets: [%s]}]
`, strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		return &Prometheus{Err: err}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return &Prometheus{Err: err}
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(dir, "prometheus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return &Prometheus{Err: err}
	}
	cmd := exec.Command(bin, "--config.file", filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path", filepath.Join(dir, "data"), "--web.listen-address", addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return &Prometheus{Err: fmt.Errorf("start prometheus: %w", err)}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	p := &Prometheus{URL: "http://" + addr, log: logPath}
	p.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if scrapedTwice(ctx, p.URL, len(targets)) {
			return p
		}
		select {
		case err := <-done:
			b, _ := os.ReadFile(logPath)
			os.RemoveAll(dir)
			return &Prometheus{Err: fmt.Errorf("prometheus exited (%v): %s", err, lastBytes(b, 2000))}
		case <-ctx.Done():
			p.Stop()
			return &Prometheus{Err: ctx.Err()}
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			p.Stop()
			return &Prometheus{Err: fmt.Errorf("prometheus had not scraped each target twice in 30 s: %s", lastBytes(b, 2000))}
		}
	}
}

// scrapedTwice says whether the server at url answers and has scraped each
// of its n targets twice: before that, a rate over the first test's window
// has nothing to work on (the first scrape may come seconds after start).
func scrapedTwice(ctx context.Context, url string, n int) bool {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, _, _, err := v1.NewAPI(c).Query(ctx, "count(count_over_time(up[5m]) >= 2)", time.Now())
	if err != nil {
		return false
	}
	vec, ok := v.(model.Vector)
	return ok && len(vec) == 1 && int(vec[0].Value) == n
}

// Stop stops the server and removes its storage.
func (p *Prometheus) Stop() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
}

// Require returns the server's URL, or ends the test: under CI (CI=true) a
// missing Prometheus is a failure, elsewhere the test is skipped with the reason.
func (p *Prometheus) Require(t testing.TB) string {
	t.Helper()
	if p.Err == nil {
		return p.URL
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI needs a Prometheus server: %v", p.Err)
	}
	t.Skipf("no Prometheus server: %v", p.Err)
	return ""
}
