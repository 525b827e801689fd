// Package temporaldev builds Pitwall's Temporal server (deploy/temporal, the
// compose deployment's server) once per clone and starts it in its dev mode
// (`pitwall-temporal dev`: SQLite, loopback, no authorization), for the dev
// stack (`task dev`, `task demo`), the tests and the benchmark suite alike.
// One build of go.temporal.io/server serves all of them and the compose
// image, and none of them links the server into its own binary (which made
// a first `go test ./...` compile and vet the server's AWS, GCP and
// Kubernetes dependencies for minutes).
package temporaldev

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/natefinch/atomic"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/mod/modfile"

	"github.com/pitwall/pitwall/internal/filelock"
	"github.com/pitwall/pitwall/internal/temporalcfg"
)

// Binary is the server's file name in a bin folder.
const Binary = "pitwall-temporal"

// ModuleRoot is the folder of the clone's go.mod, found by `go env GOMOD`
// (from the clone or any folder in it).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a clone of Pitwall (go env GOMOD names no go.mod); Pitwall's Temporal server and the tests' binaries build from the clone")
	}
	return filepath.Dir(mod), nil
}

// BinDir is where the server is built when the caller has no folder of its
// own: PITWALL_TEMPORAL_BIN if set, else the clone's .pitwall/bin.
func BinDir() (string, error) {
	if d := os.Getenv("PITWALL_TEMPORAL_BIN"); d != "" {
		return filepath.Abs(d)
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".pitwall", "bin"), nil
}

// sourceSum is a digest of deploy/temporal's Go files, go.mod and go.sum:
// a binary built from other sources is built again.
func sourceSum(src string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if name := d.Name(); !strings.HasSuffix(name, ".go") && name != "go.mod" && name != "go.sum" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", src, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Ensure returns the path of the server in binDir, building it there first
// if it is missing or was built from other sources. Test packages run in
// parallel and may all call it on a fresh clone: a file lock makes one of
// them build while the others wait, and the binary appears under its final
// name only once complete. The build's output goes to log.
func Ensure(ctx context.Context, binDir string, log io.Writer) (string, error) {
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return "", fmt.Errorf("locate %s: %w", binDir, err)
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, "deploy", "temporal")
	sum, err := sourceSum(src)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(binDir, Binary)
	stamp := bin + ".sum"
	built := func() bool {
		b, err := os.ReadFile(stamp)
		_, errBin := os.Stat(bin)
		return err == nil && errBin == nil && string(b) == sum
	}
	if built() {
		return bin, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", binDir, err)
	}
	unlock, err := filelock.Lock(filepath.Join(binDir, ".temporal.lock"))
	if err != nil {
		return "", fmt.Errorf("the build lock: %w", err)
	}
	defer unlock()
	if built() {
		return bin, nil // built by whoever held the lock before us
	}
	tmp := bin + ".new"
	// The clone's usual flags (no -trimpath, cgo as the machine has it), so
	// that the compose image's build (deploy/images/build.sh) reuses every
	// compiled package.
	// No DWARF (-w): its link takes a third less CPU, and stack traces
	// come from the symbol table, which stays. The compiler and the linker
	// run without garbage collection (as Taskfile.yml's NOGC): 13% less
	// CPU for this build, at most 1.9 GB a process.
	// deploy/temporal/_overlay's files replace the server's own (Overlay).
	work, overlay, err := Overlay(ctx, src, binDir, false)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-toolexec", "env GOGC=off", "-ldflags=-w", "-overlay", overlay, "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), work)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build %s: %w", src, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("move the Temporal server into %s: %w", binDir, err)
	}
	if err := os.WriteFile(stamp, []byte(sum), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", stamp, err)
	}
	return bin, nil
}

// DevServer says how to start a dev server.
type DevServer struct {
	// Port is the gRPC frontend's port on 127.0.0.1.
	Port int
	// UIPort is the web UI's port; 0 starts no UI.
	UIPort int
	// PProfPort serves net/http/pprof on 127.0.0.1 (0: not served).
	PProfPort int
	// DBFile keeps the history in a SQLite file; empty keeps it in memory.
	DBFile string
	// SearchAttributes are in the namespace from the start. (A search
	// attribute registered while the server runs is usable only once the
	// server's cache of them refreshes, seconds later; the Temporal CLI's
	// dev server, used before, refreshed it on every read instead, which
	// costs the server work on every request.)
	SearchAttributes map[string]enumspb.IndexedValueType
}

// Args are the arguments of pitwall-temporal that start the dev server.
func (d DevServer) Args() []string {
	args := []string{"dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(d.Port),
		"--namespace", "default", "--log-level", "warn"}
	if d.UIPort != 0 {
		args = append(args, "--ui-port", strconv.Itoa(d.UIPort))
	}
	if d.PProfPort != 0 {
		args = append(args, "--pprof-port", strconv.Itoa(d.PProfPort))
	}
	if d.DBFile != "" {
		args = append(args, "--db-filename", d.DBFile)
	}
	args = append(args, temporalcfg.DevServerFlags()...)
	for _, name := range slices.Sorted(maps.Keys(d.SearchAttributes)) {
		args = append(args, "--search-attribute", name+"="+enumspb.IndexedValueType_name[int32(d.SearchAttributes[name])])
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

// serverModule is the module whose files deploy/temporal/_overlay replaces.
const serverModule = "go.temporal.io/server"

// Overlay prepares a build of src (deploy/temporal) in which the files
// under src/_overlay replace those at the same paths in the Temporal
// server's module, and returns the build's environment entry (GOWORK=…)
// and the `go build -overlay` file. A file the module lacks is added to its
// package: that is how the overlay's tests (_test.go, included when tests
// is set) join it.
//
// The go command refuses to overlay files in the module cache, so the
// server's module is copied once into dir/src (39 MB, under a second)
// and a go.work in dir points the module at the copy. The copy stays at
// one path so that its compiled packages are reused from one build to the
// next.
func Overlay(ctx context.Context, src, dir string, tests bool) (env, overlay string, err error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", serverModule)
	cmd.Dir, cmd.Env = src, append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("go mod download %s in %s: %w", serverModule, src, err)
	}
	var mod struct{ Dir, Version string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", "", fmt.Errorf("go mod download %s printed no folder (%v): %s", serverModule, err, out)
	}
	copied := filepath.Join(dir, "src", serverModule+"@"+mod.Version)
	if _, err := os.Stat(copied); err != nil {
		err := os.MkdirAll(filepath.Dir(copied), 0o755)
		var tmp string
		if err == nil {
			tmp, err = os.MkdirTemp(filepath.Dir(copied), "copy-")
		}
		if err == nil {
			err = os.CopyFS(tmp, os.DirFS(mod.Dir))
		}
		if err == nil {
			err = os.Rename(tmp, copied)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
			os.RemoveAll(tmp)
			return "", "", fmt.Errorf("copy %s into %s: %w", mod.Dir, copied, err)
		}
		os.RemoveAll(tmp) // left only when another build copied first
	}
	goVersion, err := goDirective(filepath.Join(src, "go.mod"))
	if err != nil {
		return "", "", err
	}
	work := filepath.Join(dir, "temporal.go.work")
	text := fmt.Sprintf("go %s\n\nuse %s\n\nreplace %s %s => %s\n", goVersion, src, serverModule, mod.Version, copied)
	// Written through a rename (atomic.WriteFile): TestOverlay may write
	// the same file while a server build reads it.
	if err := atomic.WriteFile(work, strings.NewReader(text)); err != nil {
		return "", "", err
	}
	root := filepath.Join(src, "_overlay")
	replace := map[string]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || (!tests && strings.HasSuffix(path, "_test.go")) {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		replace[filepath.Join(copied, rel)] = path
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", root, err)
	}
	b, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return "", "", err
	}
	overlay = filepath.Join(dir, "temporal-overlay.json")
	if tests {
		overlay = filepath.Join(dir, "temporal-overlay-tests.json")
	}
	if err := atomic.WriteFile(overlay, bytes.NewReader(b)); err != nil {
		return "", "", err
	}
	return "GOWORK=" + work, overlay, nil
}

// goDirective is the go line of a go.mod.
func goDirective(gomod string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	f, err := modfile.ParseLax(gomod, b, nil)
	if err != nil {
		return "", err
	}
	if f.Go == nil {
		return "", fmt.Errorf("%s has no go line", gomod)
	}
	return f.Go.Version, nil
}
