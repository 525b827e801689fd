package agent

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/profiles"
	"github.com/pitwall/pitwall/workflows/contract"
)

// artifactSink is an ingest server that keeps the artifacts posted to it.
type artifactSink struct {
	mu    sync.Mutex
	files map[string][]byte
}

func newArtifactSink(t *testing.T) (*artifactSink, *ingest.Client) {
	s := &artifactSink{files: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.files[r.URL.Query().Get("path")] = b
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return s, &ingest.Client{Server: srv.URL}
}

func profilerSetFor(a *Activities, in contract.ExecuteInput) *profilerSet {
	r := &scriptRun{in: in, logName: "script", tag: "script", id: "x"}
	return &profilerSet{a: a, r: r, ended: make(chan struct{}), cancel: func() {}, procs: map[*exec.Cmd]bool{},
		dir: filepath.Join(a.runsDir(in.TestID), "profiles-x")}
}

//go:noinline
func burn(stop <-chan struct{}) (n uint64) {
	for {
		select {
		case <-stop:
			return n
		default:
		}
		for i := 0; i < 100000; i++ {
			n += uint64(i) ^ n>>1
		}
	}
}

// The pprof profiler fetches a Go service's CPU profile for its duration
// and keeps it as an artifact that pprof reads back.
func TestPprofProfilerFetchesAServiceProfile(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/not-pprof", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) })
	svc := httptest.NewServer(mux)
	defer svc.Close()
	stop := make(chan struct{})
	go burn(stop)
	defer close(stop)

	sink, client := newArtifactSink(t)
	a := &Activities{Host: "h", Ingest: client}
	ps := profilerSetFor(a, contract.ExecuteInput{TestID: 7, ServiceEnv: []string{"PITWALL_SERVICE_APP_URL=" + svc.URL}})
	p := framework.Profiler{Name: "pprof", Kind: framework.ProfilerPprof, Target: "service:app",
		Path: framework.DefaultPprofPath, Duration: framework.Duration(time.Second)}
	ps.fetchPprof(context.Background(), p)
	require.Empty(t, ps.report.Notes)
	raw := sink.files["profiles/script/pprof.pb.gz"]
	require.NotEmpty(t, raw)
	prof, err := profile.Parse(bytes.NewReader(raw))
	require.NoError(t, err)
	require.NotNil(t, profiles.Tree(prof).Find("github.com/pitwall/pitwall/activities/agent.burn"), "the busy function is in the service's profile")
	require.Equal(t, "pprof.samples", ps.report.KPIs[0].Name)

	p.Name, p.Path = "bad", "/not-pprof"
	ps.fetchPprof(context.Background(), p)
	require.Len(t, ps.report.Notes, 1)
	require.Contains(t, ps.report.Notes[0], "is not a pprof profile")

	p.Name, p.Target = "gone", "service:db"
	ps.fetchPprof(context.Background(), p)
	require.Contains(t, ps.report.Notes[1], "service db has no address")
}

// Profilers' command lines come from the validated framework and numbers
// only, as argv (never a shell line).
func TestProfilerArgv(t *testing.T) {
	t.Parallel()
	perf := framework.Profiler{Kind: framework.ProfilerPerf, Frequency: 99}
	require.Equal(t, []string{"perf", "record", "-F", "99", "-g", "--no-buildid", "--no-buildid-cache", "-o", "/o", "-p", "1,2"},
		profilerArgv(perf, "1,2", "/o"))
	require.Equal(t, "-a", profilerArgv(perf, "", "/o")[9], "the host: every CPU")
	stat := framework.Profiler{Kind: framework.ProfilerPerfStat, Events: []string{"task-clock"}}
	require.Equal(t, []string{"perf", "stat", "-x,", "-o", "/o", "-e", "task-clock", "-p", "5"}, profilerArgv(stat, "5", "/o"))
	require.Equal(t, []string{"strace", "-c", "-f", "-q", "-p", "5", "-p", "6"},
		profilerArgv(framework.Profiler{Kind: framework.ProfilerStrace}, "5,6", "/o"))
}

// The KPIs the profilers of a script run leave join its Collect's (a
// results.csv line of the same name wins), a hook's Execute leaves them,
// and the next script run's Execute clears them.
func TestProfilerKPIsReachCollect(t *testing.T) {
	t.Parallel()
	a := &Activities{Host: "h", WorkDir: t.TempDir()}
	require.NoError(t, os.MkdirAll(a.runsDir(3), 0o700))
	ps := profilerSetFor(a, contract.ExecuteInput{TestID: 3})
	ps.kpi(profiles.KPI{Name: "perf-stat.task-clock", Value: 12.5, Unit: "ms"})
	ps.kpi(profiles.KPI{Name: "Rate", Value: 1})
	ps.note("profiler perf-stat: this host cannot count cycles not supported")
	ps.finish()

	res := &contract.CollectResult{KPIs: []contract.KPI{{Name: "Rate", Value: 99}}}
	a.addProfilerKPIs(3, res)
	require.Equal(t, []contract.KPI{{Name: "Rate", Value: 99},
		{Name: "perf-stat.task-clock", Value: 12.5, Unit: "ms", Raw: "12.5ms"}}, res.KPIs)
	require.Equal(t, []string{"profiler perf-stat: this host cannot count cycles not supported"}, res.Notes)

	hook := &scriptRun{in: contract.ExecuteInput{TestID: 3}, logName: "after_run"}
	require.Nil(t, a.startProfilers(context.Background(), hook))
	again := &contract.CollectResult{}
	a.addProfilerKPIs(3, again)
	require.Len(t, again.KPIs, 2, "a hook leaves the script's profiler KPIs for its Collect")

	next := &scriptRun{in: contract.ExecuteInput{TestID: 3}, logName: "script"}
	require.Nil(t, a.startProfilers(context.Background(), next))
	none := &contract.CollectResult{}
	a.addProfilerKPIs(3, none)
	require.Empty(t, none.KPIs, "the next script run starts afresh")
}
