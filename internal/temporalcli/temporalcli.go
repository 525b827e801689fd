// Package temporalcli builds the Temporal CLI once and starts its dev server,
// for the dev stack (`task dev`, `task demo`) and for the tests and the
// benchmark suite alike: one build serves all of them, and none of them
// links the Temporal server into its own binary (which made a first
// `go test ./...` compile and vet the server's AWS, GCP and Kubernetes
// dependencies for minutes).
package temporalcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/pitwall/pitwall/internal/temporalcfg"
)

// Module is the Temporal CLI version whose dev server Pitwall runs; later
// versions do not install with `go install` (replace directives).
const Module = "github.com/temporalio/cli/cmd/temporal@v1.5.1"

// BinDir is where the CLI is built when the caller has no folder of its
// own: PITWALL_TEMPORAL_BIN if set, else .pitwall/bin of the module found
// by `go env GOMOD` (the clone, from any of its packages' tests), else
// pitwall/bin under the user's cache directory.
func BinDir() (string, error) {
	if d := os.Getenv("PITWALL_TEMPORAL_BIN"); d != "" {
		return filepath.Abs(d)
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if mod := strings.TrimSpace(string(out)); err == nil && mod != "" && mod != os.DevNull {
		return filepath.Join(filepath.Dir(mod), ".pitwall", "bin"), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a folder for the temporal CLI: %w", err)
	}
	return filepath.Join(cache, "pitwall", "bin"), nil
}

// Ensure returns the path of the CLI in binDir, building it there first if
// it is missing. Test packages run in parallel and may all call it on a
// fresh clone: a file lock makes one of them build while the others wait,
// and the binary appears under its final name only once complete. The
// build's output goes to log.
func Ensure(ctx context.Context, binDir string, log io.Writer) (string, error) {
	// go install wants an absolute GOBIN.
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return "", fmt.Errorf("locate %s: %w", binDir, err)
	}
	bin := filepath.Join(binDir, "temporal")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", binDir, err)
	}
	lock, err := os.OpenFile(filepath.Join(binDir, ".temporal.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("open the build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built by whoever held the lock before us
	}
	tmp, err := os.MkdirTemp(binDir, ".temporal-build-")
	if err != nil {
		return "", fmt.Errorf("create a build folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", Module)
	// -mod=mod: `go install pkg@version` ignores our go.mod, but a GOFLAGS
	// of -mod=vendor or readonly from the caller's shell would refuse it.
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-mod=mod")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s: %w", Module, err)
	}
	if err := os.Rename(filepath.Join(tmp, "temporal"), bin); err != nil {
		return "", fmt.Errorf("move the temporal CLI into %s: %w", binDir, err)
	}
	return bin, nil
}

// DevServer says how to start a dev server.
type DevServer struct {
	// Port is the gRPC frontend's port on 127.0.0.1.
	Port int
	// UIPort is the web UI's port; 0 starts no UI.
	UIPort int
	// DBFile keeps the history in a SQLite file; empty keeps it in memory.
	DBFile string
	// Test adds what tests need on top of Pitwall's dynamic config: search
	// attributes usable as soon as they are registered.
	Test bool
}

// Args are the arguments of `temporal` that start the dev server.
func (d DevServer) Args() []string {
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(d.Port),
		"--namespace", "default", "--log-level", "warn"}
	if d.UIPort == 0 {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-port", strconv.Itoa(d.UIPort))
	}
	if d.DBFile != "" {
		args = append(args, "--db-filename", d.DBFile)
	}
	args = append(args, temporalcfg.DevServerFlags()...)
	if d.Test {
		// What temporaltest set for the in-process servers the tests used
		// before: without it a search attribute registered a moment ago
		// may be unknown to a query for up to the cache's refresh interval.
		args = append(args, "--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=true")
	}
	return args
}

// WaitReady waits until the server at addr answers a health check and
// knows the namespace, or exited is closed (the process died), or limit
// passes.
func WaitReady(ctx context.Context, addr, namespace string, exited <-chan struct{}, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var err error
	for {
		err = ready(ctx, addr, namespace)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the temporal dev server exited during start-up")
		case <-ctx.Done():
			return fmt.Errorf("the temporal dev server at %s was not ready within %s: %w", addr, limit, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ready(ctx context.Context, addr, namespace string) error {
	// A closed port fails fast here, before the SDK's own retries.
	conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	conn.Close()
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: namespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	return err
}
