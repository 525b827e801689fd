package jsonapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/service"
)

// maxIngestBody bounds one ingest batch.
const maxIngestBody = 64 << 20

func (a *API) ingestRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+ingest.SamplesPath, a.ingestSamples)
	mux.HandleFunc("POST "+ingest.LogsPath, a.ingestLogs)
}

// mayIngest checks, before the body is read, that the sender may write
// for the test and host the URL names (?test_id=&host=); the batch in the
// body must name the same (sameTarget).
func (a *API) mayIngest(w http.ResponseWriter, r *http.Request) (ingest.Header, bool) {
	h := ingest.Header{Host: r.URL.Query().Get("host")}
	h.TestID, _ = strconv.ParseInt(r.URL.Query().Get("test_id"), 10, 64)
	if err := a.Agents.MayWrite(r.Context(), h.TestID, h.Host); err != nil {
		a.fail(w, r, err)
		return h, false
	}
	return h, true
}

func (a *API) sameTarget(w http.ResponseWriter, r *http.Request, url, body ingest.Header) bool {
	if url.TestID != body.TestID || url.Host != body.Host {
		a.fail(w, r, service.InvalidField("", "the batch's test_id and host differ from the URL's"))
		return false
	}
	return true
}

func (a *API) ingestSamples(w http.ResponseWriter, r *http.Request) {
	target, ok := a.mayIngest(w, r)
	if !ok {
		return
	}
	var b ingest.Samples
	body, err := readLimited(w, r, maxIngestBody)
	if err == nil {
		err = ingest.DecodeSamples(body, &b)
	}
	if err != nil {
		a.fail(w, r, service.InvalidField("", "request body: "+err.Error()))
		return
	}
	if !a.sameTarget(w, r, target, b.Header) {
		return
	}
	out, err := a.Agents.WriteSamples(r.Context(), &b)
	a.answer(w, r, http.StatusOK, map[string]int{"written": out.Written}, err)
	if out.CompactDue {
		// The agent has its answer; it need not wait for the merge.
		_ = http.NewResponseController(w).Flush()
		a.Agents.Compact(context.WithoutCancel(r.Context()), b.TestID, b.Host)
	}
}

func (a *API) ingestLogs(w http.ResponseWriter, r *http.Request) {
	target, ok := a.mayIngest(w, r)
	if !ok {
		return
	}
	var b ingest.Logs
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxIngestBody)).Decode(&b); err != nil {
		a.fail(w, r, service.InvalidField("", "request body: "+err.Error()))
		return
	}
	if !a.sameTarget(w, r, target, b.Header) {
		return
	}
	n, err := a.Agents.WriteLogs(r.Context(), &b)
	a.answer(w, r, http.StatusOK, map[string]int{"written": n}, err)
}

// readLimited reads a whole body of at most limit bytes.
func readLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), limit)+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	return buf.Bytes(), err
}
