package containers_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/containers"
)

// BenchmarkContainerStats measures what watching containers costs: the CPU
// this process spends per container per sample decoding the Engine's stats
// streams (one per container, kept open), and dockerd's CPU over the same
// time; then, in the same run, the wall and CPU time of
// `docker stats --no-stream` for the same containers. One iteration is one
// round of samples (the stream gives one a second), so run it with
// -benchtime=Nx, e.g. -benchtime=10x.
func BenchmarkContainerStats(b *testing.B) {
	bd := setupB(b)
	const n = 4
	cs := map[string]string{}
	var ids []string
	for i := range n {
		env := map[string]string{}
		if i == 0 {
			env["BUSY"] = "1"
		}
		c, err := bd.eng.Run(bd.ctx, containers.Spec{TestID: bd.testID, Name: "c" + strconv.Itoa(i),
			Image: bd.image, Env: env, NanoCPUs: 2.5e8})
		require.NoError(b, err)
		cs[c.Name] = c.ID
		ids = append(ids, c.ID)
	}
	w := bd.eng.Watch(bd.ctx, cs)
	defer w.Close()
	for w.Decoded() < 2*n { // the first records carry no previous CPU figures
		time.Sleep(50 * time.Millisecond)
	}
	dpid := docker.PID()
	b.ResetTimer()
	cpu0, d0, dec0 := selfCPU(), procCPU(dpid), w.Decoded()
	for i := range b.N {
		for w.Decoded() < dec0+(i+1)*n {
			<-w.Updated()
		}
	}
	cpu1, d1, dec1 := selfCPU(), procCPU(dpid), w.Decoded()
	b.StopTimer()
	samples := float64(dec1 - dec0)
	ours := float64((cpu1 - cpu0).Microseconds()) / samples
	theirs := float64((d1 - d0).Microseconds()) / samples
	b.ReportMetric(ours, "µs-cpu/container-sample")
	b.ReportMetric(theirs, "µs-dockerd-cpu/container-sample")

	// docker stats --no-stream for the same containers, three times.
	const runs = 3
	var wall, cli, engine time.Duration
	for range runs {
		d0 := procCPU(dpid)
		start := time.Now()
		cmd := exec.Command("docker", append([]string{"-H", docker.Host(), "stats", "--no-stream"}, ids...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, "%s", out)
		wall += time.Since(start)
		cli += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		engine += procCPU(dpid) - d0
	}
	per := float64(runs * n)
	b.ReportMetric(float64(wall.Microseconds())/runs, "µs-wall/docker-stats-no-stream")
	b.ReportMetric(float64(cli.Microseconds())/per, "µs-cli-cpu/docker-stats-container")
	b.ReportMetric(float64(engine.Microseconds())/per, "µs-dockerd-cpu/docker-stats-container")
	b.Logf("%d containers, %.0f samples: our watcher %.0f µs CPU per container per sample (dockerd %.0f µs); "+
		"docker stats --no-stream: %s wall per call, CLI %.0f µs CPU per container (dockerd %.0f µs)",
		n, samples, ours, theirs, wall/runs, float64(cli.Microseconds())/per, float64(engine.Microseconds())/per)
}

func setupB(b *testing.B) *bundle {
	b.Helper()
	docker.Require(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	eng, err := containers.Connect(ctx, docker.Host())
	require.NoError(b, err)
	b.Cleanup(func() { eng.Close() })
	built, err := eng.Build(ctx, containers.BuildSpec{Repo: "echo", Commit: "shared", ContextDir: echoDir})
	require.NoError(b, err)
	bd := &bundle{ctx: ctx, eng: eng, image: built.Image, testID: newID()}
	b.Cleanup(func() { _ = eng.Remove(context.Background(), bd.testID) })
	return bd
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is a process's user+system CPU time from /proc (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// BenchmarkStatsRecordDecode is the part of a sample's cost that is ours
// alone: decoding one real stats record of this engine and converting it.
func BenchmarkStatsRecordDecode(b *testing.B) {
	bd := setupB(b)
	c, err := bd.eng.Run(bd.ctx, containers.Spec{TestID: bd.testID, Name: "c", Image: bd.image})
	require.NoError(b, err)
	res, err := bd.eng.Client().ContainerStats(bd.ctx, c.ID, client.ContainerStatsOptions{Stream: true})
	require.NoError(b, err)
	dec := json.NewDecoder(res.Body)
	var raw json.RawMessage
	for range 2 { // the second record has the previous CPU figures
		require.NoError(b, dec.Decode(&raw))
	}
	res.Body.Close()
	for b.Loop() {
		var s container.StatsResponse
		if err := json.Unmarshal(raw, &s); err != nil {
			b.Fatal(err)
		}
		if _, ok := containers.FromStats("c", &s); !ok {
			b.Fatal("no CPU figures")
		}
	}
	b.ReportMetric(float64(len(raw)), "record-bytes")
}
