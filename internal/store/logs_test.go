package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/wire"
)

// logCap is a cap for tests, with a marker that shows its count plainly.
func logCap(lines, bytes int64) LogCap {
	return LogCap{Lines: lines, Bytes: bytes, Notices: 2,
		Marker: func(n int64) string { return fmt.Sprintf("[pitwall] %d dropped", n) }}
}

// logSetup returns the store, a test of its own, and a function that
// ingests a batch under c and fails the test on an error.
func logSetup(t *testing.T, c LogCap) (*Store, int64, func(*ingest.Logs) LogWritten) {
	t.Helper()
	s, test := setup(t)
	return s, test, func(b *ingest.Logs) LogWritten {
		t.Helper()
		w, err := s.LogIngest(context.Background(), b, c)
		require.NoError(t, err)
		return w
	}
}

// logBatch is batch id of test with n stdout lines named id-0, id-1, ...
// logBase is the lines' first time: now, as an agent's lines are (reads
// look for a test's lines around its life, store.logSlack).
var logBase = time.Now().UnixMilli()

func logBatch(test int64, id string, n int) *ingest.Logs {
	b := &ingest.Logs{Header: ingest.Header{TestID: test, Host: "h", Batch: id}}
	for i := range n {
		b.Lines = append(b.Lines, ingest.Line{TS: logBase + int64(i), Stream: "stdout", Text: fmt.Sprintf("%s-%d", id, i)})
	}
	return b
}

// logAll reads every line of a test's log.
func logAll(t *testing.T, s *Store, test int64) []wire.LogLine {
	t.Helper()
	lines, err := s.LogList(context.Background(), test, 0, 1_000_000)
	require.NoError(t, err)
	return lines
}

func texts(lines []wire.LogLine) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Stream + ": " + l.Line
	}
	return out
}

func testNotes(t *testing.T, test int64) []string {
	t.Helper()
	var notes []string
	require.NoError(t, testPool.QueryRow(context.Background(),
		`SELECT coalesce(array_agg(note ORDER BY source, seq), '{}') FROM test_notes WHERE test_id = $1`, test).Scan(&notes))
	return notes
}

// A test capped at 10 lines gets 25 in three batches, one of them twice:
// the first 10 are kept, then one marker counts the 15 dropped; the batch
// sent again changes nothing.
func TestLogIngestCapsLines(t *testing.T) {
	t.Parallel()
	s, test, send := logSetup(t, logCap(10, 1<<20))
	require.Equal(t, LogWritten{Fresh: true, Written: 8}, send(logBatch(test, "a", 8)))
	require.Equal(t, LogWritten{Fresh: true, Written: 2, Dropped: 7}, send(logBatch(test, "b", 9)))
	require.Equal(t, LogWritten{}, send(logBatch(test, "b", 9)), "a batch sent again is not counted again")
	require.Equal(t, LogWritten{Fresh: true, Dropped: 8}, send(logBatch(test, "c", 8)))

	want := []string{}
	for i := range 8 {
		want = append(want, fmt.Sprintf("stdout: a-%d", i))
	}
	want = append(want, "stdout: b-0", "stdout: b-1", "pitwall: [pitwall] 15 dropped")
	lines := logAll(t, s, test)
	require.Equal(t, want, texts(lines))
	require.Equal(t, logBase+2, lines[10].TS.UnixMilli(), "the marker has the time of the first line dropped")
	require.Equal(t, []string{"[pitwall] 15 dropped"}, testNotes(t, test))
}

// The byte cap counts the bytes of line text; once a line is dropped, the
// test's later output is dropped too, even lines that would still fit.
func TestLogIngestCapsBytes(t *testing.T) {
	t.Parallel()
	s, test, send := logSetup(t, logCap(1000, 100))
	line := func(text string) ingest.Line { return ingest.Line{TS: logBase, Stream: "stderr", Text: text} }
	b := &ingest.Logs{Header: ingest.Header{TestID: test, Host: "h", Batch: "1"}, Lines: []ingest.Line{
		line(strings.Repeat("x", 30)), line(strings.Repeat("é", 15)), line(strings.Repeat("y", 40)), // 100 bytes
		line("z"), // 101: over
	}}
	require.Equal(t, LogWritten{Fresh: true, Written: 3, Dropped: 1}, send(b))
	require.Equal(t, LogWritten{Fresh: true, Dropped: 2}, send(&ingest.Logs{Header: ingest.Header{TestID: test, Host: "h", Batch: "2"},
		Lines: []ingest.Line{line(""), line("after")}}), "nothing after the first line dropped is kept")

	lines := logAll(t, s, test)
	require.Len(t, lines, 4)
	require.Equal(t, "pitwall: [pitwall] 3 dropped", texts(lines)[3])
	stored := 0
	for _, l := range lines[:3] {
		stored += len(l.Line)
	}
	require.Equal(t, 100, stored)
}

// The agent's own markers (stream pitwall) are kept past the lines cap, up
// to their allowance, and count against the bytes cap.
func TestLogIngestKeepsAgentMarkersPastTheCap(t *testing.T) {
	t.Parallel()
	s, test, send := logSetup(t, logCap(3, 1<<20))
	send(logBatch(test, "a", 5))
	notice := func(test int64, batch string) *ingest.Logs {
		return &ingest.Logs{Header: ingest.Header{TestID: test, Host: "h", Batch: batch},
			Lines: []ingest.Line{{TS: logBase + 1, Stream: ingest.StreamPitwall, Text: "[pitwall] agent " + batch}}}
	}
	for _, b := range []string{"n1", "n2", "n3"} {
		send(notice(test, b))
	}
	require.Equal(t, []string{"stdout: a-0", "stdout: a-1", "stdout: a-2", "pitwall: [pitwall] 3 dropped",
		"pitwall: [pitwall] agent n1", "pitwall: [pitwall] agent n2"}, texts(logAll(t, s, test)),
		"two notices fit the allowance; the third is counted as dropped")

	_, test2, send2 := logSetup(t, logCap(3, 5))
	send2(notice(test2, "n"))
	require.Equal(t, []string{"pitwall: [pitwall] 1 dropped"}, texts(logAll(t, s, test2)), "a notice over the bytes cap is dropped")
}

// Batches of one test sent at once, each twice, keep exactly the cap
// between them.
func TestLogIngestCapHoldsUnderConcurrentBatches(t *testing.T) {
	t.Parallel()
	s, test := setup(t)
	const batches, size, limit = 40, 10, 45
	c := logCap(limit, 1<<20)
	var (
		wg                      sync.WaitGroup
		mu                      sync.Mutex
		fresh, written, dropped int
		errs                    []error
	)
	for i := range 2 * batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := s.LogIngest(context.Background(), logBatch(test, fmt.Sprint(i%batches), size), c)
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
			if w.Fresh {
				fresh++
			}
			written += w.Written
			dropped += w.Dropped
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, batches, fresh, "each batch is written once")
	require.Equal(t, limit, written)
	require.Equal(t, batches*size-limit, dropped)

	lines := logAll(t, s, test)
	require.Len(t, lines, limit+1)
	marker := lines[len(lines)-1]
	require.Equal(t, ingest.StreamPitwall, marker.Stream)
	require.Equal(t, fmt.Sprintf("[pitwall] %d dropped", batches*size-limit), marker.Line)
	for _, l := range lines[:limit] {
		require.Equal(t, "stdout", l.Stream)
	}
}
