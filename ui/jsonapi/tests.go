package jsonapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/route"
)

// maxImport bounds an import document.
const maxImport = 256 << 20

func (a *API) testRoutes(mux *route.Mux) {
	member := route.Policy{Need: route.Member}
	mux.Route("POST /api/v1/tests", member, a.testCreate)
	mux.HandleFunc("GET /api/v1/tests", a.testList)
	mux.HandleFunc("GET /api/v1/tests/{id}", a.testGet)
	mux.Route("DELETE /api/v1/tests/{id}", member, a.testDelete)
	mux.Route("POST /api/v1/tests/{id}/clone", member, a.testClone)
	mux.Route("POST /api/v1/tests/{id}/rerun", member, a.testRerun)
	mux.Route("POST /api/v1/tests/{id}/abort", member, a.testAbort)
	mux.HandleFunc("GET /api/v1/tests/{id}/logs", a.testLogs)
	mux.HandleFunc("GET /api/v1/tests/{id}/series", a.testSeries)
	mux.Route("GET /api/v1/tests/{id}/export", route.Policy{Long: true}, a.testExport)
	// Only someone who may import into some team sends a body of this size.
	mux.Route("POST /api/v1/import", route.Policy{Need: route.Member, Body: maxImport, Long: true}, a.testImport)
	mux.HandleFunc("GET /api/v1/compare", a.compare)
}

// created answers a test just started with 201 and its location.
func (a *API) created(w http.ResponseWriter, r *http.Request, t *wire.Test, err error) {
	if err == nil {
		w.Header().Set("Location", fmt.Sprintf("/api/v1/tests/%d", t.ID))
	}
	a.answer(w, r, http.StatusCreated, t, err)
}

func (a *API) testCreate(w http.ResponseWriter, r *http.Request) {
	var req wire.RunRequest
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.Tests.Start(r.Context(), req)
	a.created(w, r, t, err)
}

// testList lists tests, newest first: ?framework=&state=&branch=&commit=
// (prefix)&owner=&tag=&from=&to=&limit=&cursor=.
func (a *API) testList(w http.ResponseWriter, r *http.Request) {
	f, err := tests.ParseFilter(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.Tests.List(r.Context(), f)
	a.answer(w, r, http.StatusOK, out, err)
}

func (a *API) testGet(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.Tests.View(r.Context(), id)
	a.answer(w, r, http.StatusOK, t, err)
}

func (a *API) testDelete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = a.Tests.Delete(r.Context(), id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// testClone starts a new test like an old one, with the framework's
// current version; the body may change params, commit, branch, PR and tags.
func (a *API) testClone(w http.ResponseWriter, r *http.Request) {
	in := tests.CloneInput{}
	var err error
	if in.ID, err = pathID(r); err == nil && r.ContentLength != 0 {
		err = decodeJSON(r, &in.Override)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.Tests.Clone(r.Context(), in)
	a.created(w, r, t, err)
}

// testRerun runs exactly the same test again: same framework version,
// parameters and commit.
func (a *API) testRerun(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.Tests.Rerun(r.Context(), id)
	a.created(w, r, t, err)
}

// testAbort stops a test: at once while it waits, within moments while it runs.
func (a *API) testAbort(w http.ResponseWriter, r *http.Request) {
	var req wire.AbortRequest
	id, err := pathID(r)
	if err == nil && r.ContentLength != 0 {
		err = decodeJSON(r, &req)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.Tests.Abort(r.Context(), tests.AbortInput{ID: id, Reason: req.Reason})
	a.answer(w, r, http.StatusAccepted, t, err)
}

// testLogs pages through a test's output: ?after=<cursor>&limit=<n>.
func (a *API) testLogs(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	in := tests.LogsInput{ID: id}
	if s := q.Get("after"); s != "" {
		if in.After, err = strconv.ParseInt(s, 10, 64); err != nil {
			in.After = -1
		}
	}
	if s := q.Get("limit"); s != "" {
		if in.Limit, err = strconv.Atoi(s); err != nil || in.Limit == 0 {
			in.Limit = -1
		}
	}
	page, err := a.Tests.Logs(r.Context(), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		wire.List[wire.LogLine]
		// Ended tells a follower that no more lines will come once it has read to the end.
		Ended bool   `json:"ended"`
		State string `json:"state"`
	}{Ended: page.Ended, State: page.State}
	out.Items = page.Lines
	next := in.After
	if len(page.Lines) > 0 {
		next = page.Lines[len(page.Lines)-1].ID
	}
	out.Next = strconv.FormatInt(next, 10)
	writeJSON(w, http.StatusOK, out)
}

// testSeries returns a test's samples: ?host=&metric=(name or prefix*)&from=&to=
// (RFC 3339 or Unix ms)&step=(duration)&points=(at most per series, default 1000).
func (a *API) testSeries(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var in tests.SeriesInput
	if err == nil {
		in, err = tests.ParseSeries(id, r.URL.Query())
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	list, err := a.Tests.Series(r.Context(), in)
	a.answer(w, r, http.StatusOK, wire.List[wire.Series]{Items: list}, err)
}

// testExport writes a test with its framework version, KPIs, tables and
// series at full resolution, for POST /api/v1/import elsewhere. The
// document is written as it is read, a table or a series at a time.
func (a *API) testExport(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var ex *tests.Export
	if err == nil {
		ex, err = a.Tests.Export(r.Context(), id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=pitwall-test-%d.json", id))
	w.WriteHeader(http.StatusOK)
	if err := writeExport(w, ex); err != nil {
		a.Log.Error("export", "test", id, "error", err)
		// A document cut short must not pass for a whole one.
		panic(http.ErrAbortHandler)
	}
}

// writeExport writes ex as one wire.Export document.
func writeExport(w io.Writer, ex *tests.Export) error {
	// The head's own fields, then the tables and series as they come.
	head, err := json.Marshal(struct {
		Format    string             `json:"format"`
		Framework wire.FrameworkInfo `json:"framework"`
		Test      wire.Test          `json:"test"`
	}{ex.Head.Format, ex.Head.Framework, ex.Head.Test})
	if err != nil {
		return err
	}
	// bufio's errors stick: a client gone is seen at the next piece.
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"tables":[`)
	first := true
	for t, err := range ex.Tables {
		if err != nil {
			return err
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		if _, err := bw.Write(t); err != nil {
			return err
		}
	}
	bw.WriteString(`],"series":[`)
	enc := json.NewEncoder(bw)
	first = true
	for s, err := range ex.Series {
		if err != nil {
			return err
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		if err := enc.Encode(s); err != nil {
			return err
		}
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// testImport reads an export document and stores it as a new, ended test.
func (a *API) testImport(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var ex wire.Export
	if err := dec.Decode(&ex); err != nil {
		a.fail(w, r, bodyError("import document", err))
		return
	}
	t, err := a.Tests.Import(r.Context(), &ex)
	a.answer(w, r, http.StatusCreated, t, err)
}

// compare puts 2-10 tests side by side: ?ids=1,2,3.
func (a *API) compare(w http.ResponseWriter, r *http.Request) {
	ids, err := tests.ParseIDs(r.URL.Query().Get("ids"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	_, cmp, err := a.Tests.Compare(r.Context(), ids)
	a.answer(w, r, http.StatusOK, cmp, err)
}
