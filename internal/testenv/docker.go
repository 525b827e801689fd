package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Docker is a private Docker engine for one test package, started in
// TestMain by StartDocker. When it could not start, Err says what is missing
// and Require fails (under CI) or skips each test that needs it.
type Docker struct {
	Socket string // path of the engine's unix socket
	Err    error
	stop   func()
}

// StartDocker starts dockerd on a socket, data root and exec root of its own
// in a new temporary directory. The engine does not touch the host's docker0
// bridge (--bridge none) and takes its networks' subnets from a pool chosen at
// random, so two private engines on one machine do not collide.
func StartDocker(ctx context.Context) *Docker {
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		return &Docker{Err: fmt.Errorf("dockerd not found (Debian: apt-get install docker.io)")}
	}
	dir, err := os.MkdirTemp("", "pitwall-dockerd-")
	if err != nil {
		return &Docker{Err: err}
	}
	sock := filepath.Join(dir, "docker.sock")
	n, _ := rand.Int(rand.Reader, big.NewInt(200))
	pool := fmt.Sprintf("base=10.%d.0.0/16,size=24", 20+n.Int64())
	var log bytes.Buffer
	cmd := exec.Command(bin, "--host", "unix://"+sock,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--bridge", "none",
		"--default-address-pool", pool)
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return &Docker{Err: fmt.Errorf("start dockerd: %w", err)}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			if ping(sock) == nil {
				return &Docker{Socket: sock, stop: stop}
			}
		}
		select {
		case err := <-done:
			os.RemoveAll(dir)
			return &Docker{Err: fmt.Errorf("dockerd exited (%v): %s", err, lastBytes(log.Bytes(), 2000))}
		case <-ctx.Done():
			stop()
			return &Docker{Err: ctx.Err()}
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return &Docker{Err: fmt.Errorf("dockerd did not answer in 30 s: %s", lastBytes(log.Bytes(), 2000))}
		}
	}
}

// ping asks the engine's /_ping over the socket with a bare HTTP request,
// so testenv does not depend on the Docker client.
func ping(sock string) error {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	if !bytes.Contains(buf[:n], []byte(" 200 ")) {
		return fmt.Errorf("ping: %q", buf[:n])
	}
	return nil
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Stop stops the engine and removes its directory (images included).
func (d *Docker) Stop() {
	if d.stop != nil {
		d.stop()
	}
}

// Host is the engine's address for DOCKER_HOST and the Docker client.
func (d *Docker) Host() string { return "unix://" + d.Socket }

// Require returns the engine's socket, or ends the test: under CI (CI=true)
// a missing engine is a failure, elsewhere the test is skipped with the reason.
func (d *Docker) Require(t testing.TB) string {
	t.Helper()
	if d.Err == nil {
		return d.Socket
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI needs a Docker engine: %v", d.Err)
	}
	t.Skipf("no Docker engine: %v", d.Err)
	return ""
}

// PID is the engine's process ID (0 when it did not start), so benchmarks
// can read its CPU time.
func (d *Docker) PID() int {
	if d.Socket == "" {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(d.Socket), "docker.pid"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
