package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// Default artifact caps; the server's flags change them.
const (
	DefaultArtifactMaxFile = 64 << 20
	DefaultArtifactMaxTest = 256 << 20
)

// resultsCSV matches the files that hold KPIs rather than tables.
var resultsCSV = regexp.MustCompile(`^results(\.\d+)?\.csv$`)

func (a *API) resultsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+ingest.ArtifactsPath, a.ingestArtifact)
	mux.HandleFunc("GET /api/v1/tests/{id}/artifacts", a.artifactList)
	mux.HandleFunc("GET /api/v1/tests/{id}/artifacts/{path...}", a.artifactGet)
	mux.HandleFunc("GET /api/v1/tests/{id}/tables", a.tableList)
	mux.HandleFunc("GET /api/v1/tests/{id}/kpis", a.kpiList)
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

// ingestArtifact stores one file an agent collected; ?test_id=&host=&path=
// with the content as the body. Files over the caps are refused, and the
// refusal is kept as a note on the test.
func (a *API) ingestArtifact(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	testID, err := strconv.ParseInt(q.Get("test_id"), 10, 64)
	if err != nil || testID <= 0 {
		writeError(w, http.StatusBadRequest, "test_id must be a positive number", "test_id")
		return
	}
	p, err := CleanArtifactPath(q.Get("path"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "path")
		return
	}
	if !a.agentMayWrite(w, r, testID, q.Get("host")) {
		return
	}
	ctx := r.Context()
	refuse := func(msg string) {
		note := fmt.Sprintf("artifact %s (%s) refused: %s", p, HumanBytes(r.ContentLength), msg)
		if err := a.Store.NotesReplace(ctx, testID, "artifact:"+p, []string{note}); err != nil && !errors.Is(err, store.ErrNotFound) {
			a.Log.Error("artifact note", "error", err)
		}
		writeError(w, http.StatusRequestEntityTooLarge, note, "")
	}
	if r.ContentLength < 0 {
		writeError(w, http.StatusLengthRequired, "send the artifact with a Content-Length", "")
		return
	}
	if r.ContentLength > a.ArtifactMaxFile {
		refuse(fmt.Sprintf("over the per-file cap of %s", HumanBytes(a.ArtifactMaxFile)))
		return
	}
	total, err := a.Store.ArtifactTotal(ctx, testID, p)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if total+r.ContentLength > a.ArtifactMaxTest {
		refuse(fmt.Sprintf("the test's artifacts would pass the per-test cap of %s", HumanBytes(a.ArtifactMaxTest)))
		return
	}
	content, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength+1))
	if err != nil || int64(len(content)) != r.ContentLength {
		writeError(w, http.StatusBadRequest, "body does not match Content-Length", "")
		return
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
	err = a.Store.ArtifactPut(ctx, testID, art, content, table, notes)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such test", "test_id")
		return
	}
	if err != nil {
		a.Log.Error("artifact", "test", testID, "path", p, "error", err)
		writeError(w, http.StatusServiceUnavailable, "could not store the artifact; retry", "")
		return
	}
	a.ingest.rows.WithLabelValues("artifact_bytes").Add(float64(len(content)))
	writeJSON(w, http.StatusOK, map[string]any{"path": p, "size": art.Size, "sha256": art.SHA256})
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

func (a *API) artifactList(w http.ResponseWriter, r *http.Request) {
	t, ok := a.testFromPath(w, r)
	if !ok {
		return
	}
	id := t.ID
	list, err := a.Store.ArtifactList(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.List[wire.Artifact]{Items: list})
}

// artifactGet downloads one artifact, always as an attachment with a type
// that browsers will not run.
func (a *API) artifactGet(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p, err := CleanArtifactPath(r.PathValue("path"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "path")
		return
	}
	if _, ok := a.loadTest(w, r, id); !ok {
		return
	}
	err = a.Store.ArtifactOpen(r.Context(), id, p, func(art store.Artifact) io.Writer {
		ct := art.ContentType
		if !strings.HasPrefix(ct, "text/") && ct != "application/json" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(art.Path)}))
		w.Header().Set("Content-Length", strconv.FormatInt(art.Size, 10))
		w.Header().Set("ETag", `"`+art.SHA256+`"`)
		return w
	})
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("test %d has no artifact %q", id, p), "path")
		return
	}
	if err != nil {
		a.Log.Error("artifact download", "test", id, "path", p, "error", err)
	}
}

func (a *API) tableList(w http.ResponseWriter, r *http.Request) {
	t, ok := a.testFromPath(w, r)
	if !ok {
		return
	}
	id := t.ID
	tables, err := a.Store.TableList(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.List[results.Table]{Items: tables})
}

// kpiList returns a test's KPIs per iteration and their summary.
func (a *API) kpiList(w http.ResponseWriter, r *http.Request) {
	t, ok := a.testFromPath(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Items   []wire.KPI        `json:"items"`
		Summary []wire.KPISummary `json:"summary"`
		Verdict string            `json:"verdict"`
	}{t.KPIs, t.KPISummary, t.Verdict})
}

// HumanBytes formats a size in bytes, KiB, MiB or GiB.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
