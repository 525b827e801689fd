package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/supervise"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/workflows/contract"
)

// secretLine would be a KPI, were the file holding it ever read.
const secretLine = "SECRET, 42\n"

// planted is a test's results directory as Setup leaves it, and a file
// outside it that only root may read.
func (b *bundle) planted(t *testing.T, id int64) (results, secret string) {
	t.Helper()
	in := b.prepare(t, id, "#!/bin/sh\n")
	secret = filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte(secretLine), 0o600))
	return in.ResultsDir, secret
}

// promptly runs fn on a goroutine of its own and fails the test if it has
// not returned within seconds: nothing it tests may block.
func promptly[T any](t *testing.T, fn func() (T, error)) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		require.NoError(t, r.err)
		return r.v
	case <-ctx.Done():
		t.Fatal("blocked: no answer within 10s")
		return *new(T)
	}
}

func (b *bundle) collect(t *testing.T, in contract.CollectInput) *contract.CollectResult {
	t.Helper()
	return promptly(t, func() (*contract.CollectResult, error) {
		v, err := b.env.ExecuteActivity(b.acts.Collect, in)
		if err != nil {
			return nil, err
		}
		var res contract.CollectResult
		return &res, v.Get(&res)
	})
}

// received is what a stand-in ingest server was sent as artifacts, by path.
type received struct {
	mu    sync.Mutex
	files map[string]string
}

func (r *received) get() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files
}

// artifactServer stands in for the server's ingest endpoints and keeps the
// artifacts; onFile, if not nil, runs as each one arrives.
func (b *bundle) artifactServer(t *testing.T, onFile func(path string)) *received {
	t.Helper()
	r := &received{files: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		path := req.URL.Query().Get("path")
		r.mu.Lock()
		r.files[path] = string(body)
		r.mu.Unlock()
		if onFile != nil {
			onFile(path)
		}
	}))
	t.Cleanup(srv.Close)
	b.acts.Ingest = &ingest.Client{Server: srv.URL}
	return r
}

// swapHook makes every look-up of name swap what it holds just before it
// is opened, as a racing script would; the swap's error fails the test.
func swapHook(t *testing.T, name string, swap func() error) {
	t.Helper()
	var swapErr error
	testHookOpen = func(n string) {
		if n == name && swapErr == nil {
			swapErr = swap()
		}
	}
	t.Cleanup(func() {
		testHookOpen = nil
		require.NoError(t, swapErr)
	})
}

// replaceWithLink puts a symbolic link to target where name is, in one rename.
func replaceWithLink(target, name string) error {
	tmp := name + ".swap"
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// replaceWithFifo puts a FIFO where name is, in one rename.
func replaceWithFifo(name string) error {
	tmp := name + ".swap"
	if err := syscall.Mkfifo(tmp, 0o666); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func requireNoSecret(t *testing.T, res *contract.CollectResult) {
	t.Helper()
	require.Empty(t, res.KPIs)
	for _, n := range res.Notes {
		require.NotContains(t, n, "SECRET")
	}
}

// Whatever the script puts where results.csv belongs that is not a
// regular file is noted, and nothing of it is read.
func TestCollectReadsOnlyARegularResultsFile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		plant func(t *testing.T, path, secret string)
		note  string
	}{
		{"link out", func(t *testing.T, path, secret string) { require.NoError(t, os.Symlink(secret, path)) },
			"results.csv: is a symbolic link; not read"},
		{"link to /dev/zero", func(t *testing.T, path, _ string) { require.NoError(t, os.Symlink("/dev/zero", path)) },
			"results.csv: is a symbolic link; not read"},
		{"link within", func(t *testing.T, path, _ string) {
			require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "other.csv"), []byte(secretLine), 0o600))
			require.NoError(t, os.Symlink("other.csv", path))
		}, "results.csv: is a symbolic link; not read"},
		{"fifo", func(t *testing.T, path, _ string) { require.NoError(t, syscall.Mkfifo(path, 0o666)) },
			"results.csv: is a named pipe (FIFO); not read"},
		{"directory", func(t *testing.T, path, _ string) { require.NoError(t, os.Mkdir(path, 0o755)) },
			"results.csv: is a directory; not read"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := int64(100 + i)
			results, secret := b.planted(t, id)
			c.plant(t, filepath.Join(results, "results.csv"), secret)
			res := b.collect(t, contract.CollectInput{TestID: id, ResultsDir: results})
			require.Equal(t, []string{c.note}, res.Notes)
			requireNoSecret(t, res)
		})
	}
}

// A script planting links through Execute: as root, the agent reads none
// of what they point to and uploads only the script's regular files.
func TestScriptPlantedLinksAreNotFollowed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.artifactServer(t, nil)
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte(secretLine), 0o600))
	in := b.prepare(t, 110, fmt.Sprintf("#!/bin/sh\nln -s %s results.csv\nln -s /dev/zero pids\necho kept > notes.txt\n", secret))
	require.Zero(t, b.execute(t, in).ExitCode)

	res := b.collect(t, contract.CollectInput{TestID: 110, ResultsDir: in.ResultsDir, Upload: true})
	require.Equal(t, []string{"results.csv: is a symbolic link; not read"}, res.Notes)
	requireNoSecret(t, res)
	require.Equal(t, map[string]string{"notes.txt": "kept\n"}, got.get())
	require.Equal(t, []string{
		"artifact pids: is a symbolic link; not kept",
		"artifact results.csv: is a symbolic link; not kept",
	}, res.Upload.Skipped)
	require.Equal(t, 1, res.Upload.Files)
	require.Equal(t, int64(5), res.Upload.Bytes)
}

// An entry swapped between its look-up and its opening is not followed:
// not out of the directory, not even to a file inside it (which os.Root
// alone would follow); and a FIFO swapped in does not hang the open.
func TestCollectRefusesAResultsFileSwappedWhileOpening(t *testing.T) {
	// Not parallel: the hook is the package's.
	for i, swap := range []func(path, secret string) error{
		func(path, secret string) error { return replaceWithLink(secret, path) },
		func(path, _ string) error {
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), "other.csv"), []byte(secretLine), 0o600); err != nil {
				return err
			}
			return replaceWithLink("other.csv", path)
		},
		func(path, _ string) error { return replaceWithFifo(path) },
	} {
		b := setup(t)
		id := int64(120 + i)
		results, secret := b.planted(t, id)
		path := filepath.Join(results, "results.csv")
		require.NoError(t, os.WriteFile(path, []byte("Latency, 5ms\n"), 0o644))
		swapHook(t, "results.csv", func() error { return swap(path, secret) })
		res := b.collect(t, contract.CollectInput{TestID: id, ResultsDir: results})
		require.Equal(t, []string{"results.csv: changed while it was being opened; not read"}, res.Notes, "swap %d", i)
		requireNoSecret(t, res)
	}
}

// Keeping an iteration's results renames results.csv, never through a
// results.N.csv the script planted; a retried Collect reads the kept file.
func TestCollectKeepsIterationsWithoutWritingThroughLinks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	results, secret := b.planted(t, 130)
	current := filepath.Join(results, "results.csv")
	require.NoError(t, os.WriteFile(current, []byte("Latency, 5ms\n"), 0o644))
	require.NoError(t, os.Symlink(secret, filepath.Join(results, "results.1.csv")))

	res := b.collect(t, contract.CollectInput{TestID: 130, ResultsDir: results, Iteration: 1})
	require.Len(t, res.KPIs, 1)
	require.Equal(t, "Latency", res.KPIs[0].Name)
	require.Equal(t, 5.0, res.KPIs[0].Value)
	require.Equal(t, []string{"results.1.csv: is a symbolic link; results.csv not renamed to it"}, res.Notes)
	outside, err := os.ReadFile(secret)
	require.NoError(t, err)
	require.Equal(t, secretLine, string(outside), "the file the link names is untouched")
	info, err := os.Lstat(filepath.Join(results, "results.1.csv"))
	require.NoError(t, err)
	require.Equal(t, os.ModeSymlink, info.Mode().Type())
	require.FileExists(t, current)

	// The next iteration's file is kept as results.2.csv; its retry reads it there.
	require.NoError(t, os.WriteFile(current, []byte("Latency, 6ms\n"), 0o644))
	for range 2 {
		res = b.collect(t, contract.CollectInput{TestID: 130, ResultsDir: results, Iteration: 2})
		require.Empty(t, res.Notes)
		require.Len(t, res.KPIs, 1)
		require.Equal(t, 6.0, res.KPIs[0].Value)
		require.Equal(t, "results.2.csv", res.File, "the file a unit note will name")
		require.Equal(t, 1, res.KPIs[0].Line)
		require.NoFileExists(t, current)
		require.FileExists(t, filepath.Join(results, "results.2.csv"))
	}
}

// Discarding warm-up results removes a planted link, not what it names.
func TestDiscardRemovesTheLinkItself(t *testing.T) {
	t.Parallel()
	b := setup(t)
	results, secret := b.planted(t, 140)
	require.NoError(t, os.Symlink(secret, filepath.Join(results, "results.csv")))
	res := b.collect(t, contract.CollectInput{TestID: 140, ResultsDir: results, Discard: true})
	require.Empty(t, res.Notes)
	_, err := os.Lstat(filepath.Join(results, "results.csv"))
	require.ErrorIs(t, err, os.ErrNotExist)
	outside, err := os.ReadFile(secret)
	require.NoError(t, err)
	require.Equal(t, secretLine, string(outside))
}

// A link where the results directory was (a script running as the agent's
// own user could put one there): nothing is read or uploaded through it.
func TestResultsDirectoryReplacedByALink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.artifactServer(t, nil)
	results, secret := b.planted(t, 150)
	elsewhere := filepath.Dir(secret)
	require.NoError(t, os.WriteFile(filepath.Join(elsewhere, "results.csv"), []byte(secretLine), 0o600))
	require.NoError(t, os.Rename(results, results+".old"))
	require.NoError(t, os.Symlink(elsewhere, results))

	res := b.collect(t, contract.CollectInput{TestID: 150, ResultsDir: results, Upload: true})
	require.Equal(t, []string{"results directory: is a symbolic link; not read"}, res.Notes)
	requireNoSecret(t, res)
	require.Equal(t, []string{"results directory: is a symbolic link; not kept"}, res.Upload.Skipped)
	require.Zero(t, res.Upload.Files)
	require.Empty(t, got.get())
}

// Upload sends the regular files, each from the file it opened, and notes
// every other entry: links (out of the directory or within), FIFOs and
// entries swapped for links after the listing.
func TestUploadSendsOnlyRegularFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var results, secret string
	swapped := make(chan error, 1)
	got := b.artifactServer(t, func(path string) {
		if path == "a.txt" {
			// Between the listing and the opening of what comes after.
			err := replaceWithLink(secret, filepath.Join(results, "b.txt"))
			if err == nil {
				err = os.RemoveAll(filepath.Join(results, "c"))
			}
			if err == nil {
				err = os.Symlink(filepath.Dir(secret), filepath.Join(results, "c"))
			}
			swapped <- err
		}
	})
	results, secret = b.planted(t, 160)
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(results, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(results, name), []byte(content), 0o644))
	}
	write("a.txt", "A")
	write("b.txt", "B")
	write("c/secret", "C")
	write("data/nested.json", "{}")
	write("results.csv", "Latency, 7ms\n")
	require.NoError(t, os.Symlink(secret, filepath.Join(results, "passwd-link")))
	require.NoError(t, os.Symlink("results.csv", filepath.Join(results, "inner-link")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(results, "fifo"), 0o666))

	res := b.collect(t, contract.CollectInput{TestID: 160, ResultsDir: results, Upload: true})
	require.NoError(t, <-swapped)
	require.Equal(t, "Latency", res.KPIs[0].Name)
	require.Equal(t, map[string]string{"a.txt": "A", "data/nested.json": "{}", "results.csv": "Latency, 7ms\n"}, got.get())
	require.Equal(t, []string{
		"artifact b.txt: is a symbolic link; not kept",
		"artifact c: is a symbolic link; not kept",
		"artifact fifo: is a named pipe (FIFO); not kept",
		"artifact inner-link: is a symbolic link; not kept",
		"artifact passwd-link: is a symbolic link; not kept",
	}, res.Upload.Skipped)
	require.Equal(t, 3, res.Upload.Files)
	require.Equal(t, int64(1+2+13), res.Upload.Bytes)
}

// The pids file is read only as a small regular file; what it lists is
// parsed leniently, never PID 1 or the agent's own.
func TestReadPids(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("12345\n", 11000) // 66,000 bytes: the cap cuts the last PID
	cases := []struct {
		name  string
		plant func(t *testing.T, path, secret string)
		want  []int
	}{
		{"listed", func(t *testing.T, path, _ string) {
			text := fmt.Sprintf("123, 456\n1\n%d\nabc\t789\r\n-5 0", os.Getpid())
			require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		}, []int{123, 456, 789}},
		{"over the cap", func(t *testing.T, path, _ string) {
			require.NoError(t, os.WriteFile(path, []byte(long), 0o644))
		}, func() []int {
			want := make([]int, maxPidsFile/6)
			for i := range want {
				want[i] = 12345
			}
			return want
		}()},
		{"link to /dev/zero", func(t *testing.T, path, _ string) { require.NoError(t, os.Symlink("/dev/zero", path)) }, nil},
		{"link out", func(t *testing.T, path, secret string) {
			require.NoError(t, os.WriteFile(secret, []byte("4242\n"), 0o600))
			require.NoError(t, os.Symlink(secret, path))
		}, nil},
		{"fifo", func(t *testing.T, path, _ string) { require.NoError(t, syscall.Mkfifo(path, 0o666)) }, nil},
		{"missing", func(*testing.T, string, string) {}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			results := filepath.Join(t.TempDir(), "results")
			require.NoError(t, os.Mkdir(results, 0o755))
			c.plant(t, filepath.Join(results, "pids"), filepath.Join(t.TempDir(), "secret"))
			got := promptly(t, func() ([]int, error) { return readPids(results), nil })
			require.Equal(t, c.want, got)
		})
	}
}

// A pids file swapped for a FIFO just before it is opened does not hang
// the reader.
func TestReadPidsSwappedForAFifo(t *testing.T) {
	// Not parallel: the hook is the package's.
	results := filepath.Join(t.TempDir(), "results")
	require.NoError(t, os.Mkdir(results, 0o755))
	path := filepath.Join(results, "pids")
	require.NoError(t, os.WriteFile(path, []byte("4242\n"), 0o644))
	swapHook(t, "pids", func() error { return replaceWithFifo(path) })
	require.Nil(t, promptly(t, func() ([]int, error) { return readPids(results), nil }))
}

// samplesServer stands in for the server's ingest endpoints and keeps the
// names of the metrics it was sent.
func (b *bundle) samplesServer(t *testing.T) func() map[string]bool {
	t.Helper()
	var mu sync.Mutex
	metrics := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var batch ingest.Samples
		if json.NewDecoder(req.Body).Decode(&batch) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, s := range batch.Series {
			metrics[s.Metric] = true
		}
	}))
	t.Cleanup(srv.Close)
	b.acts.Ingest = &ingest.Client{Server: srv.URL}
	return func() map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		return metrics
	}
}

// startStranger starts a process that is no script's and returns its PID.
func startStranger(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// The monitor reports on the PIDs the script lists only when they are
// processes of the script's own supervised tree: not the agent, not its
// supervisor, not a stranger's process.
func TestMonitorSamplesOnlyTheScriptsOwnProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	metrics := b.samplesServer(t)
	results := filepath.Join(t.TempDir(), "results")
	require.NoError(t, os.Mkdir(results, 0o755))
	cmd, err := supervise.Command()
	require.NoError(t, err)
	spec := supervise.Spec{Path: "/bin/sh", Args: []string{"-c", "sleep 60 & echo $! > child; echo $$ > self; wait"},
		Dir: results, Env: []string{"PATH=/usr/bin:/bin"}, KillGrace: time.Second}
	run, err := supervise.Start(filepath.Join(t.TempDir(), "state"), spec, cmd[0], cmd[1:]...)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = run.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = run.Wait(ctx)
	})
	stranger := startStranger(t)
	self := testenv.ReadPID(t, filepath.Join(results, "self"))
	child := testenv.ReadPID(t, filepath.Join(results, "child"))
	listed := fmt.Sprintf("%d,%d %d\n1 %d %d\n", self, child, stranger, os.Getpid(), run.PID())
	require.NoError(t, os.WriteFile(filepath.Join(results, "pids"), []byte(listed), 0o644))
	require.Empty(t, b.acts.scriptPids(170, results), "no script of test 170 runs yet")
	b.acts.state.with(170, func(ts *testState) { ts.script = &runningScript{run: run} })
	t.Cleanup(func() { b.acts.state.with(170, func(ts *testState) { ts.script = nil }) })
	require.Equal(t, []int{self, child}, b.acts.scriptPids(170, results))

	// Stopped before it starts, the monitor takes two samples and ends.
	_, err = b.env.ExecuteActivity(b.acts.StopMonitor, int64(170))
	require.NoError(t, err)
	res := promptly(t, func() (*contract.MonitorResult, error) {
		v, err := b.env.ExecuteActivity(b.acts.Monitor, contract.MonitorInput{TestID: 170, ResultsDir: results, Interval: time.Hour})
		if err != nil {
			return nil, err
		}
		var res contract.MonitorResult
		return &res, v.Get(&res)
	})
	require.Equal(t, 2, res.Samples)
	got := metrics()
	require.True(t, got[fmt.Sprintf("proc.%d.rss", self)], "the script itself is sampled")
	require.True(t, got[fmt.Sprintf("proc.%d.rss", child)], "its child is sampled")
	for _, pid := range []int{stranger, os.Getpid(), run.PID()} {
		for m := range got {
			require.False(t, strings.HasPrefix(m, fmt.Sprintf("proc.%d.", pid)), "%s: process %d is not the script's", m, pid)
		}
	}

	require.NoError(t, run.Stop())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = run.Wait(ctx)
	require.NoError(t, err)
	require.Empty(t, b.acts.scriptPids(170, results), "an ended run owns nothing")
}
