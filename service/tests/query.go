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

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// ParseFilter reads a test listing's filters from query values: framework,
// state, branch, commit (prefix), owner, tag (key or key=value), from, to,
// limit and cursor.
func ParseFilter(q url.Values) (store.TestFilter, error) {
	f := store.TestFilter{Framework: q.Get("framework"), State: q.Get("state"), Branch: q.Get("branch"),
		Commit: q.Get("commit"), Owner: q.Get("owner"), Tag: q.Get("tag"), Limit: 50}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			n = -1
		}
		f.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return f, service.InvalidField("cursor", "cursor is not one this API gave")
		}
		f.Before = n
	}
	if err := parseTimes(q, &f.From, &f.To); err != nil {
		return f, err
	}
	return f, checkFilter(f)
}

// checkFilter validates a listing's state and limit.
func checkFilter(f store.TestFilter) error {
	if f.State != "" && !ValidState(f.State) {
		return service.InvalidField("state", fmt.Sprintf("state %q is not one of %s", f.State, strings.Join(States, ", ")))
	}
	if f.Limit < 1 || f.Limit > 500 {
		return service.InvalidField("limit", "limit must be between 1 and 500")
	}
	return nil
}

// parseTimes reads the "from" and "to" query values (RFC 3339 or Unix ms)
// into from and to when given.
func parseTimes(q url.Values, from, to *time.Time) error {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", from}, {"to", to}} {
		if s := q.Get(p.name); s != "" {
			t, err := parseTime(s)
			if err != nil {
				return service.InvalidField(p.name, p.name+": "+err.Error())
			}
			*p.dst = t
		}
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("give RFC 3339 time or Unix milliseconds")
	}
	return t, nil
}

// List lists the tests matching f that the principal of ctx may see,
// newest first, with the cursor of the next page.
func (s *Service) List(ctx context.Context, f store.TestFilter) (wire.List[wire.Test], error) {
	if err := checkFilter(f); err != nil {
		return wire.List[wire.Test]{}, err
	}
	f.Teams, f.AllTeams = service.Principal(ctx).ViewableTeams()
	tests, err := s.Store.TestList(ctx, f)
	if err != nil {
		return wire.List[wire.Test]{}, fmt.Errorf("list tests: %w", err)
	}
	out := wire.List[wire.Test]{Items: tests}
	for i := range out.Items {
		s.decorate(&out.Items[i])
	}
	if len(tests) == f.Limit {
		out.Next = strconv.FormatInt(tests[len(tests)-1].ID, 10)
	}
	return out, nil
}

// OfFramework lists the newest tests of a framework of team, at most
// limit, for a principal who may see the team.
func (s *Service) OfFramework(ctx context.Context, team, framework string, limit int) ([]wire.Test, error) {
	team = service.TeamOr(team)
	if !service.Principal(ctx).Can(team, auth.Viewer) {
		return nil, service.Errorf(service.NotFound, "name", "framework %q not found", framework)
	}
	list, err := s.Store.TestList(ctx, store.TestFilter{Framework: framework, Teams: []string{team}, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("tests of framework %s: %w", framework, err)
	}
	for i := range list {
		s.decorate(&list[i])
	}
	return list, nil
}

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

// ParseIDs reads 2-10 comma-separated test IDs, as Compare takes them.
func ParseIDs(s string) ([]int64, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 || len(parts) > 10 {
		return nil, service.InvalidField("ids", compareCount)
	}
	ids := make([]int64, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			return nil, service.InvalidField("ids", fmt.Sprintf("test ID %q is not a positive number", p))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Compare loads 2-10 tests the principal may see, in order, and puts
// them side by side.
func (s *Service) Compare(ctx context.Context, ids []int64) ([]wire.Test, wire.Comparison, error) {
	if len(ids) < 2 || len(ids) > 10 {
		return nil, wire.Comparison{}, service.InvalidField("ids", compareCount)
	}
	tests := make([]wire.Test, 0, len(ids))
	for _, id := range ids {
		t, err := s.View(ctx, id)
		if err != nil {
			return nil, wire.Comparison{}, err
		}
		tests = append(tests, *t)
	}
	return tests, wire.Compare(tests), nil
}

// Details are what a test's page shows besides the test itself.
type Details struct {
	Test      *wire.Test
	Tail      []wire.LogLine
	Artifacts []wire.Artifact
	Tables    []results.Table
}

// Details loads a test the principal may see with the last tail lines of
// its output, its artifacts and its tables.
func (s *Service) Details(ctx context.Context, id int64, tail int) (*Details, error) {
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
	if d.Tables, err = s.Store.TableList(ctx, id); err != nil {
		return nil, fmt.Errorf("tables of test %d: %w", id, err)
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

// Dashboard is what the front page shows of the tests a principal may see.
type Dashboard struct {
	// Queue are the tests that wait for the scheduler or a host, oldest first.
	Queue []store.DashTest
	// Running are the other tests that have not ended, oldest first.
	Running []store.DashTest
	// Recent are the newest ended tests.
	Recent []store.DashTest
}

// Dashboard loads the active tests and the recent ended ones the
// principal may see, with the verdicts they show.
func (s *Service) Dashboard(ctx context.Context, recent int) (*Dashboard, error) {
	teams, all := service.Principal(ctx).ViewableTeams()
	d, err := s.Store.DashboardGet(ctx, teams, all, recent)
	if err != nil {
		return nil, fmt.Errorf("dashboard tests: %w", err)
	}
	out := &Dashboard{Recent: d.Recent}
	for i := range out.Recent {
		out.Recent[i].Verdict = Verdict(out.Recent[i].State, out.Recent[i].Verdict)
	}
	for _, t := range d.Active {
		switch t.State {
		case wire.StateQueued, wire.StateWaiting:
			out.Queue = append(out.Queue, t)
		default:
			out.Running = append(out.Running, t)
		}
	}
	return out, nil
}

// compareCount is the refusal of a comparison of too few or too many tests.
const compareCount = "give 2 to 10 test IDs, comma-separated"
