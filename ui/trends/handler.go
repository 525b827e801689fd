// Package trends is /trends?framework=NAME&kpi=K: a KPI's value across
// tests over time, its change points, and accepting a change as intended.
package trends

import (
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
	"github.com/pitwall/pitwall/service/changepoints"
	"github.com/pitwall/pitwall/service/frameworks"
	"github.com/pitwall/pitwall/ui/layout"
	"github.com/pitwall/pitwall/ui/route"
)

// Handler serves the trends page and its accept form.
type Handler struct {
	Frameworks   *frameworks.Service
	ChangePoints *changepoints.Service
	Log          *slog.Logger
}

// Routes registers GET /trends and POST /trends/changepoints/{cid}/accept.
func (h Handler) Routes(mux *route.Mux) {
	mux.HandleFunc("GET /trends", h.trends)
	mux.HandleFunc("POST /trends/changepoints/{cid}/accept", h.accept)
}

func (h Handler) trends(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := model{Framework: q.Get("framework"), KPI: q.Get("kpi"), Branch: q.Get("branch"), ParamsText: q.Get("params"),
		Team: q.Get("team"), Accepted: q.Get("accepted")}
	var err error
	if m.Frameworks, err = h.Frameworks.List(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	if m.Framework == "" {
		layout.Render(w, r, http.StatusOK, view(m))
		return
	}
	// The framework the user may see with this name (in ?team= if given).
	var fw *wire.FrameworkInfo
	for i, f := range m.Frameworks {
		if f.Name == m.Framework && (m.Team == "" || f.Team == m.Team) {
			fw = &m.Frameworks[i]
			break
		}
	}
	if fw == nil {
		m.Error = fmt.Sprintf("framework %q not found", m.Framework)
		layout.Render(w, r, http.StatusNotFound, view(m))
		return
	}
	m.Team = fw.Team
	params, err := parseParams(m.ParamsText)
	if err != nil {
		m.Error = err.Error()
		layout.Render(w, r, http.StatusBadRequest, view(m))
		return
	}
	if m.KPIs, err = h.ChangePoints.KPINames(r.Context(), fw); err != nil {
		h.fail(w, r, err)
		return
	}
	for _, k := range fw.KPIs {
		if !slices.Contains(m.KPIs, k.Name) {
			m.KPIs = append(m.KPIs, k.Name)
		}
		if k.Name == m.KPI {
			m.Unit, m.Better = k.Unit, k.Better
		}
	}
	if m.KPI == "" {
		if len(fw.KPIs) > 0 {
			m.KPI, m.Unit, m.Better = fw.KPIs[0].Name, fw.KPIs[0].Unit, fw.KPIs[0].Better
		} else if len(m.KPIs) > 0 {
			m.KPI = m.KPIs[0]
		}
	}
	if m.KPI == "" {
		layout.Render(w, r, http.StatusOK, view(m))
		return
	}
	m.Points, err = h.ChangePoints.Trend(r.Context(), store.TrendFilter{Team: fw.Team, Framework: fw.Name, KPI: m.KPI,
		Branch: m.Branch, Params: params})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cps, err := h.ChangePoints.List(r.Context(), fw.Team, fw.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, c := range cps {
		if c.KPI == m.KPI && contains(c.Params, params) {
			m.ChangePoints = append(m.ChangePoints, c)
		}
	}
	m.ParamSets = paramSets(m.Points)
	m.Outliers = outliers(m.Points, m.ParamSets, fw.BaselineBranch)
	m.MayAccept = changepoints.MayAccept(r.Context(), fw.Team)
	m.Self = r.URL.RequestURI()
	m.Chart = chartOf(m)
	layout.Render(w, r, http.StatusOK, view(m))
}

// accept marks a change point as intended through the change points service,
// then returns to the trend it was accepted from.
func (h Handler) accept(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("cid"), 10, 64)
	if _, err := h.ChangePoints.Accept(r.Context(), id); err != nil {
		h.fail(w, r, err)
		return
	}
	back := r.PostFormValue("back")
	// Only back to a trends page of this site.
	if !strings.HasPrefix(back, "/trends?") {
		back = "/trends"
	}
	u, err := url.Parse(back)
	if err != nil {
		u = &url.URL{Path: "/trends"}
	}
	q := u.Query()
	q.Set("accepted", strconv.FormatInt(id, 10))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
}

// fail answers a service error with its status and message, as plain text.
func (h Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	layout.Fail(w, r, h.Log, err)
}

// parseParams reads "name=value, name=value".
func parseParams(s string) ([]framework.Param, error) {
	var out []framework.Param
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("parameters are name=value, comma-separated; %q is not", part)
		}
		out = append(out, framework.Param{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return out, nil
}

// contains reports whether have holds every parameter value of want.
func contains(have, want []framework.Param) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// paramSets lists the distinct parameter sets among the points, as text.
func paramSets(points []store.TrendPoint) []string {
	var out []string
	for _, p := range points {
		parts := make([]string, len(p.Params))
		for i, kv := range p.Params {
			parts[i] = kv.Name + "=" + kv.Value
		}
		slices.Sort(parts)
		set := strings.Join(parts, ", ")
		if !slices.Contains(out, set) {
			out = append(out, set)
		}
	}
	return out
}
