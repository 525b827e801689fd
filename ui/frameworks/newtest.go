package frameworks

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/httperr"
	"github.com/pitwall/pitwall/ui/layout"
)

// testForm is the new-test form with what the user typed.
type testForm struct {
	Framework, Team string
	Info            *wire.FrameworkInfo
	// Params holds the value per framework parameter (defaults at first).
	Params               map[string]string
	Branch, Commit, Tags string
	Baseline             bool
	CompareTo            string
	CloneOf              int64
	Errors               map[string]string
}

func (f *testForm) fail(key, msg string) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	if _, ok := f.Errors[key]; !ok {
		f.Errors[key] = msg
	}
}

func (h *Handler) newTest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := &testForm{Framework: q.Get("framework"), Team: service.TeamOr(q.Get("team")), Params: map[string]string{}}
	if s := q.Get("clone"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			h.problem(w, r, http.StatusBadRequest, "clone must be a test ID")
			return
		}
		t, err := h.Tests.View(r.Context(), id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.Framework, f.Team, f.CloneOf = t.Framework, t.Team, t.ID
		f.Branch, f.Commit = t.Branch, t.Commit
		for _, p := range t.Params {
			f.Params[p.Name] = p.Value
		}
		var tags []string
		for k, v := range t.Tags {
			tags = append(tags, k+"="+v)
		}
		slices.Sort(tags)
		f.Tags = strings.Join(tags, "\n")
	}
	if f.Framework == "" && f.CloneOf == 0 {
		h.pickFramework(w, r)
		return
	}
	if !h.loadForTest(w, r, f) {
		return
	}
	for _, p := range f.Info.Parameters {
		if _, ok := f.Params[p.Name]; !ok {
			f.Params[p.Name] = p.Default
		}
	}
	layout.Render(w, r, http.StatusOK, newTestView(f))
}

// loadForTest finds the form's framework and checks the principal may run
// it (starting the test checks again).
func (h *Handler) loadForTest(w http.ResponseWriter, r *http.Request, f *testForm) bool {
	if f.Framework == "" {
		h.problem(w, r, http.StatusBadRequest, "say which framework: /tests/new?framework=NAME")
		return false
	}
	info, err := h.Tests.Runnable(r.Context(), f.Team, f.Framework, 0)
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	f.Info = info
	return true
}

// createTest checks the form against the framework's parameters and starts
// the test through the tests service.
func (h *Handler) createTest(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.problem(w, r, http.StatusBadRequest, "bad form: "+err.Error())
		return
	}
	v := r.PostForm
	f := &testForm{Framework: v.Get("framework"), Team: v.Get("team"), Params: map[string]string{},
		Branch: strings.TrimSpace(v.Get("branch")), Commit: strings.TrimSpace(v.Get("commit")),
		Tags: strings.ReplaceAll(v.Get("tags"), "\r\n", "\n"), Baseline: v.Get("baseline") != "",
		CompareTo: strings.TrimSpace(v.Get("compare_to"))}
	f.Team = service.TeamOr(f.Team)
	f.CloneOf, _ = strconv.ParseInt(v.Get("clone"), 10, 64)
	if !h.loadForTest(w, r, f) {
		return
	}
	for key, vals := range v {
		if name, ok := strings.CutPrefix(key, "param."); ok {
			f.Params[name] = vals[0]
		}
	}
	req := wire.RunRequest{Framework: f.Framework, Team: f.Team, Params: map[string]string{},
		Branch: f.Branch, Commit: f.Commit, Baseline: f.Baseline}
	for _, p := range f.Info.Parameters {
		val, ok := f.Params[p.Name]
		switch {
		case !ok:
			f.fail("param."+p.Name, "missing: the form did not send this parameter")
		case val == "" && p.Default == "":
			f.fail("param."+p.Name, "required: this parameter has no default")
		}
	}
	for name, val := range f.Params {
		req.Params[name] = val // unknown names are refused by the API, next to the field
	}
	for i, line := range strings.Split(f.Tags, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			f.fail("tags", fmt.Sprintf("line %d: write tags as key=value, one a line", i+1))
			continue
		}
		if req.Tags == nil {
			req.Tags = map[string]string{}
		}
		req.Tags[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	if f.CompareTo != "" {
		n, err := strconv.ParseInt(f.CompareTo, 10, 64)
		if err != nil || n <= 0 {
			f.fail("compare_to", "give the ID of a finished test of this framework")
		} else {
			req.CompareTo = &n
		}
	}
	if len(f.Errors) > 0 {
		layout.Render(w, r, http.StatusBadRequest, newTestView(f))
		return
	}
	t, err := h.Tests.Start(r.Context(), req)
	if err != nil {
		status, msg := httperr.Explain(h.Log, r, err)
		key := httperr.Field(err)
		if name, ok := strings.CutPrefix(key, "params."); ok {
			key = "param." + name
		}
		if key == "" || key == "framework" {
			key = "general"
		}
		f.fail(key, msg)
		layout.Render(w, r, status, newTestView(f))
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/tests/%d", t.ID), http.StatusSeeOther)
}

// rerun runs a test again exactly, for its owner and the team's admins.
func (h *Handler) rerun(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.problem(w, r, http.StatusBadRequest, fmt.Sprintf("test ID %q is not a positive number", r.PathValue("id")))
		return
	}
	t, err := h.Tests.Rerun(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, tests.PagePath(t.ID), http.StatusSeeOther)
}

func (f *testForm) paramValue(name string) string { return f.Params[name] }

func (f *testForm) extraParams() []string {
	var out []string
	for name := range f.Params {
		if !slices.ContainsFunc(f.Info.Parameters, func(p framework.Parameter) bool { return p.Name == name }) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// pickFramework answers /tests/new without a framework: the frameworks the
// principal may run, to choose from.
func (h *Handler) pickFramework(w http.ResponseWriter, r *http.Request) {
	all, err := h.Frameworks.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var runnable []wire.FrameworkInfo
	for _, f := range all {
		if tests.MayRun(r.Context(), f.Team) {
			runnable = append(runnable, f)
		}
	}
	layout.Render(w, r, http.StatusOK, pickView(runnable))
}
