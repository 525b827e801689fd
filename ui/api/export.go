package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
)

// maxImport bounds an import document.
const maxImport = 256 << 20

func (a *API) exportRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/tests/{id}/export", a.export)
	mux.HandleFunc("POST /api/v1/import", a.importTest)
}

// export writes a test with its framework version, KPIs, tables and
// series at full resolution, for POST /api/v1/import elsewhere.
func (a *API) export(w http.ResponseWriter, r *http.Request) {
	t, ok := a.testFromPath(w, r)
	if !ok {
		return
	}
	id := t.ID
	ctx := r.Context()
	fw, err := a.Store.FrameworkGetVersion(ctx, t.Team, t.Framework, t.FrameworkVersion)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	ex := wire.Export{Format: wire.ExportFormat, Framework: *fw, Test: *t}
	if ex.Tables, err = a.Store.TableList(ctx, id); err != nil {
		a.internal(w, r, err)
		return
	}
	if ex.Series, err = a.Store.SeriesAll(ctx, id); err != nil {
		a.internal(w, r, err)
		return
	}
	if ex.Series == nil {
		ex.Series = []wire.Series{}
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=pitwall-test-%d.json", id))
	writeJSON(w, http.StatusOK, ex)
}

// importTest reads an export document and stores it as a new, ended test.
func (a *API) importTest(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxImport))
	dec.DisallowUnknownFields()
	var ex wire.Export
	if err := dec.Decode(&ex); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("import is larger than %d bytes", maxImport), "")
			return
		}
		writeError(w, http.StatusBadRequest, "import document: "+err.Error(), "")
		return
	}
	if field, msg := checkImport(&ex); msg != "" {
		writeError(w, http.StatusBadRequest, msg, field)
		return
	}
	if !principal(r).Can(ex.Framework.Team, auth.Member) {
		forbidden(w, fmt.Sprintf("importing into team %q needs the member role there", ex.Framework.Team))
		return
	}
	if ok, err := a.Store.TeamExists(r.Context(), ex.Framework.Team); err != nil || !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("team %q does not exist here", ex.Framework.Team), "framework.team")
		return
	}
	origin := ex.Test.URL
	if origin == "" {
		origin = fmt.Sprintf("test %d", ex.Test.ID)
	}
	id, err := a.Store.TestImport(r.Context(), &ex, origin)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.Log.Info("test imported", "test", id, "from", ex.Test.ID)
	t, err := a.Test(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
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
		if s.Kind == "state" && !validState(s.Stage) {
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
