// Package frameworks is the framework pages: the list, one framework with
// its versions and tests, the create/edit form that writes a framework
// file, clone, and the new-test form (/tests/new) with rerun.
package frameworks

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/api"
	"github.com/pitwall/pitwall/ui/layout"
)

// Handler serves the framework pages.
type Handler struct {
	store *store.Store
	log   *slog.Logger
	// api serves the JSON API; changes go through it (see call).
	api     http.Handler
	viewAPI *api.API
}

// Routes registers the pages on mux.
func Routes(mux *http.ServeMux, a *api.API, s *store.Store, log *slog.Logger) {
	apiMux := http.NewServeMux()
	a.Routes(apiMux)
	h := &Handler{store: s, log: log, api: apiMux, viewAPI: a}
	mux.HandleFunc("GET /frameworks", h.list)
	mux.HandleFunc("GET /frameworks/new", h.newForm)
	mux.HandleFunc("POST /frameworks/new", h.submit)
	mux.HandleFunc("POST /frameworks/preview", h.preview)
	mux.HandleFunc("GET /frameworks/{name}", h.page)
	mux.HandleFunc("GET /frameworks/{name}/versions/{version}", h.version)
	mux.HandleFunc("GET /frameworks/{name}/edit", h.editForm)
	mux.HandleFunc("POST /frameworks/{name}/edit", h.submit)
	mux.HandleFunc("POST /frameworks/{name}/clone", h.clone)
	mux.HandleFunc("GET /tests/new", h.newTest)
	mux.HandleFunc("POST /tests/new", h.createTest)
	mux.HandleFunc("POST /tests/{id}/rerun", h.rerun)
}

// problem answers with a small error page.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	layout.Render(w, r, status, problemView(status, msg))
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("framework page", "path", r.URL.Path, "error", err)
	h.problem(w, r, http.StatusInternalServerError, "internal error; the server log has the details")
}

func team(r *http.Request) string {
	if t := r.URL.Query().Get("team"); t != "" {
		return t
	}
	return "default"
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	all, err := h.store.FrameworkList(r.Context())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	p := auth.From(r.Context())
	var rows []listRow
	for _, f := range all {
		if !p.Can(f.Team, auth.Viewer) {
			continue
		}
		row := listRow{Info: f}
		last, err := h.store.TestList(r.Context(), store.TestFilter{Framework: f.Name, Teams: []string{f.Team}, Limit: 1})
		if err != nil {
			h.internal(w, r, err)
			return
		}
		if len(last) > 0 {
			if t, err := h.viewAPI.ViewTest(r.Context(), last[0].ID); err == nil {
				row.Last = t
			}
		}
		rows = append(rows, row)
	}
	layout.Render(w, r, http.StatusOK, listView(rows, len(memberTeams(p)) > 0))
}

// load reads a framework the principal may see (?team=), answering 404 itself.
func (h *Handler) load(w http.ResponseWriter, r *http.Request) (*wire.FrameworkInfo, bool) {
	name, tm := r.PathValue("name"), team(r)
	if !auth.From(r.Context()).Can(tm, auth.Viewer) {
		h.problem(w, r, http.StatusNotFound, fmt.Sprintf("framework %q not found", name))
		return nil, false
	}
	info, err := h.store.FrameworkGet(r.Context(), tm, name)
	if errors.Is(err, store.ErrNotFound) {
		h.problem(w, r, http.StatusNotFound, fmt.Sprintf("framework %q not found in team %q", name, tm))
		return nil, false
	}
	if err != nil {
		h.internal(w, r, err)
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
	}
	h.render(w, r, http.StatusOK, m)
}

// render draws the framework page (also with a refused clone's error).
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, m *pageModel) {
	y, err := m.Info.YAML()
	if err != nil {
		h.internal(w, r, err)
		return
	}
	m.YAML = string(y)
	if m.Versions, err = h.store.FrameworkVersions(r.Context(), m.Info.Team, m.Info.Name); err != nil {
		h.internal(w, r, err)
		return
	}
	if m.Tests, err = h.store.TestList(r.Context(), store.TestFilter{Framework: m.Info.Name, Teams: []string{m.Info.Team}, Limit: 20}); err != nil {
		h.internal(w, r, err)
		return
	}
	p := auth.From(r.Context())
	m.CanEdit = p.CanModify(m.Info.Team, m.Info.Owner)
	m.CanRun = p.Can(m.Info.Team, auth.Member)
	layout.Render(w, r, status, pageView(m))
}

func (h *Handler) version(w http.ResponseWriter, r *http.Request) {
	name, tm := r.PathValue("name"), team(r)
	var info wire.FrameworkInfo
	path := fmt.Sprintf("/api/v1/frameworks/%s/versions/%s?team=%s", url.PathEscape(name), url.PathEscape(r.PathValue("version")), url.QueryEscape(tm))
	if e := h.call(r, http.MethodGet, path, "", nil, &info); e != nil {
		h.problem(w, r, e.Status, e.Msg)
		return
	}
	y, err := info.YAML()
	if err != nil {
		h.internal(w, r, err)
		return
	}
	layout.Render(w, r, http.StatusOK, versionView(&info, string(y)))
}

func (h *Handler) clone(w http.ResponseWriter, r *http.Request) {
	name, tm := r.PathValue("name"), team(r)
	newName := strings.TrimSpace(r.PostFormValue("new_name"))
	body, _ := jsonBody(map[string]string{"name": newName})
	var res wire.ApplyResult
	path := fmt.Sprintf("/api/v1/frameworks/%s/clone?team=%s", url.PathEscape(name), url.QueryEscape(tm))
	if e := h.call(r, http.MethodPost, path, "application/json", body, &res); e != nil {
		if e.Status != http.StatusBadRequest && e.Status != http.StatusConflict {
			h.problem(w, r, e.Status, e.Msg)
			return
		}
		info, ok := h.load(w, r)
		if !ok {
			return
		}
		h.render(w, r, e.Status, &pageModel{Info: info, CloneName: newName, CloneError: e.Msg})
		return
	}
	http.Redirect(w, r, frameworkURL(res.Framework.Name, res.Framework.Team)+"&cloned="+url.QueryEscape(name), http.StatusSeeOther)
}

// memberTeams are the teams the principal may create frameworks and run tests in.
func memberTeams(p *auth.Principal) []string {
	var out []string
	for t := range p.Teams {
		if p.Can(t, auth.Member) {
			out = append(out, t)
		}
	}
	if p.SiteAdmin && !slices.Contains(out, "default") {
		out = append(out, "default")
	}
	slices.Sort(out)
	return out
}

// prepare adds the choices the form offers: the user's teams and the agents.
func (h *Handler) prepare(r *http.Request, f *form) error {
	f.Teams = memberTeams(auth.From(r.Context()))
	if f.Team != "" && !slices.Contains(f.Teams, f.Team) {
		f.Teams = append(f.Teams, f.Team)
	}
	agents, err := h.store.AgentList(r.Context())
	f.Agents = agents
	return err
}

func (h *Handler) showForm(w http.ResponseWriter, r *http.Request, status int, f *form) {
	if err := h.prepare(r, f); err != nil {
		h.internal(w, r, err)
		return
	}
	f.pad()
	layout.Render(w, r, status, formView(f))
}

func (h *Handler) newForm(w http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	teams := memberTeams(p)
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
	if !auth.From(r.Context()).CanModify(info.Team, info.Owner) {
		h.problem(w, r, http.StatusForbidden, fmt.Sprintf("framework %s belongs to %s; only they and the team's admins change it", info.Name, info.Owner))
		return
	}
	f := formFrom(&info.Framework)
	f.Edit = true
	if r.URL.Query().Get("mode") == "yaml" {
		f.Mode = "yaml"
		y, err := info.YAML()
		if err != nil {
			h.internal(w, r, err)
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
	if f.Edit && auth.From(r.Context()).Can(f.Team, auth.Viewer) {
		if info, err := h.store.FrameworkGet(r.Context(), f.Team, f.Name); err == nil {
			base = &info.Framework
			base.Owner = ""
		}
	}
	fw, paramRows, kpiRows := f.framework(base)
	y, err := fw.YAML()
	if err != nil {
		f.fail("", err.Error())
		return nil
	}
	if len(f.Errors) > 0 {
		return nil
	}
	if _, err := framework.Parse(y); err != nil {
		f.placeError(fieldOf(err), err.Error(), paramRows, kpiRows)
		return nil
	}
	f.Preview = string(y)
	return y
}

// submit handles the create and edit forms: preview, add or remove a row,
// or apply through POST /api/v1/frameworks.
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
		var res wire.ApplyResult
		if e := h.call(r, http.MethodPost, "/api/v1/frameworks", "application/yaml", y, &res); e != nil {
			status := e.Status
			if status == http.StatusForbidden || status == http.StatusBadRequest {
				f.placeError(e.Field, e.Msg, nil, nil)
				if e.Field == "" || status == http.StatusForbidden {
					f.fail("", e.Msg)
				}
			} else {
				f.fail("", e.Msg)
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
