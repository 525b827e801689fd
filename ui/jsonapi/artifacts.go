package jsonapi

import (
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/agents"
	"github.com/pitwall/pitwall/ui/route"
)

func (a *API) artifactRoutes(mux *route.Mux) {
	// The agents service reads an artifact only once it knows the agent
	// may write it and the size fits the caps.
	mux.Route("POST "+ingest.ArtifactsPath, route.Policy{Need: route.Agent, Body: route.Unbounded, Long: true}, a.artifactPut)
	mux.HandleFunc("GET /api/v1/tests/{id}/artifacts", a.artifactList)
	mux.Route("GET /api/v1/tests/{id}/artifacts/{path...}", route.Policy{Long: true}, a.artifactGet)
	mux.HandleFunc("GET /api/v1/tests/{id}/tables", a.tableList)
	mux.HandleFunc("GET /api/v1/tests/{id}/kpis", a.kpiList)
	mux.HandleFunc("GET /api/v1/tests/{id}/queries", a.promQueries)
}

// promQueries lists the PromQL queries a test ran, with their raw answers.
func (a *API) promQueries(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var list []wire.PromQuery
	if err == nil {
		list, err = a.Tests.PromQueries(r.Context(), id)
	}
	a.answer(w, r, http.StatusOK, wire.List[wire.PromQuery]{Items: list}, err)
}

// artifactPut stores one file an agent collected; ?test_id=&host=&path=
// with the content as the body, which must come with its length.
func (a *API) artifactPut(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	in := agents.Artifact{Host: q.Get("host"), Path: q.Get("path"), Size: r.ContentLength, Body: r.Body}
	in.TestID, _ = strconv.ParseInt(q.Get("test_id"), 10, 64)
	if r.ContentLength < 0 {
		writeError(w, http.StatusLengthRequired, "send the artifact with a Content-Length", "")
		return
	}
	out, err := a.Agents.WriteArtifact(r.Context(), in)
	a.answer(w, r, http.StatusOK, out, err)
}

func (a *API) artifactList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var list []wire.Artifact
	if err == nil {
		list, err = a.Tests.Artifacts(r.Context(), id)
	}
	a.answer(w, r, http.StatusOK, wire.List[wire.Artifact]{Items: list}, err)
}

// artifactGet downloads one artifact, always as an attachment with a type
// that browsers will not run.
func (a *API) artifactGet(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = a.Tests.OpenArtifact(r.Context(), id, r.PathValue("path"), func(art store.Artifact) io.Writer {
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
	}
	if err != nil && w.Header().Get("ETag") == "" {
		a.fail(w, r, err)
	} else if err != nil {
		a.Log.Error("artifact download", "test", id, "error", err)
	}
}

func (a *API) tableList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var tables []results.Table
	if err == nil {
		tables, err = a.Tests.Tables(r.Context(), id)
	}
	a.answer(w, r, http.StatusOK, wire.List[results.Table]{Items: tables}, err)
}

// kpiList returns a test's KPIs per iteration and their summary.
func (a *API) kpiList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var t *wire.Test
	if err == nil {
		t, err = a.Tests.View(r.Context(), id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Items   []wire.KPI        `json:"items"`
		Summary []wire.KPISummary `json:"summary"`
		Verdict string            `json:"verdict"`
	}{t.KPIs, t.KPISummary, t.Verdict})
}
