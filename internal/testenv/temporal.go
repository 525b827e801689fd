package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/pitwall/pitwall/internal/pgcluster"
	"github.com/pitwall/pitwall/internal/proc"
	"github.com/pitwall/pitwall/internal/temporaldev"
)

// TemporalServer is a real Temporal server for one test package: Pitwall's
// Temporal server (deploy/temporal) in its dev mode, the one `task demo`
// runs, built once into the clone's .pitwall/bin, on a free loopback port,
// its history in memory, with Pitwall's dynamic config.
type TemporalServer struct {
	addr string
	dir  string
	proc *proc.Proc
}

// Temporal builds Pitwall's Temporal server if needed, starts its dev server
// with searchAttrs in its namespace and waits until it answers; the caller
// stops it with Stop. PITWALL_TEMPORAL_PPROF_PORT, when set, is the port
// the server serves net/http/pprof on (a CPU profile of Temporal under a
// benchmark: docs/performance.md).
func Temporal(ctx context.Context, searchAttrs map[string]enumspb.IndexedValueType) (*TemporalServer, error) {
	binDir, err := temporaldev.BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pitwall-temporal-")
	if err != nil {
		return nil, fmt.Errorf("create the temporal folder: %w", err)
	}
	s := &TemporalServer{dir: dir}
	logPath := filepath.Join(dir, "temporal.log")
	logf, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("create the temporal log: %w", err)
	}
	server, err := temporaldev.Ensure(ctx, binDir, logf)
	logf.Close()
	if err != nil {
		log, _ := os.ReadFile(logPath)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w; its output:\n%s", err, log)
	}
	port, err := pgcluster.FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.addr = "127.0.0.1:" + strconv.Itoa(port)
	dev := temporaldev.DevServer{Port: port, SearchAttributes: searchAttrs}
	if v := os.Getenv("PITWALL_TEMPORAL_PPROF_PORT"); v != "" {
		if dev.PProfPort, err = strconv.Atoi(v); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("PITWALL_TEMPORAL_PPROF_PORT=%q is not a port", v)
		}
	}
	// Gone with us if the test binary dies without stopping it.
	s.proc, err = proc.Start(proc.Options{Name: "the temporal dev server", LogPath: logPath, Dir: dir, Pdeathsig: syscall.SIGKILL},
		server, dev.Args()...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := temporaldev.WaitReady(ctx, s.addr, s.Namespace(), s.proc.Done(), 60*time.Second); err != nil {
		log := s.proc.Log()
		s.Stop()
		return nil, fmt.Errorf("%w; its log:\n%s", err, log)
	}
	return s, nil
}

// Address is the server's gRPC frontend, host:port.
func (s *TemporalServer) Address() string { return s.addr }

// Namespace is the namespace the server was started with.
func (s *TemporalServer) Namespace() string { return "default" }

// Client dials the server in its namespace.
func (s *TemporalServer) Client(ctx context.Context) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{HostPort: s.addr, Namespace: s.Namespace(),
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
	if err != nil {
		return nil, fmt.Errorf("dial temporal at %s: %w", s.addr, err)
	}
	return c, nil
}

// Stop stops the server's process group (SIGTERM, then SIGKILL after 10 s)
// and removes its folder.
func (s *TemporalServer) Stop() {
	s.proc.Stop(10 * time.Second)
	os.RemoveAll(s.dir)
}
