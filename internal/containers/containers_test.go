package containers_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/containers"
	"github.com/pitwall/pitwall/internal/testenv"
)

var (
	docker  *testenv.Docker
	echoDir string // build context: Dockerfile and the static echo server
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	docker = testenv.StartDocker(ctx)
	cancel()
	var err error
	if docker.Err == nil {
		echoDir, err = buildEcho()
		if err != nil {
			docker.Err = fmt.Errorf("build the echo server: %w", err)
		}
	}
	code := m.Run()
	docker.Stop()
	if echoDir != "" {
		os.RemoveAll(filepath.Dir(echoDir))
	}
	os.Exit(code)
}

// buildEcho compiles testdata/echo as a static binary into a new build
// context whose Dockerfile copies it into an empty (scratch) image.
func buildEcho() (string, error) {
	dir, err := os.MkdirTemp("", "pitwall-echo-")
	if err != nil {
		return "", err
	}
	src, err := os.ReadFile("testdata/echo/main.go.txt")
	if err != nil {
		return "", err
	}
	srcDir := filepath.Join(dir, "src")
	if err := os.MkdirAll(srcDir, 0o755); err != nil {
		return "", err
	}
	_ = os.WriteFile(filepath.Join(srcDir, "main.go"), src, 0o644)
	_ = os.WriteFile(filepath.Join(srcDir, "go.mod"), []byte("module echo\n\ngo 1.22\n"), 0o644)
	ctxDir := filepath.Join(dir, "context")
	_ = os.MkdirAll(ctxDir, 0o755)
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "echo"), ".")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	df := "FROM scratch\nCOPY echo /echo\nENTRYPOINT [\"/echo\"]\n"
	return ctxDir, os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644)
}

type bundle struct {
	ctx    context.Context
	eng    *containers.Engine
	image  string
	testID string
}

var (
	imageOnce sync.Once
	image     string
	imageErr  error
)

// setup connects to the package's engine, builds the echo image once, and
// gives the test an ID whose resources are removed when it ends.
func setup(t *testing.T) *bundle {
	t.Helper()
	docker.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	eng, err := containers.Connect(ctx, docker.Host())
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close() })
	imageOnce.Do(func() {
		var b containers.Built
		b, imageErr = eng.Build(ctx, containers.BuildSpec{Repo: "echo", Commit: "shared", ContextDir: echoDir})
		image = b.Image
	})
	require.NoError(t, imageErr)
	b := &bundle{ctx: ctx, eng: eng, image: image, testID: newID()}
	t.Cleanup(func() { _ = eng.Remove(context.Background(), b.testID) })
	return b
}

func newID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (b *bundle) labelled(t *testing.T, testID string) (cs, ns int) {
	t.Helper()
	f := client.Filters{}.Add("label", containers.LabelTest+"="+testID)
	c, err := b.eng.Client().ContainerList(b.ctx, client.ContainerListOptions{All: true, Filters: f})
	require.NoError(t, err)
	n, err := b.eng.Client().NetworkList(b.ctx, client.NetworkListOptions{Filters: f})
	require.NoError(t, err)
	return len(c.Items), len(n.Items)
}

func TestServiceReadyWithLiteralArgvLimitsAndResults(t *testing.T) {
	b := setup(t)
	net, err := b.eng.CreateNetwork(b.ctx, b.testID)
	require.NoError(t, err)
	hostile := []string{"$(touch /x)", "; rm -rf /", `"double" 'single'`, "new\nline", "", "`id`", "a b\tc", "$HOME"}
	results := t.TempDir()
	c, err := b.eng.Run(b.ctx, containers.Spec{
		TestID: b.testID, Name: "sut", Image: b.image, Cmd: hostile, Network: net,
		Ports: []int{8080}, CPUSet: "0", Memory: 64 << 20, ResultsDir: results,
		Env: map[string]string{"GREETING": "$(whoami); echo"},
	})
	require.NoError(t, err)
	require.NoError(t, b.eng.WaitReady(b.ctx, c, containers.Readiness{Path: "/ready", Port: 8080, Timeout: 20 * time.Second}))

	res, err := http.Get("http://" + c.Ports[8080] + "/argv")
	require.NoError(t, err)
	var argv []string
	require.NoError(t, json.NewDecoder(res.Body).Decode(&argv))
	res.Body.Close()
	require.Equal(t, append([]string{"/echo"}, hostile...), argv)

	res, err = http.Get("http://" + c.Ports[8080] + "/write")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	data, err := os.ReadFile(filepath.Join(results, "results.csv"))
	require.NoError(t, err)
	require.Equal(t, "p50\n1\n", string(data))

	in, err := b.eng.Client().ContainerInspect(b.ctx, c.ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	require.Equal(t, "0", in.Container.HostConfig.CpusetCpus)
	require.Equal(t, int64(64<<20), in.Container.HostConfig.Memory)
	require.Equal(t, b.testID, in.Container.Config.Labels[containers.LabelTest])
	require.Contains(t, in.Container.Config.Env, "GREETING=$(whoami); echo")
}

func TestServiceNeverReadyFailsWithItsLogs(t *testing.T) {
	b := setup(t)
	net, err := b.eng.CreateNetwork(b.ctx, b.testID)
	require.NoError(t, err)
	c, err := b.eng.Run(b.ctx, containers.Spec{TestID: b.testID, Name: "stuck", Image: b.image,
		Ports: []int{8080}, Network: net, Env: map[string]string{"NEVER_READY": "1"}})
	require.NoError(t, err)
	err = b.eng.WaitReady(b.ctx, c, containers.Readiness{Path: "/ready", Port: 8080, Timeout: 2 * time.Second})
	var nr *containers.NotReadyError
	require.ErrorAs(t, err, &nr)
	require.Equal(t, "stuck", nr.Name)
	require.Contains(t, nr.Cause, "not ready after 2s")
	require.Contains(t, nr.Logs, "not ready yet")
	require.Contains(t, nr.Logs, "listening on :8080")
}

func TestReadinessByCommand(t *testing.T) {
	b := setup(t)
	c, err := b.eng.Run(b.ctx, containers.Spec{TestID: b.testID, Name: "svc", Image: b.image})
	require.NoError(t, err)
	require.NoError(t, b.eng.WaitReady(b.ctx, c, containers.Readiness{Command: []string{"/echo", "exit", "0"}, Timeout: 10 * time.Second}))
	err = b.eng.WaitReady(b.ctx, c, containers.Readiness{Command: []string{"/echo", "exit", "3"}, Timeout: 2 * time.Second})
	var nr *containers.NotReadyError
	require.ErrorAs(t, err, &nr)
	require.Contains(t, nr.Cause, "exited with code 3")
}

func TestLogsStreamWithContainerNameAndExitCode(t *testing.T) {
	b := setup(t)
	c, err := b.eng.Run(b.ctx, containers.Spec{TestID: b.testID, Name: "loadgen", Image: b.image,
		Cmd: []string{"exit", "7"}})
	require.NoError(t, err)
	var lines []containers.Line
	require.NoError(t, b.eng.Follow(b.ctx, c, func(l containers.Line) { lines = append(lines, l) }))
	code, err := b.eng.Wait(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, int64(7), code)
	require.Equal(t, []containers.Line{
		{Container: "loadgen", Stream: "stdout", Text: `argv ["/echo" "exit" "7"]`},
		{Container: "loadgen", Stream: "stderr", Text: "to stderr: starting"},
	}, sortByStream(lines))
}

func sortByStream(ls []containers.Line) []containers.Line {
	var out []containers.Line
	for _, s := range []string{"stdout", "stderr"} {
		for _, l := range ls {
			if l.Stream == s {
				out = append(out, l)
			}
		}
	}
	return out
}

func TestStatsOfABusyContainer(t *testing.T) {
	b := setup(t)
	busy, err := b.eng.Run(b.ctx, containers.Spec{TestID: b.testID, Name: "busy", Image: b.image,
		Env: map[string]string{"BUSY": "1"}, NanoCPUs: 5e8})
	require.NoError(t, err)
	idle, err := b.eng.Run(b.ctx, containers.Spec{TestID: b.testID, Name: "idle", Image: b.image})
	require.NoError(t, err)
	w := b.eng.Watch(b.ctx, map[string]string{"busy": busy.ID, "idle": idle.ID})
	defer w.Close()
	got := map[string]containers.Sample{}
	deadline := time.Now().Add(15 * time.Second)
	for len(got) < 2 || got["busy"].ThrottledNs == 0 {
		require.True(t, time.Now().Before(deadline), "samples so far: %+v", got)
		time.Sleep(500 * time.Millisecond)
		for _, s := range w.Fresh() {
			got[s.Container] = s
		}
	}
	t.Logf("busy: %+v", got["busy"])
	t.Logf("idle: %+v", got["idle"])
	// Busy against idle, not a speed: a loop limited to half a CPU gets
	// 50% on a quiet machine and was seen at 19.6% at a load average of 30.
	require.Greater(t, got["busy"].CPUPercent, 5.0)
	require.LessOrEqual(t, got["busy"].CPUPercent, 80.0, "limited to half a CPU")
	require.Less(t, got["idle"].CPUPercent, 5.0)
	require.Greater(t, got["busy"].MemoryBytes, uint64(0))
	require.Greater(t, got["idle"].MemoryBytes, uint64(0))

	// The sampler hands over each container's fresh sample at the interval.
	ctx, cancel := context.WithTimeout(b.ctx, 2500*time.Millisecond)
	defer cancel()
	var rounds [][]containers.Sample
	w.Every(ctx, time.Second, func(s []containers.Sample) { rounds = append(rounds, s) })
	require.NotEmpty(t, rounds)
	for _, r := range rounds {
		require.LessOrEqual(t, len(r), 2)
	}
}

func TestRemoveAndSweepLeaveNothing(t *testing.T) {
	b := setup(t)
	dead, alive := newID(), newID()
	for _, id := range []string{dead, alive} {
		net, err := b.eng.CreateNetwork(b.ctx, id)
		require.NoError(t, err)
		for _, name := range []string{"a", "b"} {
			_, err := b.eng.Run(b.ctx, containers.Spec{TestID: id, Name: name, Image: b.image, Network: net})
			require.NoError(t, err)
		}
	}
	t.Cleanup(func() { _ = b.eng.Remove(context.Background(), alive); _ = b.eng.Remove(context.Background(), dead) })
	cs, ns := b.labelled(t, dead)
	require.Equal(t, [2]int{2, 1}, [2]int{cs, ns})

	swept, err := b.eng.Sweep(b.ctx, func(id string) bool { return id != dead })
	require.NoError(t, err)
	require.Equal(t, []string{dead}, swept)
	cs, ns = b.labelled(t, dead)
	require.Equal(t, [2]int{0, 0}, [2]int{cs, ns}, "the dead test's resources remain")
	cs, ns = b.labelled(t, alive)
	require.Equal(t, [2]int{2, 1}, [2]int{cs, ns}, "the running test's resources were swept")

	require.NoError(t, b.eng.Remove(b.ctx, alive))
	cs, ns = b.labelled(t, alive)
	require.Equal(t, [2]int{0, 0}, [2]int{cs, ns})
}

func TestSecondBuildOfACommitReusesItsImage(t *testing.T) {
	b := setup(t)
	spec := containers.BuildSpec{Repo: "Echo Build", Commit: "0123abcd" + b.testID, ContextDir: echoDir}
	first, err := b.eng.Build(b.ctx, spec)
	require.NoError(t, err)
	require.False(t, first.Reused)
	require.Contains(t, first.Log, "Successfully tagged "+first.Image)
	require.True(t, strings.HasPrefix(first.Image, "pitwall/echo-build:0123abcd"+b.testID+"-"), first.Image)

	second, err := b.eng.Build(b.ctx, spec)
	require.NoError(t, err)
	require.True(t, second.Reused)
	require.Equal(t, first.Image, second.Image)

	spec.Commit += "next" // another commit, same files: the engine's layer cache
	third, err := b.eng.Build(b.ctx, spec)
	require.NoError(t, err)
	require.False(t, third.Reused)
	require.Contains(t, third.Log, "Using cache")
	t.Logf("first build %s, second build of the same commit %s (reused), another commit with the same files %s (layer cache)",
		first.Duration, second.Duration, third.Duration)

	_, err = b.eng.Run(b.ctx, containers.Spec{TestID: b.testID, Name: "user", Image: b.image})
	require.NoError(t, err)
	removed, err := b.eng.PruneImages(b.ctx, 0, time.Nanosecond)
	require.NoError(t, err)
	require.NotContains(t, removed, b.image, "an image in use was pruned")
	require.Contains(t, removed, first.Image)
	require.Contains(t, removed, third.Image)
	ok, err := b.eng.ImageExists(b.ctx, first.Image)
	require.NoError(t, err)
	require.False(t, ok)
}
