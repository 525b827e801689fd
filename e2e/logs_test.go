package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

type logPage struct {
	wire.List[wire.LogLine]
	Ended bool   `json:"ended"`
	State string `json:"state"`
}

// Output reaches the server while the script runs, and `starter logs -f`
// follows it and ends when the test ends.
func TestLiveLogs(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: talks
execution:
  script: |
    #!/bin/sh
    for i in 1 2 3 4 5 6; do echo "line $i"; echo "warning $i" >&2; sleep 0.3; done
`)
	test := startTest(t, wire.RunRequest{Framework: "talks"})
	follow := exec.Command(filepath.Join(st.Bin, "starter"), "logs", fmt.Sprint(test.ID), "-f", "--server", st.URL, "--token", st.Token)
	var out bytes.Buffer
	follow.Stdout = &out
	require.NoError(t, follow.Start())

	// Some lines are stored before the script has ended.
	deadline := time.Now().Add(30 * time.Second)
	var live logPage
	for time.Now().Before(deadline) {
		st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/logs", test.ID), "", nil, &live)
		if len(live.Items) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NotEmpty(t, live.Items)
	require.False(t, live.Ended, "lines arrive while the test is still going")

	got := st.Wait(t, test.ID)
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		_ = follow.Process.Kill()
		t.Fatal("starter logs -f did not end after the test ended")
	}
	for i := 1; i <= 6; i++ {
		require.Contains(t, out.String(), fmt.Sprintf("line %d\n", i))
		require.Contains(t, out.String(), fmt.Sprintf("warning %d\n", i))
	}

	// Paging with the cursor returns every line once, with its stream.
	var all []wire.LogLine
	after := "0"
	for {
		var page logPage
		st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/logs?after=%s&limit=5", test.ID, after), "", nil, &page)
		all = append(all, page.Items...)
		if len(page.Items) == 0 {
			break
		}
		after = page.Next
	}
	require.Len(t, all, 12)
	streams := map[string]int{}
	for _, l := range all {
		streams[l.Stream]++
		require.False(t, l.TS.IsZero())
	}
	require.Equal(t, map[string]int{"stdout": 6, "stderr": 6}, streams)
}

// A 50 MB burst of output neither stalls the script nor floods the store:
// lines past the cap are counted and dropped with a marker line.
func TestOutputBurstIsCappedWithMarker(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: floods
execution:
  script: |
    #!/bin/sh
    head -c 50000000 /dev/zero | tr '\0' 'x' | fold -w 99
    echo "Done, 1" > results.csv
`)
	got := st.Run(t, wire.RunRequest{Framework: "floods"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	elapsed := stageAt(t, got, "script ended").Sub(stageAt(t, got, "script started"))
	require.Less(t, elapsed, 30*time.Second, "the script was not held up by its output")

	var n int
	require.NoError(t, st.Pool.QueryRow(t.Context(), `SELECT count(*) FROM test_logs WHERE test_id = $1 AND stream = 'stdout'`, got.ID).Scan(&n))
	require.Equal(t, maxLogLines, n)
	var marker string
	require.NoError(t, st.Pool.QueryRow(t.Context(), `SELECT line FROM test_logs WHERE test_id = $1 AND stream = 'pitwall'`, got.ID).Scan(&marker))
	// 50,000,000 bytes in lines of 99 bytes: 505,051 lines.
	require.Equal(t, fmt.Sprintf("[pitwall] %d more output lines were dropped: the cap is %d lines per test", 505051-maxLogLines, maxLogLines), marker)
	require.True(t, strings.HasPrefix(marker, "[pitwall]"))
}
