package agents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"strings"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
)

// checkHeader validates an ingest batch's header and that the principal
// may write it.
func (s *Service) checkHeader(ctx context.Context, h *ingest.Header) error {
	switch {
	case h.TestID <= 0:
		return service.InvalidField("test_id", "test_id must be a positive number")
	case h.Host == "" || len(h.Host) > 128:
		return service.InvalidField("host", "host must be 1-128 bytes")
	case h.Batch == "" || len(h.Batch) > 128:
		return service.InvalidField("batch", "batch must be 1-128 bytes")
	}
	return s.MayWrite(ctx, h.TestID, h.Host)
}

// written counts a stored batch of n rows (none of a batch seen before),
// or answers why it was not stored.
func (s *Service) written(kind string, fresh bool, n int, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.batches.WithLabelValues(kind, "refused").Inc()
		return service.Errorf(service.NotFound, "test_id", "no such test")
	case err != nil:
		// The agent keeps the batch and retries.
		s.batches.WithLabelValues(kind, "failed").Inc()
		s.Log.Error("ingest", "kind", kind, "error", err)
		return service.Errorf(service.Unavailable, "", "could not store the batch; retry")
	}
	outcome := "written"
	if !fresh {
		outcome = "duplicate"
	}
	s.batches.WithLabelValues(kind, outcome).Inc()
	s.rows.WithLabelValues(kind).Add(float64(n))
	return nil
}

// SamplesWritten is the outcome of a batch of samples.
type SamplesWritten struct {
	// Written is how many samples were stored (0 for a batch seen before).
	Written int
	// CompactDue says the host's small chunks of the test are due to be
	// merged with Compact, which the caller may do after answering.
	CompactDue bool
}

// WriteSamples stores a batch of samples from the agent of its host.
func (s *Service) WriteSamples(ctx context.Context, b *ingest.Samples) (SamplesWritten, error) {
	if err := s.checkHeader(ctx, &b.Header); err != nil {
		return SamplesWritten{}, err
	}
	for i, sr := range b.Series {
		if sr.Metric == "" || len(sr.Metric) > 200 {
			return SamplesWritten{}, service.InvalidField("series", fmt.Sprintf("series %d: metric name must be 1-200 bytes", i))
		}
		if len(sr.TS) != len(sr.Values) {
			return SamplesWritten{}, service.InvalidField("series", fmt.Sprintf("series %s: %d times but %d values", sr.Metric, len(sr.TS), len(sr.Values)))
		}
	}
	n, err := s.Store.SampleIngest(ctx, b)
	if err := s.written("samples", n > 0, n, err); err != nil {
		return SamplesWritten{}, err
	}
	// A batch is the agent's heartbeat too (ingest.Client.SamplesAccepted):
	// the agent skips its own while it ships samples.
	if err := s.Store.AgentSeen(ctx, b.Host); err != nil {
		s.Log.Warn("record agent seen", "agent", b.Host, "error", err)
	}
	return SamplesWritten{Written: n, CompactDue: n > 0 && s.compactDue(b)}, nil
}

// Compact merges the small sample chunks a host wrote for a test; a
// failure is logged, as the next compaction retries it.
func (s *Service) Compact(ctx context.Context, testID int64, host string) {
	if err := s.Store.SampleCompact(ctx, testID, host); err != nil {
		s.Log.Warn("compact samples", "test", testID, "host", host, "error", err)
	}
}

// compactEvery is how many batches with small series a host sends for a
// test between compactions of its chunks: a monitor's 100 seconds (it
// ships a batch every 2 s).
const compactEvery = 50

type testHost struct {
	test int64
	host string
}

// compactDue counts a written batch and says whether the host's small
// chunks of the test are due to be merged.
func (s *Service) compactDue(b *ingest.Samples) bool {
	small := false
	for _, sr := range b.Series {
		small = small || len(sr.TS) < store.SmallChunk
	}
	if !small {
		return false
	}
	s.smallBatches.mu.Lock()
	defer s.smallBatches.mu.Unlock()
	m := &s.smallBatches.n
	if *m == nil || len(*m) > 10000 { // tests that ended leave their counts behind
		*m = map[testHost]int{}
	}
	k := testHost{b.TestID, b.Host}
	if (*m)[k]++; (*m)[k] < compactEvery {
		return false
	}
	delete(*m, k)
	return true
}

// logNotices is how many lines of Pitwall's own stream a test keeps
// besides the lines cap: room for the agent's markers of what it dropped
// (one per hook or iteration that reached its cap).
const logNotices = 100

// WriteLogs stores a batch of log lines from the agent of its host and
// says how many were new. Lines past the test's caps are dropped, not
// refused, so the agent does not send them again; one marker line in the
// log, and a note on the test, say how many were dropped.
func (s *Service) WriteLogs(ctx context.Context, b *ingest.Logs) (int, error) {
	if err := s.checkHeader(ctx, &b.Header); err != nil {
		return 0, err
	}
	for i := range b.Lines {
		// PostgreSQL text cannot hold NUL.
		b.Lines[i].Text = strings.ReplaceAll(b.Lines[i].Text, "\x00", "\uFFFD")
	}
	w, err := s.Store.LogIngest(ctx, b, store.LogCap{Lines: s.LogMaxLines, Bytes: s.LogMaxBytes, Notices: logNotices, Marker: s.logMarker})
	if err := s.written("logs", w.Fresh, w.Written, err); err != nil {
		return 0, err
	}
	s.rows.WithLabelValues("logs_dropped").Add(float64(w.Dropped))
	return w.Written, nil
}

// logMarker is the text of the line that says how many of a test's lines
// the server's caps dropped; it has the form of the agent's own marker.
func (s *Service) logMarker(dropped int64) string {
	return fmt.Sprintf("[pitwall] %d more output lines were dropped: the server's cap is %d lines or %s per test",
		dropped, s.LogMaxLines, service.Bytes(s.LogMaxBytes))
}

// resultsCSV matches the files that hold KPIs rather than tables.
var resultsCSV = regexp.MustCompile(`^results(\.\d+)?\.csv$`)

// Artifact is one file an agent collected for a test: Size bytes read from Body.
type Artifact struct {
	TestID int64
	Host   string
	Path   string
	Size   int64
	Body   io.Reader
}

// ArtifactStored is an artifact as stored.
type ArtifactStored struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// WriteArtifact stores one file an agent collected. Files over the caps
// are refused (TooLarge), and the refusal is kept as a note on the test.
func (s *Service) WriteArtifact(ctx context.Context, a Artifact) (*ArtifactStored, error) {
	if a.TestID <= 0 {
		return nil, service.InvalidField("test_id", "test_id must be a positive number")
	}
	p, err := tests.CleanArtifactPath(a.Path)
	if err != nil {
		return nil, service.InvalidField("path", err.Error())
	}
	if err := s.MayWrite(ctx, a.TestID, a.Host); err != nil {
		return nil, err
	}
	if a.Size > s.ArtifactMaxFile {
		return nil, s.refuse(ctx, a, p, fmt.Sprintf("over the per-file cap of %s", service.Bytes(s.ArtifactMaxFile)))
	}
	total, err := s.Store.ArtifactTotal(ctx, a.TestID, p)
	if err != nil {
		return nil, fmt.Errorf("artifact total of test %d: %w", a.TestID, err)
	}
	if total+a.Size > s.ArtifactMaxTest {
		return nil, s.refuse(ctx, a, p, fmt.Sprintf("the test's artifacts would pass the per-test cap of %s", service.Bytes(s.ArtifactMaxTest)))
	}
	content, err := io.ReadAll(io.LimitReader(a.Body, a.Size+1))
	if err != nil || int64(len(content)) != a.Size {
		return nil, service.InvalidField("", "body does not match Content-Length")
	}
	sum := sha256.Sum256(content)
	art := store.Artifact{Path: p, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]), ContentType: contentType(p, content)}
	var (
		table *results.Table
		notes []string
	)
	if strings.HasSuffix(p, ".csv") && !resultsCSV.MatchString(path.Base(p)) {
		var bad []results.Note
		table, bad = results.ParseTable(p, content)
		for _, n := range bad {
			notes = append(notes, n.String())
		}
	}
	err = s.Store.ArtifactPut(ctx, a.TestID, art, content, table, notes)
	if errors.Is(err, store.ErrArtifactDiffers) {
		note := fmt.Sprintf("artifact %s sent again by %s with other content (sha256 %s) was refused: stored artifacts are never replaced", p, a.Host, art.SHA256)
		if err := s.Store.NotesReplace(ctx, a.TestID, "artifact-conflict:"+p, []string{note}); err != nil {
			s.Log.Error("artifact note", "error", err)
		}
		return nil, service.Errorf(service.Conflict, "path", "%s", note)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "test_id", "no such test")
	}
	if err != nil {
		s.Log.Error("artifact", "test", a.TestID, "path", p, "error", err)
		return nil, service.Errorf(service.Unavailable, "", "could not store the artifact; retry")
	}
	s.rows.WithLabelValues("artifact_bytes").Add(float64(len(content)))
	return &ArtifactStored{Path: p, Size: art.Size, SHA256: art.SHA256}, nil
}

// refuse keeps an artifact's refusal as a note on its test and returns it.
func (s *Service) refuse(ctx context.Context, a Artifact, p, why string) error {
	note := fmt.Sprintf("artifact %s (%s) refused: %s", p, service.Bytes(a.Size), why)
	if err := s.Store.NotesReplace(ctx, a.TestID, "artifact:"+p, []string{note}); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.Log.Error("artifact note", "error", err)
	}
	return &service.Error{Kind: service.TooLarge, Msg: note}
}

// contentType names what a file holds, for listing; downloads are always
// attachments whatever it says.
func contentType(p string, content []byte) string {
	switch path.Ext(p) {
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".json":
		return "application/json"
	case ".log", ".txt":
		return "text/plain; charset=utf-8"
	}
	ct := http.DetectContentType(content)
	if strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "text/xml") {
		// Never let a test's output be taken for a page.
		return "text/plain; charset=utf-8"
	}
	return ct
}
