package agent

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os/exec"
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
	return &profilerSet{a: a, r: &scriptRun{in: in, logName: "script", tag: "script"}, ended: make(chan struct{}),
		cancel: func() {}, procs: map[*exec.Cmd]bool{}}
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
