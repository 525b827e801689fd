package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// maxSeriesPoints bounds the points per series one request may ask for.
const maxSeriesPoints = 10000

func (a *API) queryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/tests/{id}/series", a.series)
	mux.HandleFunc("GET /api/v1/compare", a.compare)
	mux.HandleFunc("POST /api/v1/tests/{id}/clone", a.testClone)
	mux.HandleFunc("POST /api/v1/tests/{id}/rerun", a.testRerun)
	mux.HandleFunc("DELETE /api/v1/tests/{id}", a.testDelete)
	mux.HandleFunc("GET /api/v1/frameworks/{name}/versions", a.frameworkVersions)
	mux.HandleFunc("GET /api/v1/frameworks/{name}/versions/{version}", a.frameworkVersion)
	mux.HandleFunc("POST /api/v1/frameworks/{name}/clone", a.frameworkClone)
	mux.HandleFunc("GET /api/v1/frameworks/{name}/changepoints", a.changePointList)
	mux.HandleFunc("POST /api/v1/changepoints/{cid}/accept", a.changePointAccept)
}

// changePointList lists the change points found in a framework's KPI histories.
func (a *API) changePointList(w http.ResponseWriter, r *http.Request) {
	if !a.viewTeam(w, r) {
		return
	}
	list, err := a.Store.ChangePointList(r.Context(), team(r), r.PathValue("name"))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if list == nil {
		list = []store.ChangePoint{}
	}
	writeJSON(w, http.StatusOK, wire.List[store.ChangePoint]{Items: list})
}

// changePointAccept marks a change as intended (team admins): later
// verdicts judge against the new level.
func (a *API) changePointAccept(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("cid"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "change point ID must be a positive number", "id")
		return
	}
	cp, err := a.AcceptChangePoint(r, id)
	if err != nil {
		a.writeActionError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cp)
}

// series returns a test's samples: ?host=&metric=(name or prefix*)&from=&to=
// (RFC 3339 or Unix ms)&step=(duration)&points=(at most per series, default 1000).
func (a *API) series(w http.ResponseWriter, r *http.Request) {
	t, ok := a.testFromPath(w, r)
	if !ok {
		return
	}
	id := t.ID
	q := r.URL.Query()
	sq := store.SeriesQuery{TestID: id, Host: q.Get("host"), Metric: q.Get("metric"), Points: 1000}
	if s := q.Get("points"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSeriesPoints {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("points must be between 1 and %d", maxSeriesPoints), "points")
			return
		}
		sq.Points = n
	}
	first, last, any, err := a.Store.SeriesRange(r.Context(), id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if !any {
		writeJSON(w, http.StatusOK, wire.List[wire.Series]{Items: []wire.Series{}})
		return
	}
	sq.From, sq.To = first, last
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &sq.From}, {"to", &sq.To}} {
		if s := q.Get(p.name); s != "" {
			t, err := parseTime(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, p.name+": "+err.Error(), p.name)
				return
			}
			*p.dst = t
		}
	}
	if sq.To.Before(sq.From) {
		writeError(w, http.StatusBadRequest, "to is before from", "to")
		return
	}
	// Buckets wide enough for at most Points points, or the step asked for if wider.
	// ceil((to - from + 1 ms) / points): the last sample falls in the last bucket.
	span := sq.To.Sub(sq.From).Milliseconds() + 1
	sq.Step = time.Duration((span+int64(sq.Points)-1)/int64(sq.Points)) * time.Millisecond
	if s := q.Get("step"); s != "" {
		step, err := time.ParseDuration(s)
		if err != nil || step <= 0 {
			writeError(w, http.StatusBadRequest, "step must be a duration such as 1s", "step")
			return
		}
		sq.Step = max(sq.Step, step)
	}
	list, err := a.Store.SeriesGet(r.Context(), sq)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if list == nil {
		list = []wire.Series{}
	}
	writeJSON(w, http.StatusOK, wire.List[wire.Series]{Items: list})
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

// compare puts 2-10 tests side by side: ?ids=1,2,3.
func (a *API) compare(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.URL.Query().Get("ids"), ",")
	if len(parts) < 2 || len(parts) > 10 {
		writeError(w, http.StatusBadRequest, "ids must list 2 to 10 test IDs, comma-separated", "ids")
		return
	}
	var tests []wire.Test
	for _, p := range parts {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || id <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("test ID %q is not a positive number", p), "ids")
			return
		}
		t, ok := a.loadTest(w, r, id)
		if !ok {
			return
		}
		tests = append(tests, *t)
	}
	writeJSON(w, http.StatusOK, wire.Compare(tests))
}

// testClone starts a new test like an old one, with the framework's
// current version; the body may change params, commit, branch, PR and tags.
func (a *API) testClone(w http.ResponseWriter, r *http.Request) {
	a.again(w, r, false)
}

// testRerun runs exactly the same test again: same framework version,
// parameters and commit.
func (a *API) testRerun(w http.ResponseWriter, r *http.Request) {
	a.again(w, r, true)
}

func (a *API) again(w http.ResponseWriter, r *http.Request, exact bool) {
	old, ok := a.testFromPath(w, r)
	if !ok {
		return
	}
	if exact && !principal(r).CanModify(old.Team, old.Owner) {
		forbidden(w, "only the test's owner and the team's admins rerun it")
		return
	}
	req := wire.RunRequest{Framework: old.Framework, Team: old.Team, Commit: old.Commit, Branch: old.Branch,
		PR: old.PR, Tags: old.Tags, Params: map[string]string{}}
	for _, p := range old.Params {
		req.Params[p.Name] = p.Value
	}
	if !exact && r.ContentLength != 0 {
		var over wire.RunRequest
		if err := decodeJSON(w, r, &over); err != nil {
			writeError(w, http.StatusBadRequest, err.Error(), "")
			return
		}
		if over.Framework != "" && over.Framework != old.Framework {
			writeError(w, http.StatusBadRequest, "a clone keeps its framework", "framework")
			return
		}
		for k, v := range over.Params {
			req.Params[k] = v
		}
		if over.Commit != "" {
			req.Commit = over.Commit
		}
		if over.Branch != "" {
			req.Branch = over.Branch
		}
		if over.PR != nil {
			req.PR = over.PR
		}
		if over.Tags != nil {
			req.Tags = over.Tags
		}
		req.Baseline = over.Baseline
	}
	version := 0
	if exact {
		version = old.FrameworkVersion
	}
	a.create(w, r, req, version)
}

func (a *API) testDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := a.DeleteTest(r, id); err != nil {
		a.writeActionError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) frameworkVersions(w http.ResponseWriter, r *http.Request) {
	if !a.viewTeam(w, r) {
		return
	}
	list, err := a.Store.FrameworkVersions(r.Context(), team(r), r.PathValue("name"))
	if a.frameworkFailed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, wire.List[store.FrameworkVersion]{Items: list})
}

func (a *API) frameworkVersion(w http.ResponseWriter, r *http.Request) {
	if !a.viewTeam(w, r) {
		return
	}
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		writeError(w, http.StatusBadRequest, "version must be a positive number", "version")
		return
	}
	info, err := a.Store.FrameworkGetVersion(r.Context(), team(r), r.PathValue("name"), v)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("framework %q has no version %d", r.PathValue("name"), v), "version")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// frameworkClone copies a framework under a new name: {"name": "..."}.
func (a *API) frameworkClone(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	if !a.viewTeam(w, r) {
		return
	}
	info, err := a.Store.FrameworkGet(r.Context(), team(r), r.PathValue("name"))
	if a.frameworkFailed(w, r, err) {
		return
	}
	if !principal(r).Can(info.Team, auth.Member) {
		forbidden(w, "cloning a framework needs the member role in its team")
		return
	}
	if _, err := a.Store.FrameworkGet(r.Context(), info.Team, req.Name); err == nil {
		writeError(w, http.StatusConflict, fmt.Sprintf("framework %q already exists", req.Name), "name")
		return
	}
	f := info.Framework
	f.Name = req.Name
	f.Owner = principal(r).Name
	if err := f.Validate(); err != nil {
		var fe *framework.FieldError
		field := ""
		if errors.As(err, &fe) {
			field = fe.Field
		}
		writeError(w, http.StatusBadRequest, err.Error(), field)
		return
	}
	res, err := a.Store.FrameworkApply(r.Context(), &f)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

// viewTeam checks the principal may see the team of ?team= (default
// "default"); otherwise it answers 404 for the framework.
func (a *API) viewTeam(w http.ResponseWriter, r *http.Request) bool {
	if !principal(r).Can(team(r), auth.Viewer) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("framework %q not found", r.PathValue("name")), "name")
		return false
	}
	return true
}

// frameworkFailed answers a failed framework lookup (404 for a missing
// framework, 500 otherwise) and reports whether it did.
func (a *API) frameworkFailed(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("framework %q not found", r.PathValue("name")), "name")
	default:
		a.internal(w, r, err)
	}
	return true
}
