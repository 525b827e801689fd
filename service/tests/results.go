package tests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// LogsInput pages through a test's output: lines after the cursor After
// (0: from the start), at most Limit (0: 1000).
type LogsInput struct {
	ID    int64
	After int64
	Limit int
}

// LogPage is a page of a test's output and the test's state, read before
// the lines: once Ended, no more lines will come after the last.
type LogPage struct {
	Lines []wire.LogLine
	State string
	Ended bool
}

// Logs reads a page of the output of a test the principal may see.
func (s *Service) Logs(ctx context.Context, in LogsInput) (*LogPage, error) {
	if in.After < 0 {
		return nil, service.InvalidField("after", "after must be a cursor this API gave")
	}
	if in.Limit == 0 {
		in.Limit = 1000
	}
	if in.Limit < 1 || in.Limit > 10000 {
		return nil, service.InvalidField("limit", "limit must be between 1 and 10000")
	}
	t, err := s.View(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	lines, err := s.Store.LogList(ctx, in.ID, in.After, in.Limit)
	if err != nil {
		return nil, fmt.Errorf("read logs of test %d: %w", in.ID, err)
	}
	return &LogPage{Lines: lines, State: t.State, Ended: wire.Ended(t.State)}, nil
}

// MaxSeriesPoints bounds the points per series one request may ask for.
const MaxSeriesPoints = 10000

// SeriesInput asks for a test's samples: of a host and metric (a name or
// a prefix*) when given, between From and To (zero: the first and last
// sample), at most Points per series (0: 1000), in buckets at least Step wide.
type SeriesInput struct {
	ID       int64
	Host     string
	Metric   string
	From, To time.Time
	Step     time.Duration
	Points   int
}

// ParseSeries reads a series request's query values: host, metric, from,
// to (RFC 3339 or Unix ms), step (a duration) and points.
func ParseSeries(id int64, q url.Values) (SeriesInput, error) {
	in := SeriesInput{ID: id, Host: q.Get("host"), Metric: q.Get("metric")}
	if s := q.Get("points"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n == 0 {
			n = -1
		}
		in.Points = n
	}
	if s := q.Get("step"); s != "" {
		step, err := time.ParseDuration(s)
		if err != nil || step <= 0 {
			step = -1
		}
		in.Step = step
	}
	return in, parseTimes(q, &in.From, &in.To)
}

// PromQueries lists the PromQL queries of a test the principal may see,
// with their windows and raw answers.
func (s *Service) PromQueries(ctx context.Context, id int64) ([]wire.PromQuery, error) {
	if _, err := s.View(ctx, id); err != nil {
		return nil, err
	}
	qs, err := s.Store.PromQueriesGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("queries of test %d: %w", id, err)
	}
	return qs, nil
}

// Series reads the samples of a test the principal may see.
func (s *Service) Series(ctx context.Context, in SeriesInput) ([]wire.Series, error) {
	if in.Points == 0 {
		in.Points = 1000
	}
	if in.Points < 1 || in.Points > MaxSeriesPoints {
		return nil, service.InvalidField("points", fmt.Sprintf("points must be between 1 and %d", MaxSeriesPoints))
	}
	if in.Step < 0 {
		return nil, service.InvalidField("step", "step must be a duration such as 1s")
	}
	if _, err := s.View(ctx, in.ID); err != nil {
		return nil, err
	}
	first, last, any, err := s.Store.SeriesRange(ctx, in.ID)
	if err != nil {
		return nil, fmt.Errorf("series range of test %d: %w", in.ID, err)
	}
	if !any {
		return []wire.Series{}, nil
	}
	q := store.SeriesQuery{TestID: in.ID, Host: in.Host, Metric: in.Metric, Points: in.Points, From: in.From, To: in.To}
	if q.From.IsZero() {
		q.From = first
	}
	if q.To.IsZero() {
		q.To = last
	}
	if q.To.Before(q.From) {
		return nil, service.InvalidField("to", "to is before from")
	}
	// Buckets wide enough for at most Points points, or the step asked for if wider.
	// ceil((to - from + 1 ms) / points): the last sample falls in the last bucket.
	span := q.To.Sub(q.From).Milliseconds() + 1
	q.Step = max(time.Duration((span+int64(q.Points)-1)/int64(q.Points))*time.Millisecond, in.Step)
	list, err := s.Store.SeriesGet(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("series of test %d: %w", in.ID, err)
	}
	if list == nil {
		list = []wire.Series{}
	}
	return list, nil
}

// Details are what a test's page shows besides the test itself.
type Details struct {
	Test      *wire.Test
	Tail      []wire.LogLine
	Artifacts []wire.Artifact
	// Tables hold their first rows only, and how many they have.
	Tables []store.TableHead
	// Queries are the PromQL queries the test ran.
	Queries []wire.PromQuery
	// Baselines are the judged KPIs' baselines, by KPI name.
	Baselines map[string]BaselineKPI
}

// Details loads a test the principal may see with the last tail lines of
// its output, its artifacts and the first rows of its tables: a page
// costs the same whatever the size of the test's tables.
func (s *Service) Details(ctx context.Context, id int64, tail, rows int) (*Details, error) {
	t, err := s.View(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &Details{Test: t}
	if d.Tail, err = s.Store.LogTail(ctx, id, tail); err != nil {
		return nil, fmt.Errorf("log tail of test %d: %w", id, err)
	}
	if d.Artifacts, err = s.Store.ArtifactList(ctx, id); err != nil {
		return nil, fmt.Errorf("artifacts of test %d: %w", id, err)
	}
	if d.Tables, err = s.Store.TableHeads(ctx, id, rows); err != nil {
		return nil, fmt.Errorf("tables of test %d: %w", id, err)
	}
	if d.Queries, err = s.Store.PromQueriesGet(ctx, id); err != nil {
		return nil, fmt.Errorf("queries of test %d: %w", id, err)
	}
	if d.Baselines, err = s.Baselines(ctx, t); err != nil {
		return nil, err
	}
	return d, nil
}

// Artifacts lists the files a test the principal may see left.
func (s *Service) Artifacts(ctx context.Context, id int64) ([]wire.Artifact, error) {
	if _, err := s.View(ctx, id); err != nil {
		return nil, err
	}
	list, err := s.Store.ArtifactList(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("artifacts of test %d: %w", id, err)
	}
	return list, nil
}

// Tables lists the parsed CSV tables of a test the principal may see.
func (s *Service) Tables(ctx context.Context, id int64) ([]results.Table, error) {
	if _, err := s.View(ctx, id); err != nil {
		return nil, err
	}
	list, err := s.Store.TableList(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("tables of test %d: %w", id, err)
	}
	return list, nil
}

// OpenArtifact writes one artifact of a test the principal may see to the
// writer open returns for it.
func (s *Service) OpenArtifact(ctx context.Context, id int64, path string, open func(store.Artifact) io.Writer) error {
	p, err := CleanArtifactPath(path)
	if err != nil {
		return service.InvalidField("path", err.Error())
	}
	if _, err := s.View(ctx, id); err != nil {
		return err
	}
	err = s.Store.ArtifactOpen(ctx, id, p, open)
	if errors.Is(err, store.ErrNotFound) {
		return service.Errorf(service.NotFound, "path", "test %d has no artifact %q", id, p)
	}
	if err != nil {
		return fmt.Errorf("artifact %s of test %d: %w", p, id, err)
	}
	return nil
}

// CleanArtifactPath checks a path inside a results directory: relative,
// clean, no way out of the directory.
func CleanArtifactPath(p string) (string, error) {
	switch {
	case p == "" || len(p) > 512:
		return "", errors.New("path must be 1-512 bytes")
	case strings.ContainsAny(p, "\x00\\") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 }):
		return "", errors.New("path holds a control character or backslash")
	case strings.HasPrefix(p, "/"):
		return "", errors.New("path must be relative")
	}
	clean := path.Clean(p)
	if clean != p || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q is not a clean path inside the results directory", p)
	}
	return clean, nil
}
