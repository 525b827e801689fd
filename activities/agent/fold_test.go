package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/workflows/contract"
)

// An Execute that carries the Setup and the last Collect sets the test up,
// runs the script, collects, uploads and cleans up in one task; a retry
// (its answer lost) gets the same result back and sends nothing twice.
func TestExecuteFoldsSetupAndLastCollect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	files := b.countingServer(t)
	script := "#!/bin/sh\necho 'Latency, 7ms' > results.csv\necho hi > notes.txt\n"
	in := contract.ExecuteInput{TestID: 61, Framework: "fw", Args: framework.ArgsPositional, Timeout: time.Minute, Name: "script",
		Setup:   &contract.SetupInput{TestID: 61, Script: script},
		Collect: &contract.CollectInput{TestID: 61, StopMonitor: true, Upload: true, Cleanup: true}}
	first := b.execute(t, in)
	require.Zero(t, first.ExitCode)
	require.NotNil(t, first.Setup, "the Execute set the test up")
	require.Equal(t, b.acts.testDir(61), first.Setup.Dir)
	require.Equal(t, fileDigest(script), first.Setup.ScriptSHA256)
	require.False(t, first.Setup.Done.IsZero())
	require.NotNil(t, first.Collected, "and collected")
	require.Equal(t, "Latency", first.Collected.KPIs[0].Name)
	require.Equal(t, 2, first.Collected.Upload.Files, "results.csv and notes.txt")
	require.Equal(t, int32(2), files.Load())
	_, err := os.Stat(first.Setup.Dir)
	require.ErrorIs(t, err, os.ErrNotExist, "the test's directory is gone")

	again := b.execute(t, in)
	require.Equal(t, first.Collected.KPIs, again.Collected.KPIs)
	require.Equal(t, first.StartedAt, again.StartedAt, "the same run, not a second one")
	require.Equal(t, int32(2), files.Load(), "a retry sends nothing twice")
}

// A folded Setup that fails says so as the setup's error, with its message.
func TestExecuteFoldedSetupFailureIsTheSetups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in := contract.ExecuteInput{TestID: 62, Framework: "fw", Timeout: time.Minute, Name: "script",
		Setup: &contract.SetupInput{TestID: 62, ScriptPath: "/nonexistent/run.sh"}}
	_, err := b.env.ExecuteActivity(b.acts.Execute, in)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, contract.ErrSetup, app.Type())
	require.True(t, app.NonRetryable(), "a missing script stays missing")
	require.Equal(t, "script /nonexistent/run.sh does not exist on agent bench-01", app.Message())
}

// fileDigest is the hex SHA-256 of content, as Setup fingerprints a script.
func fileDigest(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// An Execute that also carries the host's Monitor samples from before the
// setup until its Collect stops it, ships every sample before it answers,
// and answers with the Monitor's result; a retry gets the same back.
func TestExecuteFoldsTheMonitor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var batches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ingest.SamplesPath {
			batches.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	b.acts.Ingest = &ingest.Client{Server: srv.URL}
	in := contract.ExecuteInput{TestID: 63, Framework: "fw", Args: framework.ArgsPositional, Timeout: time.Minute, Name: "script",
		Setup:   &contract.SetupInput{TestID: 63, Script: "#!/bin/sh\nsleep 0.5\necho 'Latency, 7ms' > results.csv\n"},
		Collect: &contract.CollectInput{TestID: 63, StopMonitor: true, Upload: true, Cleanup: true},
		Monitor: &contract.MonitorInput{TestID: 63, Interval: 100 * time.Millisecond, ExecutionHost: true}}
	first := b.execute(t, in)
	require.Zero(t, first.ExitCode)
	require.NotNil(t, first.Collected)
	require.NotNil(t, first.Monitor, "the Execute answers for its monitor")
	require.GreaterOrEqual(t, first.Monitor.Samples, 5, "sampled every 100 ms through a run of 0.5 s")
	require.Positive(t, first.Monitor.Points)
	require.Positive(t, batches.Load(), "the samples reached the server before the answer")
	b.acts.state.with(63, func(ts *testState) { require.Nil(t, ts.monitor, "the monitor is not running any more") })

	again := b.execute(t, in)
	require.Equal(t, first.Monitor, again.Monitor, "a retry gets the same answer, no second monitor")
}
