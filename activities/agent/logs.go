package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pitwall/pitwall/internal/ingest"
)

// Limits of log shipping.
const (
	logPoll       = 150 * time.Millisecond
	logBatchLines = 5000
	logBatchBytes = 1 << 20
	maxLineBytes  = 64 << 10
)

// logFile is one output stream being followed.
type logFile struct {
	f       *os.File
	stream  string
	partial []byte
}

// logShipper follows a script's output files as they grow and sends their
// lines, time-stamped, to the server. The files are the buffer: the script
// never waits for the shipper, and a server that is down only delays lines.
type logShipper struct {
	a      *Activities
	testID int64
	// batches names this run's batches: the hook or script and its
	// iteration, so every iteration's lines count as new.
	batches string
	files   []*logFile
	seq     int
	batch   []ingest.Line
	size    int
	buf     []byte
}

func (a *Activities) newLogShipper(testID int64, prefix, batches string, paths map[string]string) (*logShipper, error) {
	s := &logShipper{a: a, testID: testID, batches: batches, buf: make([]byte, 256<<10)}
	for _, stream := range []string{"stdout", "stderr"} {
		f, err := os.Open(paths[stream])
		if err != nil {
			s.close()
			return nil, err
		}
		s.files = append(s.files, &logFile{f: f, stream: prefixed(prefix, stream)})
	}
	return s, nil
}

func prefixed(prefix, stream string) string {
	if prefix == "" {
		return stream
	}
	return prefix + "." + stream
}

// run follows the files until done closes, then ships what is left.
func (s *logShipper) run(ctx context.Context, done <-chan struct{}) {
	defer s.close()
	tick := time.NewTicker(logPoll)
	defer tick.Stop()
	for {
		select {
		case <-done:
			s.poll(ctx, true)
			s.flush(ctx)
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			s.poll(ctx, false)
			s.flush(ctx)
		}
	}
}

func (s *logShipper) poll(ctx context.Context, final bool) {
	now := time.Now().UnixMilli()
	for _, lf := range s.files {
		for {
			n, err := lf.f.Read(s.buf)
			if n > 0 {
				s.split(ctx, lf, s.buf[:n], now)
			}
			if n == 0 || err == io.EOF || err != nil {
				break
			}
		}
		if final && len(lf.partial) > 0 {
			s.add(ctx, lf.stream, lf.partial, now)
			lf.partial = nil
		}
	}
}

func (s *logShipper) split(ctx context.Context, lf *logFile, data []byte, now int64) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lf.partial = append(lf.partial, data...)
			if len(lf.partial) >= maxLineBytes {
				s.add(ctx, lf.stream, lf.partial, now)
				lf.partial = lf.partial[:0]
			}
			return
		}
		line := data[:i]
		if len(lf.partial) > 0 {
			line = append(lf.partial, line...)
			lf.partial = lf.partial[:0]
		}
		s.add(ctx, lf.stream, line, now)
		data = data[i+1:]
	}
}

// add queues one line, or counts it as dropped past the test's cap.
func (s *logShipper) add(ctx context.Context, stream string, line []byte, now int64) {
	if !s.a.logBudget(s.testID) {
		return
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > maxLineBytes {
		line = append(line[:maxLineBytes:maxLineBytes], "…[line truncated]"...)
	}
	text := string(bytes.ToValidUTF8(line, []byte("\uFFFD")))
	s.batch = append(s.batch, ingest.Line{TS: now, Stream: stream, Text: text})
	s.size += len(text) + 32
	if len(s.batch) >= logBatchLines || s.size >= logBatchBytes {
		s.flush(ctx)
	}
}

func (s *logShipper) flush(ctx context.Context) {
	if len(s.batch) == 0 {
		return
	}
	s.seq++
	b := ingest.Logs{Header: ingest.Header{TestID: s.testID, Host: s.a.Host, Batch: fmt.Sprintf("%s-%d", s.batches, s.seq)}, Lines: s.batch}
	if err := s.a.Ingest.Send(ctx, ingest.LogsPath, b); err != nil && ctx.Err() == nil {
		s.a.logger().Warn("log batch refused", "test", s.testID, "error", err)
	}
	s.batch, s.size = nil, 0
}

func (s *logShipper) close() {
	for _, lf := range s.files {
		lf.f.Close()
	}
}

// logBudget counts a line against the test's cap; false when it is spent.
// The first line over the cap is replaced by a marker, sent at the end.
func (a *Activities) logBudget(testID int64) bool {
	limit := a.maxLogLines()
	ok := true
	a.state.with(testID, func(ts *testState) {
		if ts.logLines >= limit {
			ts.logDropped++
			ok = false
			return
		}
		ts.logLines++
	})
	return ok
}

// DefaultMaxLogLines is the per-test cap on stored output lines.
const DefaultMaxLogLines = ingest.DefaultMaxLines

// sendDropMarker tells the test's log how many lines the cap dropped.
func (a *Activities) sendDropMarker(ctx context.Context, testID int64, prefix string) {
	var dropped int
	a.state.with(testID, func(ts *testState) { dropped, ts.logDropped = ts.logDropped, 0 })
	if dropped == 0 {
		return
	}
	line := ingest.Line{TS: time.Now().UnixMilli(), Stream: ingest.StreamPitwall,
		Text: fmt.Sprintf("[pitwall] %d more output lines were dropped: the cap is %d lines per test", dropped, a.maxLogLines())}
	_ = a.Ingest.Send(ctx, ingest.LogsPath, ingest.Logs{Header: ingest.Header{TestID: testID, Host: a.Host, Batch: prefix + "-dropped"}, Lines: []ingest.Line{line}})
}

func (a *Activities) maxLogLines() int {
	if a.MaxLogLines <= 0 {
		return DefaultMaxLogLines
	}
	return a.MaxLogLines
}
