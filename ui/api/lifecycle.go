package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// maxIngestBody bounds one ingest batch.
const maxIngestBody = 64 << 20

// ingestMetrics count what agents delivered.
type ingestMetrics struct {
	rows    *prometheus.CounterVec
	batches *prometheus.CounterVec
}

func newIngestMetrics(reg prometheus.Registerer) *ingestMetrics {
	m := &ingestMetrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pitwall_ingest_rows_total", Help: "Samples and log lines written, by kind.",
		}, []string{"kind"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pitwall_ingest_batches_total", Help: "Ingest batches by kind and outcome (written, duplicate).",
		}, []string{"kind", "outcome"}),
	}
	reg.MustRegister(m.rows, m.batches)
	return m
}

func (a *API) lifecycleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+ingest.SamplesPath, a.ingestSamples)
	mux.HandleFunc("POST "+ingest.LogsPath, a.ingestLogs)
	mux.HandleFunc("GET /api/v1/tests/{id}/logs", a.testLogs)
	mux.HandleFunc("POST /api/v1/tests/{id}/abort", a.testAbort)
}

func (a *API) ingestSamples(w http.ResponseWriter, r *http.Request) {
	var b ingest.Samples
	decode := func() error {
		body, err := readLimited(w, r, maxIngestBody)
		if err == nil {
			err = ingest.DecodeSamples(body, &b)
		}
		return err
	}
	if !a.acceptBatch(w, r, decode, &b.Header) {
		return
	}
	for i, s := range b.Series {
		if s.Metric == "" || len(s.Metric) > 200 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("series %d: metric name must be 1-200 bytes", i), "series")
			return
		}
		if len(s.TS) != len(s.Values) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("series %s: %d times but %d values", s.Metric, len(s.TS), len(s.Values)), "series")
			return
		}
	}
	n, err := a.Store.SampleIngest(r.Context(), &b)
	a.ingested(w, r, "samples", n, err)
	if n > 0 && a.compactDue(&b) {
		// The agent has its answer; it need not wait for the merge.
		_ = http.NewResponseController(w).Flush()
		if err := a.Store.SampleCompact(context.WithoutCancel(r.Context()), b.TestID, b.Host); err != nil {
			a.Log.Warn("compact samples", "test", b.TestID, "host", b.Host, "error", err)
		}
	}
}

// compactEvery is how many batches with small series a host sends for a
// test between compactions of its chunks: a monitor's 100 seconds.
const compactEvery = 100

// compactDue counts a written batch and says whether the host's small
// chunks of the test are due to be merged.
func (a *API) compactDue(b *ingest.Samples) bool {
	small := false
	for _, s := range b.Series {
		small = small || len(s.TS) < store.SmallChunk
	}
	if !small {
		return false
	}
	a.smallBatches.mu.Lock()
	defer a.smallBatches.mu.Unlock()
	m := &a.smallBatches.n
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

type testHost struct {
	test int64
	host string
}

func (a *API) ingestLogs(w http.ResponseWriter, r *http.Request) {
	var b ingest.Logs
	if !a.acceptBatch(w, r, func() error { return decodeLimited(w, r, &b) }, &b.Header) {
		return
	}
	for i := range b.Lines {
		// PostgreSQL text cannot hold NUL.
		b.Lines[i].Text = strings.ReplaceAll(b.Lines[i].Text, "\x00", "\uFFFD")
	}
	n, err := a.Store.LogIngest(r.Context(), &b)
	a.ingested(w, r, "logs", n, err)
}

func (a *API) ingested(w http.ResponseWriter, r *http.Request, kind string, n int, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such test", "test_id")
		return
	case err != nil:
		// The agent keeps the batch and retries.
		a.Log.Error("ingest", "kind", kind, "error", err)
		writeError(w, http.StatusServiceUnavailable, "could not store the batch; retry", "")
		return
	}
	outcome := "written"
	if n == 0 {
		outcome = "duplicate"
	}
	a.ingest.batches.WithLabelValues(kind, outcome).Inc()
	a.ingest.rows.WithLabelValues(kind).Add(float64(n))
	writeJSON(w, http.StatusOK, map[string]int{"written": n})
}

// acceptBatch decodes an ingest batch, whose header is h, checks the
// header and that the sender may write it; otherwise it answers itself.
func (a *API) acceptBatch(w http.ResponseWriter, r *http.Request, decode func() error, h *ingest.Header) bool {
	if err := decode(); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error(), "")
		return false
	}
	var field, msg string
	switch {
	case h.TestID <= 0:
		field, msg = "test_id", "test_id must be a positive number"
	case h.Host == "" || len(h.Host) > 128:
		field, msg = "host", "host must be 1-128 bytes"
	case h.Batch == "" || len(h.Batch) > 128:
		field, msg = "batch", "batch must be 1-128 bytes"
	}
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg, field)
		return false
	}
	return a.agentMayWrite(w, r, h.TestID, h.Host)
}

func decodeLimited(w http.ResponseWriter, r *http.Request, v any) error {
	return json.NewDecoder(http.MaxBytesReader(w, r.Body, maxIngestBody)).Decode(v)
}

// readLimited reads a whole body of at most limit bytes.
func readLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), limit)+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	return buf.Bytes(), err
}

// testLogs pages through a test's output: ?after=<cursor>&limit=<n>.
func (a *API) testLogs(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	after, err := strconv.ParseInt(q.Get("after"), 10, 64)
	if q.Get("after") != "" && (err != nil || after < 0) {
		writeError(w, http.StatusBadRequest, "after must be a cursor this API gave", "after")
		return
	}
	limit := 1000
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 10000 {
			writeError(w, http.StatusBadRequest, "limit must be between 1 and 10000", "limit")
			return
		}
	}
	t, ok := a.loadTest(w, r, id)
	if !ok {
		return
	}
	lines, err := a.Store.LogList(r.Context(), id, after, limit)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := struct {
		wire.List[wire.LogLine]
		// Ended tells a follower that no more lines will come once it has read to the end.
		Ended bool   `json:"ended"`
		State string `json:"state"`
	}{Ended: wire.Ended(t.State), State: t.State}
	out.Items = lines
	next := after
	if len(lines) > 0 {
		next = lines[len(lines)-1].ID
	}
	out.Next = strconv.FormatInt(next, 10)
	writeJSON(w, http.StatusOK, out)
}

// testAbort stops a test: at once while it waits, within moments while it runs.
func (a *API) testAbort(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req wire.AbortRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "")
			return
		}
	}
	if len(req.Reason) > 500 {
		writeError(w, http.StatusBadRequest, "reason must be at most 500 bytes", "reason")
		return
	}
	t, ok := a.loadTest(w, r, id)
	if !ok {
		return
	}
	switch err := a.Abort(r, t, req.Reason); {
	case errors.Is(err, ErrNotAllowed):
		forbidden(w, "only the test's owner and the team's admins abort it")
		return
	case errors.Is(err, ErrEnded):
		writeError(w, http.StatusConflict, fmt.Sprintf("test %d has already ended (%s)", id, t.State), "id")
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err.Error(), "")
		return
	}
	t, err := a.Test(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, t)
}

// Errors of Abort, for callers that answer in their own way.
var (
	ErrNotAllowed = errors.New("only the test's owner and the team's admins abort it")
	ErrEnded      = errors.New("test has already ended")
)

// Abort asks a test's workflow to stop, for the request's principal: the
// test's owner or the team's admins (ErrNotAllowed); an ended test is
// ErrEnded. The API and the test page both abort through it.
func (a *API) Abort(r *http.Request, t *wire.Test, reason string) error {
	if !principal(r).CanModify(t.Team, t.Owner) {
		return ErrNotAllowed
	}
	if wire.Ended(t.State) {
		return ErrEnded
	}
	err := a.Temporal.SignalWorkflow(r.Context(), contract.WorkflowID(t.ID), "", contract.SignalAbort,
		contract.AbortRequest{Reason: reason})
	if err != nil {
		a.Log.Error("abort", "test", t.ID, "error", err)
		return fmt.Errorf("could not reach test %d's workflow; retry", t.ID)
	}
	a.Log.Info("test abort requested", "test", t.ID, "reason", reason)
	a.audit(r, "test aborted", t.Team, fmt.Sprintf("test %d", t.ID), reason)
	return nil
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("test ID %q is not a positive number", r.PathValue("id")), "id")
		return 0, false
	}
	return id, true
}

// ViewTest loads a test, as the API shows it, that the context's principal
// may see; another team's test is store.ErrNotFound (its existence is not
// theirs to know). Pages use it too.
func (a *API) ViewTest(ctx context.Context, id int64) (*wire.Test, error) {
	t, err := a.Store.TestGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if !auth.From(ctx).Can(t.Team, auth.Viewer) {
		return nil, store.ErrNotFound
	}
	a.decorate(t)
	return t, nil
}

// loadTest reads a test the principal may see, answering 404 or 500 itself.
func (a *API) loadTest(w http.ResponseWriter, r *http.Request, id int64) (*wire.Test, bool) {
	t, err := a.ViewTest(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("test %d not found", id), "id")
		return nil, false
	}
	if err != nil {
		a.internal(w, r, err)
		return nil, false
	}
	return t, true
}

// testFromPath is loadTest for the test named by the path's {id}.
func (a *API) testFromPath(w http.ResponseWriter, r *http.Request) (*wire.Test, bool) {
	id, ok := pathID(w, r)
	if !ok {
		return nil, false
	}
	return a.loadTest(w, r, id)
}

// agentMayWrite lets an agent write only for tests that held its host
// (late batches after the test ended included), and only as itself.
func (a *API) agentMayWrite(w http.ResponseWriter, r *http.Request, testID int64, host string) bool {
	p := principal(r)
	if p.Kind != auth.KindAgent || p.Name != host {
		forbidden(w, "only the agent of the host named in the batch writes it")
		return false
	}
	held, err := a.Store.TestHeldHost(r.Context(), testID, host)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such test", "test_id")
		return false
	}
	if err != nil {
		a.internal(w, r, err)
		return false
	}
	if !held {
		forbidden(w, fmt.Sprintf("test %d never held host %s", testID, host))
		return false
	}
	return true
}
