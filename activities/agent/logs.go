package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/supervise"
)

// Limits of log shipping.
const (
	logPoll = 150 * time.Millisecond
	// logPollQuiet is the longest wait between looks at a script's output
	// while it writes nothing: the wait doubles from logPoll after every
	// look that finds nothing, and is logPoll again once a look finds
	// some. A quiet script then costs a look a second, not seven.
	logPollQuiet  = time.Second
	logBatchLines = 5000
	logBatchBytes = 1 << 20
	maxLineBytes  = 64 << 10
)

// cursorFile, in a run's state directory, says how far the run's output
// has reached the server, so that a restarted agent ships on from there.
const cursorFile = "shipped.json"

// streams are a run's output files, in cursor order.
var streams = [2]string{"stdout", "stderr"}

// cursor is how far a run's output has been shipped. A batch is written
// down as pending before it is sent: a restarted agent sends exactly that
// batch again, under the same name, and the server keeps it once.
type cursor struct {
	// Seq numbers the last batch sent; Offsets are how far each stream's
	// file had been sent with it.
	Seq     int      `json:"seq"`
	Offsets [2]int64 `json:"offsets"`
	// Pending is the batch being sent: its number and the byte range of
	// each stream it holds.
	Pending *pendingBatch `json:"pending,omitempty"`
}

type pendingBatch struct {
	Seq  int      `json:"seq"`
	From [2]int64 `json:"from"`
	To   [2]int64 `json:"to"`
}

// logFile is one output stream being followed.
type logFile struct {
	f      *os.File
	stream string
	// partial is the start of a line not yet ended; queued is how far the
	// file's bytes are in a batch (sent or not), partial excluded.
	partial []byte
	queued  int64
}

// logShipper follows a run's output files as they grow and sends their
// lines, time-stamped, to the server. The files are the buffer: the script
// never waits for the shipper, and a server that is down only delays lines.
type logShipper struct {
	a      *Activities
	testID int64
	// name names this run's batches: unique among the test's runs.
	name  string
	state string
	files [2]*logFile
	cur   cursor
	batch []ingest.Line
	size  int
	buf   []byte
}

func (a *Activities) newLogShipper(testID int64, prefix string, r *scriptRun) (*logShipper, error) {
	s := &logShipper{a: a, testID: testID, name: r.id, state: r.state, buf: make([]byte, 256<<10)}
	if b, err := os.ReadFile(filepath.Join(r.state, cursorFile)); err == nil {
		_ = json.Unmarshal(b, &s.cur)
	}
	for i, name := range []string{supervise.StdoutFile, supervise.StderrFile} {
		f, err := os.Open(filepath.Join(r.state, name))
		if err != nil {
			s.close()
			return nil, err
		}
		s.files[i] = &logFile{f: f, stream: prefixed(prefix, streams[i]), queued: s.cur.Offsets[i]}
	}
	return s, nil
}

func prefixed(prefix, stream string) string {
	if prefix == "" {
		return stream
	}
	return prefix + "." + stream
}

// shipOutput streams the run's output to the server while it runs. The
// returned function says the run has ended and waits a while for its last
// lines to go out.
func (a *Activities) shipOutput(ctx context.Context, r *scriptRun) func() {
	if a.Ingest == nil {
		return func() {}
	}
	prefix := ""
	if r.logName != "script" {
		prefix = r.logName
	}
	ship, err := a.newLogShipper(r.in.TestID, prefix, r)
	if err != nil {
		a.logger().Warn("cannot follow the script's output", "test", r.in.TestID, "error", err)
		return func() {}
	}
	done, shipped := make(chan struct{}), make(chan struct{})
	go func() {
		// Detached from ctx: lines still go out if the activity ends first.
		ship.run(context.WithoutCancel(ctx), done)
		a.sendDropMarker(context.WithoutCancel(ctx), r.in.TestID, r.id)
		close(shipped)
	}()
	return func() {
		close(done)
		a.awaitDelivery(shipped, "output", r.in.TestID)
	}
}

// awaitDelivery waits up to logFlushWait for what is being sent to the
// server to get there; the test goes on after that, and so does the sending.
func (a *Activities) awaitDelivery(sent <-chan struct{}, what string, testID int64) {
	select {
	case <-sent:
	case <-time.After(logFlushWait):
		a.logger().Warn(what+" still being delivered; the test goes on", "test", testID)
	}
}

// run sends again a batch an earlier agent left pending, then follows the
// files from the cursor until done closes, then ships what is left.
func (s *logShipper) run(ctx context.Context, done <-chan struct{}) {
	defer s.close()
	s.resend(ctx)
	for i, lf := range s.files {
		if _, err := lf.f.Seek(s.cur.Offsets[i], io.SeekStart); err != nil {
			s.a.logger().Warn("cannot resume the script's output", "test", s.testID, "error", err)
			return
		}
	}
	// While the script writes, a timer wakes the shipper every logPoll;
	// once it is quiet (logPollQuiet), the agent's pulse does.
	wait := logPoll
	tick := time.NewTimer(wait)
	defer tick.Stop()
	pulses, stop := s.a.pulse.listen()
	defer stop()
	for {
		var timer <-chan time.Time
		var pulse <-chan struct{}
		if wait < logPollQuiet {
			timer = tick.C
		} else {
			pulse = pulses
		}
		select {
		case <-done:
			s.poll(ctx, true)
			s.flush(ctx)
			return
		case <-ctx.Done():
			return
		case <-timer:
		case <-pulse:
		}
		wait = nextPoll(wait, s.poll(ctx, false))
		s.flush(ctx)
		if wait < logPollQuiet {
			tick.Reset(wait)
		}
	}
}

// nextPoll is the wait before the next look at the output: logPoll after
// a look that read something, else twice the last wait up to logPollQuiet.
func nextPoll(last time.Duration, read bool) time.Duration {
	if read {
		return logPoll
	}
	return min(2*last, logPollQuiet)
}

// resend sends the batch a crashed agent wrote down as pending, rebuilt
// from the same bytes of the files.
func (s *logShipper) resend(ctx context.Context) {
	p := s.cur.Pending
	if p == nil {
		return
	}
	now := time.Now().UnixMilli()
	for i, lf := range s.files {
		data := make([]byte, max(p.To[i]-p.From[i], 0))
		n, _ := lf.f.ReadAt(data, p.From[i])
		lf.queued = p.From[i]
		s.split(ctx, lf, data[:n], now, false)
		if len(lf.partial) > 0 {
			s.add(ctx, lf, lf.partial, now)
		}
	}
	s.cur.Seq = p.Seq - 1
	s.cur.Offsets = p.From
	s.send(ctx)
}

// poll reads what the files gained and says whether there was anything.
func (s *logShipper) poll(ctx context.Context, final bool) bool {
	now := time.Now().UnixMilli()
	read := false
	for _, lf := range s.files {
		for {
			n, err := lf.f.Read(s.buf)
			if n > 0 {
				read = true
				s.split(ctx, lf, s.buf[:n], now, true)
			}
			if n == 0 || err != nil {
				break
			}
		}
		if final && len(lf.partial) > 0 {
			s.add(ctx, lf, lf.partial, now)
		}
	}
	return read
}

// split queues the whole lines of data; the rest waits in partial for
// the next read. flush says whether a full batch is sent at once.
func (s *logShipper) split(ctx context.Context, lf *logFile, data []byte, now int64, flush bool) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lf.partial = append(lf.partial, data...)
			if len(lf.partial) >= maxLineBytes {
				s.add(ctx, lf, lf.partial, now)
			}
			return
		}
		line := data[:i]
		if len(lf.partial) > 0 {
			line = append(lf.partial, line...)
		}
		lf.partial = lf.partial[:0]
		lf.queued += int64(len(line)) + 1
		s.queue(lf.stream, line, now)
		data = data[i+1:]
		if flush && (len(s.batch) >= logBatchLines || s.size >= logBatchBytes) {
			s.flush(ctx)
		}
	}
}

// add queues a line that has no newline (yet): a cut long line or the end.
func (s *logShipper) add(ctx context.Context, lf *logFile, line []byte, now int64) {
	lf.queued += int64(len(line))
	s.queue(lf.stream, line, now)
	lf.partial = lf.partial[:0]
}

// queue adds one line to the batch, or counts it as dropped past the
// test's cap.
func (s *logShipper) queue(stream string, line []byte, now int64) {
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
}

// flush writes the batch down as pending, sends it, and moves the cursor.
func (s *logShipper) flush(ctx context.Context) {
	to := [2]int64{s.files[0].queued, s.files[1].queued}
	if to == s.cur.Offsets {
		return
	}
	s.cur.Pending = &pendingBatch{Seq: s.cur.Seq + 1, From: s.cur.Offsets, To: to}
	s.saveCursor()
	s.send(ctx)
}

// send sends the pending batch (lines past the cap may leave it empty)
// and records it as sent.
func (s *logShipper) send(ctx context.Context) {
	p := s.cur.Pending
	if len(s.batch) > 0 {
		b := ingest.Logs{Header: ingest.Header{TestID: s.testID, Host: s.a.Host, Batch: fmt.Sprintf("%s-%d", s.name, p.Seq)}, Lines: s.batch}
		if err := s.a.Ingest.Send(ctx, ingest.LogsPath, b); err != nil && ctx.Err() == nil {
			s.a.logger().Warn("log batch refused", "test", s.testID, "error", err)
		}
	}
	s.cur = cursor{Seq: p.Seq, Offsets: p.To}
	s.saveCursor()
	s.batch, s.size = nil, 0
}

func (s *logShipper) saveCursor() {
	b, _ := json.Marshal(s.cur)
	tmp := filepath.Join(s.state, "."+cursorFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		_ = os.Rename(tmp, filepath.Join(s.state, cursorFile))
	}
}

func (s *logShipper) close() {
	for _, lf := range s.files {
		if lf != nil {
			lf.f.Close()
		}
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
