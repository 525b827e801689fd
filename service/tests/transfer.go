package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// Export is a test's export document to be written out a piece at a
// time: its head at once, then each table and each series as it is read,
// so the memory it takes is one table's or one series', not the test's.
type Export struct {
	// Head is the document without its tables and series.
	Head wire.Export
	// Tables yields each table in its JSON form (results.Table), as stored.
	Tables iter.Seq2[json.RawMessage, error]
	// Series yields each series at full resolution.
	Series iter.Seq2[wire.Series, error]
}

// Export is a test the principal may see with its framework version,
// KPIs, tables and series at full resolution, for Import elsewhere.
func (s *Service) Export(ctx context.Context, id int64) (*Export, error) {
	t, err := s.View(ctx, id)
	if err != nil {
		return nil, err
	}
	fw, err := s.Store.FrameworkGetVersion(ctx, t.Team, t.Framework, t.FrameworkVersion)
	if err != nil {
		return nil, fmt.Errorf("framework of test %d: %w", id, err)
	}
	ex := &Export{Head: wire.Export{Format: wire.ExportFormat, Framework: *fw, Test: *t}}
	ex.Tables = func(yield func(json.RawMessage, error) bool) {
		names, err := s.Store.TableNames(ctx, id)
		if err != nil {
			yield(nil, fmt.Errorf("tables of test %d: %w", id, err))
			return
		}
		for _, name := range names {
			t, err := s.Store.TableJSON(ctx, id, name)
			if err != nil {
				err = fmt.Errorf("table %s of test %d: %w", name, id, err)
			}
			if !yield(t, err) || err != nil {
				return
			}
		}
	}
	ex.Series = func(yield func(wire.Series, error) bool) {
		keys, err := s.Store.SeriesKeys(ctx, id)
		if err != nil {
			yield(wire.Series{}, fmt.Errorf("series of test %d: %w", id, err))
			return
		}
		for _, k := range keys {
			ser, err := s.Store.SeriesFull(ctx, id, k)
			if err != nil {
				err = fmt.Errorf("series %s %s of test %d: %w", k.Host, k.Metric, id, err)
			}
			if !yield(ser, err) || err != nil {
				return
			}
		}
	}
	return ex, nil
}

// Document reads the whole export into one document, for callers that
// want it in memory.
func (e *Export) Document() (*wire.Export, error) {
	doc := e.Head
	doc.Tables, doc.Series = []results.Table{}, []wire.Series{}
	for raw, err := range e.Tables {
		if err != nil {
			return nil, err
		}
		var t results.Table
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("table: %w", err)
		}
		doc.Tables = append(doc.Tables, t)
	}
	for ser, err := range e.Series {
		if err != nil {
			return nil, err
		}
		doc.Series = append(doc.Series, ser)
	}
	return &doc, nil
}

// Import stores an export document as a new, ended test of the framework's
// team, for its members.
func (s *Service) Import(ctx context.Context, ex *wire.Export) (*wire.Test, error) {
	if field, msg := checkImport(ex); msg != "" {
		return nil, service.InvalidField(field, msg)
	}
	team := ex.Framework.Team
	if !service.Principal(ctx).Can(team, auth.Member) {
		return nil, service.NotAllowed(fmt.Sprintf("importing into team %q needs the member role there", team))
	}
	if ok, err := s.Store.TeamExists(ctx, team); err != nil || !ok {
		return nil, service.InvalidField("framework.team", fmt.Sprintf("team %q does not exist here", team))
	}
	origin := ex.Test.URL
	if origin == "" {
		origin = fmt.Sprintf("test %d", ex.Test.ID)
	}
	// A framework the import creates is the importer's; an existing one
	// keeps its owner and its current version (store.FrameworkImport).
	ex.Framework.Owner = service.Principal(ctx).Name
	id, err := s.Store.TestImport(ctx, ex, origin)
	if err != nil {
		return nil, fmt.Errorf("import test %d: %w", ex.Test.ID, err)
	}
	service.Audit(ctx, s.Store, s.Log, "test imported", team, fmt.Sprintf("test %d of %s", id, ex.Framework.Name), "from "+origin)
	return s.get(ctx, id)
}

// checkImport validates an export document before anything is stored.
func checkImport(ex *wire.Export) (field, msg string) {
	if ex.Format != wire.ExportFormat {
		return "format", fmt.Sprintf("format %q is not %q", ex.Format, wire.ExportFormat)
	}
	f := &ex.Framework.Framework
	f.Normalize()
	if err := f.Validate(); err != nil {
		var fe *framework.FieldError
		if errors.As(err, &fe) {
			return "framework." + fe.Field, "framework: " + err.Error()
		}
		return "framework", "framework: " + err.Error()
	}
	t := &ex.Test
	if !wire.Ended(t.State) {
		return "test.state", fmt.Sprintf("only ended tests can be imported, not %q", t.State)
	}
	if t.CreatedAt.IsZero() {
		return "test.created_at", "created_at is missing"
	}
	if len(t.KPIs) > 100_000 || len(t.Timeline) > 10_000 || len(t.Notes) > 10_000 || len(ex.Tables) > 1000 {
		return "test", "too many KPIs, stages, notes or tables"
	}
	strs := []string{t.Commit, t.Branch, t.Reason, t.Host, t.Owner}
	for _, k := range t.KPIs {
		if k.Name == "" {
			return "test.kpis", "a KPI has no name"
		}
		strs = append(strs, k.Name, k.Unit, k.Raw)
	}
	for _, s := range t.Timeline {
		if s.Kind != "state" && s.Kind != "stage" {
			return "test.timeline", fmt.Sprintf("timeline kind %q is not state or stage", s.Kind)
		}
		if s.Kind == "state" && !ValidState(s.Stage) {
			return "test.timeline", fmt.Sprintf("state %q is not a test state", s.Stage)
		}
		strs = append(strs, s.Stage, s.Reason)
	}
	strs = append(strs, t.Notes...)
	for k, v := range t.Tags {
		strs = append(strs, k, v)
	}
	for _, p := range t.Params {
		strs = append(strs, p.Name, p.Value)
	}
	for _, tb := range ex.Tables {
		if tb.Name == "" || len(tb.Numeric) != len(tb.Header) {
			return "tables", fmt.Sprintf("table %q: numeric flags do not match its header", tb.Name)
		}
		for _, row := range tb.Rows {
			if len(row) != len(tb.Header) {
				return "tables", fmt.Sprintf("table %q: a row does not match its header", tb.Name)
			}
		}
		strs = append(strs, tb.Name)
		strs = append(strs, tb.Header...)
	}
	points := 0
	for _, s := range ex.Series {
		if s.Host == "" || s.Metric == "" || len(s.Metric) > 200 || len(s.TS) != len(s.Values) {
			return "series", fmt.Sprintf("series %s/%s: host and metric needed, as many times as values", s.Host, s.Metric)
		}
		points += len(s.TS)
		strs = append(strs, s.Host, s.Metric)
	}
	if points > 20_000_000 {
		return "series", "more than 20,000,000 points"
	}
	for _, s := range strs {
		if strings.ContainsRune(s, 0) {
			return "test", "text fields may not hold NUL bytes"
		}
	}
	return "", ""
}
