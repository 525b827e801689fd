// Package frameworks is the framework pages: the list, one framework with
// its versions and tests, the create/edit form that writes a framework
// file, clone, and the new-test form (/tests/new) with rerun.
package frameworks

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/agents"
	alertsvc "github.com/pitwall/pitwall/service/alerts"
	"github.com/pitwall/pitwall/service/changepoints"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/service/schedules"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/httperr"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/route"
)

// Handler serves the framework pages; every read and change goes through
// the frameworks and tests services.
type Handler struct {
	Frameworks *frameworks.Service
	Tests      *tests.Service
	Agents     *agents.Service
	Schedules  *schedules.Service
	// Alerts and ChangePoints give the page's open regressions (nil: none).
	Alerts       *alertsvc.Service
	ChangePoints *changepoints.Service
	Log          *slog.Logger
}

// Routes registers the pages on mux; the forms that carry a framework
// file take one as large as the API does.
func (h *Handler) Routes(mux *route.Mux) {
	file := route.Policy{Body: frameworks.MaxFile}
	mux.HandleFunc("GET /frameworks", h.list)
	mux.HandleFunc("GET /frameworks/new", h.newForm)
	mux.Route("POST /frameworks/new", file, h.submit)
	mux.Route("POST /frameworks/preview", file, h.preview)
	mux.HandleFunc("GET /frameworks/{name}", h.page)
	mux.HandleFunc("GET /frameworks/{name}/versions/{version}", h.version)
	mux.HandleFunc("GET /frameworks/{name}/edit", h.editForm)
	mux.Route("POST /frameworks/{name}/edit", file, h.submit)
	mux.HandleFunc("POST /frameworks/{name}/clone", h.clone)
	mux.HandleFunc("GET /tests/new", h.newTest)
	mux.HandleFunc("POST /tests/new", h.createTest)
	mux.HandleFunc("POST /tests/{id}/rerun", h.rerun)
	mux.HandleFunc("POST /frameworks/{name}/schedules", h.scheduleCreate)
	mux.HandleFunc("POST /schedules/{id}/pause", h.scheduleAction("pause"))
	mux.HandleFunc("POST /schedules/{id}/resume", h.scheduleAction("resume"))
	mux.HandleFunc("POST /schedules/{id}/trigger", h.scheduleAction("trigger"))
	mux.HandleFunc("POST /schedules/{id}/delete", h.scheduleAction("delete"))
	mux.HandleFunc("POST /schedules/{id}/edit", h.scheduleEdit)
	mux.HandleFunc("POST /schedules/{id}/backfill", h.scheduleBackfill)
}

// problem answers with a small error page.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	layout.Problem(w, r, status, msg)
}

// fail answers a service error with its status and message on the error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := httperr.Explain(h.Log, r, err)
	h.problem(w, r, status, msg)
}

// ref is the framework the path names in the team of ?team=.
func ref(r *http.Request) frameworks.Ref {
	return frameworks.Ref{Team: r.URL.Query().Get("team"), Name: r.PathValue("name")}
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	all, err := h.Frameworks.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var rows []listRow
	for _, f := range all {
		row := listRow{Info: f}
		last, err := h.Tests.OfFramework(r.Context(), f.Team, f.Name, 1)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if len(last) > 0 {
			row.Last = &last[0]
		}
		rows = append(rows, row)
	}
	layout.Render(w, r, http.StatusOK, listView(rows, len(frameworks.MemberTeams(r.Context())) > 0))
}

// load reads the framework the path names, answering failures itself.
func (h *Handler) load(w http.ResponseWriter, r *http.Request) (*wire.FrameworkInfo, bool) {
	info, err := h.Frameworks.Get(r.Context(), ref(r))
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return info, true
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	info, ok := h.load(w, r)
	if !ok {
		return
	}
	m := &pageModel{Info: info}
	q := r.URL.Query()
	switch {
	case q.Get("created") != "":
		m.Notice = "version " + q.Get("created") + " created"
	case q.Get("unchanged") != "":
		m.Notice = "unchanged: the file matches version " + q.Get("unchanged")
	case q.Get("cloned") != "":
		m.Notice = "cloned from " + q.Get("cloned")
	case q.Get("did") != "":
		m.Notice = scheduleNotice(q)
	}
	h.render(w, r, http.StatusOK, m)
}

// render draws the framework page (also with a refused clone's error).
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, m *pageModel) {
	y, err := m.Info.YAML()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m.YAML = string(y)
	ref := frameworks.Ref{Team: m.Info.Team, Name: m.Info.Name}
	if m.Versions, err = h.Frameworks.Versions(r.Context(), ref); err != nil {
		h.fail(w, r, err)
		return
	}
	if m.Tests, err = h.Tests.OfFramework(r.Context(), m.Info.Team, m.Info.Name, 20); err != nil {
		h.fail(w, r, err)
		return
	}
	if m.Noise, err = h.Tests.FrameworkNoise(r.Context(), m.Info.Team, m.Info.Name); err != nil {
		h.fail(w, r, err)
		return
	}
	m.CanEdit = frameworks.MayEdit(r.Context(), m.Info)
	m.CanRun = tests.MayRun(r.Context(), m.Info.Team)
	if h.Schedules != nil {
		m.NoiseSchedule = h.Schedules.NoiseSchedule(r.Context(), m.Info)
		if m.Schedules, err = h.Schedules.List(r.Context(), m.Info.Team, m.Info.Name); err != nil {
			h.fail(w, r, err)
			return
		}
		if m.ScheduleForm == nil {
			m.ScheduleForm = newScheduleForm()
		}
	}
	if err := h.regressions(r.Context(), m); err != nil {
		h.fail(w, r, err)
		return
	}
	layout.Render(w, r, status, pageView(m))
}

// regressions fills in the framework's unresolved alerts and the change
// points nobody accepted (weak ones left out).
func (h *Handler) regressions(ctx context.Context, m *pageModel) error {
	if h.Alerts != nil {
		var err error
		m.Alerts, err = h.Alerts.List(ctx, store.AlertFilter{Team: m.Info.Team, Framework: m.Info.Name,
			State: store.AlertUnresolved, Limit: 20})
		if err != nil {
			return err
		}
	}
	if h.ChangePoints == nil {
		return nil
	}
	cps, err := h.ChangePoints.List(ctx, m.Info.Team, m.Info.Name)
	if err != nil {
		return err
	}
	for _, c := range cps {
		if c.AcceptedAt == nil && !c.Weak {
			m.ChangePoints = append(m.ChangePoints, c)
		}
	}
	return nil
}

func (h *Handler) version(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		v = 0
	}
	info, err := h.Frameworks.Version(r.Context(), ref(r), v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	y, err := info.YAML()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	layout.Render(w, r, http.StatusOK, versionView(info, string(y)))
}

func (h *Handler) clone(w http.ResponseWriter, r *http.Request) {
	newName := strings.TrimSpace(r.PostFormValue("new_name"))
	res, err := h.Frameworks.Clone(r.Context(), ref(r), newName)
	if err != nil {
		status := httperr.Status(err)
		if status != http.StatusBadRequest && status != http.StatusConflict {
			h.fail(w, r, err)
			return
		}
		info, ok := h.load(w, r)
		if !ok {
			return
		}
		h.render(w, r, status, &pageModel{Info: info, CloneName: newName, CloneError: httperr.Message(err)})
		return
	}
	http.Redirect(w, r, frameworkURL(res.Framework.Name, res.Framework.Team)+"&cloned="+url.QueryEscape(r.PathValue("name")), http.StatusSeeOther)
}

// prepare adds the choices the form offers: the user's teams and the agents.
func (h *Handler) prepare(r *http.Request, f *form) error {
	f.Teams = frameworks.MemberTeams(r.Context())
	if f.Team != "" && !slices.Contains(f.Teams, f.Team) {
		f.Teams = append(f.Teams, f.Team)
	}
	agents, err := h.Agents.List(r.Context())
	f.Agents = agents
	return err
}

func (h *Handler) showForm(w http.ResponseWriter, r *http.Request, status int, f *form) {
	if err := h.prepare(r, f); err != nil {
		h.fail(w, r, err)
		return
	}
	f.pad()
	layout.Render(w, r, status, formView(f))
}

func (h *Handler) newForm(w http.ResponseWriter, r *http.Request) {
	teams := frameworks.MemberTeams(r.Context())
	if len(teams) == 0 {
		h.problem(w, r, http.StatusForbidden, "creating frameworks needs the member role in a team")
		return
	}
	f := &form{Mode: "form", Team: r.URL.Query().Get("team"), ScriptKind: "inline", Args: framework.ArgsPositional,
		Timeout: "10m", Baseline: "main", Script: "#!/bin/sh\n# Write KPIs as 'Key, Value' lines:\necho \"Latency-ms, 12.5\" > results.csv\n"}
	if r.URL.Query().Get("mode") == "yaml" {
		f.Mode = "yaml"
		f.YAML = "name: \nteam: " + teams[0] + "\nexecution:\n  script: |\n    #!/bin/sh\n    echo \"Latency-ms, 12.5\" > results.csv\n"
	}
	if f.Team == "" {
		f.Team = teams[0]
	}
	h.showForm(w, r, http.StatusOK, f)
}

func (h *Handler) editForm(w http.ResponseWriter, r *http.Request) {
	info, ok := h.load(w, r)
	if !ok {
		return
	}
	if err := frameworks.CheckEdit(r.Context(), info); err != nil {
		h.fail(w, r, err)
		return
	}
	f := formFrom(&info.Framework)
	f.Edit = true
	if r.URL.Query().Get("mode") == "yaml" {
		f.Mode = "yaml"
		y, err := info.YAML()
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f.YAML = string(y)
	}
	h.showForm(w, r, http.StatusOK, f)
}

// build turns a posted form into a framework file, validated by the same
// parser the API uses; errors land on the form.
func (h *Handler) build(r *http.Request, f *form) []byte {
	if f.Mode == "yaml" {
		fw, err := framework.Parse([]byte(f.YAML))
		if err != nil {
			f.fail("yaml", err.Error())
			return nil
		}
		if f.Edit && (fw.Name != f.Name || fw.Team != f.Team) {
			f.fail("yaml", fmt.Sprintf("this page edits %s of team %s; to make another framework, use New framework or Clone", f.Name, f.Team))
			return nil
		}
		f.Preview = f.YAML
		return []byte(f.YAML)
	}
	var base *framework.Framework
	// The live preview names the framework in its form values: read it
	// only for someone who may see it.
	if f.Edit {
		if info, err := h.Frameworks.Get(r.Context(), frameworks.Ref{Team: f.Team, Name: f.Name}); err == nil {
			base = &info.Framework
			base.Owner = ""
		}
	}
	fw, paramRows, kpiRows, serviceRows := f.framework(base)
	y, err := fw.YAML()
	if err != nil {
		f.fail("", err.Error())
		return nil
	}
	if len(f.Errors) > 0 {
		return nil
	}
	if _, err := framework.Parse(y); err != nil {
		f.placeError(fieldOf(err), err.Error(), paramRows, kpiRows, serviceRows)
		return nil
	}
	f.Preview = string(y)
	return y
}

// submit handles the create and edit forms: preview, add or remove a row,
// or apply through the frameworks service.
func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.problem(w, r, http.StatusBadRequest, "bad form: "+err.Error())
		return
	}
	f := parseForm(r.PostForm)
	if name := r.PathValue("name"); name != "" {
		// Editing: the path names the framework, not the form.
		info, ok := h.load(w, r)
		if !ok {
			return
		}
		f.Edit, f.Name, f.Team = true, info.Name, info.Team
	}
	action := r.PostForm.Get("action")
	switch {
	case action == "add_param":
		f.Params = append(f.Params, paramRow{})
	case action == "add_kpi":
		f.KPIs = append(f.KPIs, kpiRow{})
	case strings.HasPrefix(action, "remove_param_"):
		if i, err := strconv.Atoi(strings.TrimPrefix(action, "remove_param_")); err == nil && i >= 0 && i < len(f.Params) {
			f.Params = slices.Delete(f.Params, i, i+1)
		}
	case strings.HasPrefix(action, "remove_kpi_"):
		if i, err := strconv.Atoi(strings.TrimPrefix(action, "remove_kpi_")); err == nil && i >= 0 && i < len(f.KPIs) {
			f.KPIs = slices.Delete(f.KPIs, i, i+1)
		}
	case action == "apply":
		y := h.build(r, f)
		if y == nil {
			h.showForm(w, r, http.StatusBadRequest, f)
			return
		}
		res, err := h.Frameworks.Apply(r.Context(), y)
		if err != nil {
			status, msg := httperr.Explain(h.Log, r, err)
			field := httperr.Field(err)
			if status == http.StatusForbidden || status == http.StatusBadRequest {
				f.placeError(field, msg, nil, nil, nil)
				if field == "" || status == http.StatusForbidden {
					f.fail("", msg)
				}
			} else {
				f.fail("", msg)
			}
			h.showForm(w, r, status, f)
			return
		}
		q := "&created=" + strconv.Itoa(res.Framework.Version)
		if !res.Changed {
			q = "&unchanged=" + strconv.Itoa(res.Framework.Version)
		}
		http.Redirect(w, r, frameworkURL(res.Framework.Name, res.Framework.Team)+q, http.StatusSeeOther)
		return
	default: // preview
		if h.build(r, f) == nil {
			h.showForm(w, r, http.StatusBadRequest, f)
			return
		}
	}
	h.showForm(w, r, http.StatusOK, f)
}

// preview answers htmx's live preview: the YAML the form makes, or its errors.
func (h *Handler) preview(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.problem(w, r, http.StatusBadRequest, "bad form: "+err.Error())
		return
	}
	f := parseForm(r.PostForm)
	f.Edit = r.PostForm.Get("edit") == "1"
	h.build(r, f)
	layout.Render(w, r, http.StatusOK, previewBox(f))
}
