// Package api serves Pitwall's JSON API under /api/v1.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// maxBody bounds every request body the API reads.
const maxBody = 2 << 20

// API holds the handlers' dependencies.
type API struct {
	Store     *store.Store
	Temporal  client.Client
	PublicURL string
	Log       *slog.Logger

	testsCreated prometheus.Counter
	ingest       *ingestMetrics

	// ArtifactMaxFile and ArtifactMaxTest cap what a test may store.
	ArtifactMaxFile, ArtifactMaxTest int64

	// smallBatches counts batches of small series by test and host, so
	// their chunks are compacted every compactEvery batches.
	smallBatches struct {
		mu sync.Mutex
		n  map[testHost]int
	}

	// searchAttributes is set once the namespace has Pitwall's search attributes.
	searchAttributes atomic.Bool
}

// New builds the API and registers its metrics on reg.
func New(s *store.Store, tc client.Client, publicURL string, log *slog.Logger, reg prometheus.Registerer) *API {
	a := &API{Store: s, Temporal: tc, PublicURL: strings.TrimRight(publicURL, "/"), Log: log,
		ArtifactMaxFile: DefaultArtifactMaxFile, ArtifactMaxTest: DefaultArtifactMaxTest}
	a.testsCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pitwall_tests_created_total", Help: "Tests created through the API.",
	})
	reg.MustRegister(a.testsCreated)
	a.ingest = newIngestMetrics(reg)
	return a
}

// Routes registers the API's endpoints on mux.
func (a *API) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/frameworks", a.frameworkList)
	mux.HandleFunc("POST /api/v1/frameworks", a.frameworkApply)
	mux.HandleFunc("GET /api/v1/frameworks/{name}", a.frameworkGet)
	mux.HandleFunc("POST /api/v1/tests", a.testCreate)
	mux.HandleFunc("GET /api/v1/tests", a.testList)
	mux.HandleFunc("GET /api/v1/tests/{id}", a.testGet)
	mux.HandleFunc("GET /api/v1/agents", a.agentList)
	mux.HandleFunc("PUT /api/v1/agents/{name}", a.agentHeartbeat)
	a.lifecycleRoutes(mux)
	a.accessRoutes(mux)
	a.resultsRoutes(mux)
	a.queryRoutes(mux)
	a.exportRoutes(mux)
	mux.HandleFunc("GET /api/v1/openapi.json", a.openapi)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, "")
	})
}

func (a *API) frameworkList(w http.ResponseWriter, r *http.Request) {
	list, err := a.Store.FrameworkList(r.Context())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := principal(r)
	visible := list[:0]
	for _, f := range list {
		if p.Can(f.Team, auth.Viewer) {
			visible = append(visible, f)
		}
	}
	writeJSON(w, http.StatusOK, wire.List[wire.FrameworkInfo]{Items: visible})
}

func (a *API) frameworkGet(w http.ResponseWriter, r *http.Request) {
	if !a.viewTeam(w, r) {
		return
	}
	info, err := a.Store.FrameworkGet(r.Context(), team(r), r.PathValue("name"))
	if a.frameworkFailed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// frameworkApply takes a framework file as YAML (or its JSON form) and
// creates the framework or a new version of it.
func (a *API) frameworkApply(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("framework file is larger than %d bytes", maxBody), "")
		return
	}
	// JSON is YAML, so one strict parser serves both forms.
	f, err := framework.Parse(body)
	if err != nil {
		var fe *framework.FieldError
		field := ""
		if errors.As(err, &fe) {
			field = fe.Field
		}
		writeError(w, http.StatusBadRequest, err.Error(), field)
		return
	}
	p := principal(r)
	if !p.Can(f.Team, auth.Member) {
		forbidden(w, fmt.Sprintf("changing frameworks of team %q needs the member role there", f.Team))
		return
	}
	if ok, err := a.Store.TeamExists(r.Context(), f.Team); err != nil || !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("team %q does not exist; a site admin creates teams", f.Team), "team")
		return
	}
	existing, err := a.Store.FrameworkGet(r.Context(), f.Team, f.Name)
	switch {
	case err == nil:
		if !p.CanModify(f.Team, existing.Owner) {
			forbidden(w, fmt.Sprintf("framework %s belongs to %s; only they and the team's admins change it", f.Name, existing.Owner))
			return
		}
		f.Owner = existing.Owner
	case errors.Is(err, store.ErrNotFound):
		f.Owner = p.Name
	default:
		a.internal(w, r, err)
		return
	}
	res, err := a.Store.FrameworkApply(r.Context(), f)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if res.Changed {
		a.audit(r, "framework changed", f.Team, f.Name, fmt.Sprintf("version %d", res.Framework.Version))
	}
	status := http.StatusOK
	if res.Changed && res.Framework.Version == 1 {
		status = http.StatusCreated
	}
	a.Log.Info("framework applied", "framework", f.Name, "team", f.Team, "version", res.Framework.Version, "changed", res.Changed)
	writeJSON(w, status, res)
}

func (a *API) testCreate(w http.ResponseWriter, r *http.Request) {
	var req wire.RunRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	a.create(w, r, req, 0)
}

// create validates a run request and starts the test (of a pinned
// framework version, or the current one when version is 0).
func (a *API) create(w http.ResponseWriter, r *http.Request, req wire.RunRequest, version int) {
	if req.Framework == "" {
		writeError(w, http.StatusBadRequest, "framework is required", "framework")
		return
	}
	if req.Team == "" {
		req.Team = "default"
	}
	p := principal(r)
	if !p.Can(req.Team, auth.Viewer) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("framework %q not found in team %q", req.Framework, req.Team), "framework")
		return
	}
	if !p.Can(req.Team, auth.Member) {
		forbidden(w, fmt.Sprintf("running tests in team %q needs the member role there", req.Team))
		return
	}
	if req.PR != nil && *req.PR <= 0 {
		writeError(w, http.StatusBadRequest, "pr must be a positive number", "pr")
		return
	}
	for field, v := range map[string]string{"commit": req.Commit, "branch": req.Branch} {
		if len(v) > 255 || strings.ContainsAny(v, "\x00\n\r") {
			writeError(w, http.StatusBadRequest, field+" must be one line of at most 255 bytes", field)
			return
		}
	}
	if len(req.Tags) > 50 {
		writeError(w, http.StatusBadRequest, "at most 50 tags", "tags")
		return
	}
	for k, v := range req.Tags {
		if k == "" || len(k) > 100 || len(v) > 255 || strings.ContainsAny(k+v, "\x00\n\r") {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("tag %q: keys 1-100 bytes, values up to 255, one line each", k), "tags")
			return
		}
	}
	ctx := r.Context()
	if req.CompareTo != nil {
		other, err := a.Store.TestGet(ctx, *req.CompareTo)
		if err != nil || !p.Can(other.Team, auth.Viewer) || other.Framework != req.Framework || other.State != wire.StateFinished {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("compare_to %d must be a finished test of framework %s", *req.CompareTo, req.Framework), "compare_to")
			return
		}
	}
	var (
		info *wire.FrameworkInfo
		err  error
	)
	if version > 0 {
		info, err = a.Store.FrameworkGetVersion(ctx, req.Team, req.Framework, version)
	} else {
		info, err = a.Store.FrameworkGet(ctx, req.Team, req.Framework)
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("framework %q not found in team %q", req.Framework, req.Team), "framework")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	params, err := info.ResolveParams(req.Params)
	if err != nil {
		var fe *framework.FieldError
		errors.As(err, &fe)
		writeError(w, http.StatusBadRequest, err.Error(), fe.Field)
		return
	}
	id, err := a.Store.TestCreate(ctx, store.NewTest{
		Team: req.Team, Framework: req.Framework, Params: params, Commit: req.Commit, Branch: req.Branch,
		PR: req.PR, Tags: req.Tags, Baseline: req.Baseline, FrameworkVersion: version, Owner: p.Name, CompareTo: req.CompareTo,
	}, time.Now())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if err := a.start(ctx, id, req); err != nil {
		a.Log.Error("start workflow", "test", id, "error", err)
		_ = a.Store.TestTransition(context.WithoutCancel(ctx), store.Transition{
			TestID: id, State: wire.StateFailed, At: time.Now(), Reason: "could not start the test's workflow: " + err.Error(),
		})
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("test %d could not be started: Temporal is unreachable", id), "")
		return
	}
	a.testsCreated.Inc()
	t, err := a.Test(ctx, id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/tests/%d", id))
	writeJSON(w, http.StatusCreated, t)
}

func (a *API) start(ctx context.Context, id int64, req wire.RunRequest) error {
	opts := client.StartWorkflowOptions{
		ID:                    contract.WorkflowID(id),
		TaskQueue:             contract.CentralQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}
	if a.searchAttributes.Load() {
		opts.TypedSearchAttributes = contract.StartAttributes(id, req.Framework, req.Commit, req.Branch)
	}
	_, err := a.Temporal.ExecuteWorkflow(ctx, opts, contract.PerfTestWorkflow, contract.PerfTestInput{TestID: id})
	return err
}

// RegisterSearchAttributes registers Pitwall's search attributes in the
// namespace, retrying while Temporal comes up; tests started before it
// succeeds simply have none.
func (a *API) RegisterSearchAttributes(ctx context.Context, namespace string) {
	for delay := 500 * time.Millisecond; ; delay = min(delay*2, 30*time.Second) {
		err := contract.RegisterSearchAttributes(ctx, a.Temporal, namespace)
		if err == nil {
			a.searchAttributes.Store(true)
			return
		}
		if status.Code(err) == codes.PermissionDenied || status.Code(err) == codes.Unimplemented {
			a.Log.Warn("search attributes not registered; tests will not be searchable in the Temporal UI", "error", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

func (a *API) testGet(w http.ResponseWriter, r *http.Request) {
	t, ok := a.testFromPath(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// Test loads a test and fills in what the API derives: its URL and verdicts.
func (a *API) Test(ctx context.Context, id int64) (*wire.Test, error) {
	t, err := a.Store.TestGet(ctx, id)
	if err != nil {
		return nil, err
	}
	a.decorate(t)
	return t, nil
}

func (a *API) decorate(t *wire.Test) {
	t.URL = fmt.Sprintf("%s/tests/%d", a.PublicURL, t.ID)
	t.WorkflowID = contract.WorkflowID(t.ID)
	if t.State == wire.StateWaiting && t.WaitingFor != "" {
		t.Reason = "waiting for host " + t.WaitingFor
		if t.HeldBy > 0 {
			t.Reason += fmt.Sprintf(", held by test %d", t.HeldBy)
		}
	}
	// A finished test without a stored verdict (from before verdicts
	// existed) had no baseline to be judged against.
	if t.State == wire.StateFinished && t.Verdict == "" {
		t.Verdict = wire.VerdictNoBaseline
	}
	if t.State == wire.StateFinished {
		byName := map[string]string{}
		for _, v := range t.Verdicts {
			byName[v.Name] = v.Verdict
		}
		for i := range t.KPIs {
			if v, ok := byName[t.KPIs[i].Name]; ok {
				t.KPIs[i].Verdict = v
			} else {
				// Not declared in the framework's kpis: no direction to judge by.
				t.KPIs[i].Verdict = ""
			}
		}
	}
	if t.Verdicts == nil {
		t.Verdicts = []wire.KPIVerdict{}
	}
	if t.BaselineTests == nil {
		t.BaselineTests = []int64{}
	}
	if t.KPIs == nil {
		t.KPIs = []wire.KPI{}
	}
	t.KPISummary = wire.Summarize(t.KPIs)
	if t.Notes == nil {
		t.Notes = []string{}
	}
	if t.Timeline == nil {
		t.Timeline = []wire.Stage{}
	}
}

// testList lists tests, newest first: ?framework=&state=&branch=&commit=
// (prefix)&owner=&tag=&from=&to=&limit=&cursor=.
func (a *API) testList(w http.ResponseWriter, r *http.Request) {
	f, err := ParseTestFilter(r.URL.Query())
	if err != nil {
		a.writeActionError(w, r, err)
		return
	}
	out, err := a.ListTests(r, f)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func validState(s string) bool {
	switch s {
	case wire.StateQueued, wire.StateWaiting, wire.StateSetup, wire.StateRunning, wire.StateCollating,
		wire.StateFinished, wire.StateFailed, wire.StateAborted, wire.StateTimedOut:
		return true
	}
	return false
}

func (a *API) agentList(w http.ResponseWriter, r *http.Request) {
	if principal(r).Kind != auth.KindUser {
		forbidden(w, "agents list is for people and CI")
		return
	}
	agents, err := a.Store.AgentList(r.Context())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.List[wire.Agent]{Items: agents})
}

func (a *API) agentHeartbeat(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" || len(name) > 128 || strings.ContainsAny(name, " /\t\n\x00") {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("agent name %q is not valid", name), "name")
		return
	}
	if p := principal(r); !(p.Kind == auth.KindAgent && p.Name == name) && !p.SiteAdmin {
		forbidden(w, "only the agent "+name+" reports for itself")
		return
	}
	var hb wire.Heartbeat
	if err := decodeJSON(w, r, &hb); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	if err := a.Store.AgentUpsert(r.Context(), name, hb); err != nil {
		a.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// team is the team a request acts in; accounts arrive with the security work.
func team(r *http.Request) string {
	if t := r.URL.Query().Get("team"); t != "" {
		return t
	}
	return "default"
}

func (a *API) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	writeError(w, http.StatusInternalServerError, "internal error; the server log has the details", "")
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return fmt.Errorf("content type %q is not application/json", ct)
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg, field string) {
	writeJSON(w, status, wire.Error{Error: msg, Field: field})
}
