package alerts

import (
	"net/url"
	"slices"
	"strings"

	"github.com/a-h/templ"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	alertsvc "github.com/pitwall/pitwall/service/alerts"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/layout"
)

// allStates is the state filter's choice of every alert, resolved or not.
const allStates = "all"

// listLimit is how many alerts the list shows, newest first.
const listLimit = 200

// listModel is what the alert list draws: the filter form and the alerts.
type listModel struct {
	Team, Framework, State string
	// Teams and Frameworks are the filter's choices: those of the
	// frameworks the user may see.
	Teams, Frameworks []string
	Alerts            []wire.Alert
	Error             string
}

// stateChoices are the state filter's choices, the default first.
func stateChoices() []string { return append(slices.Clone(alertsvc.States), allStates) }

// choices lists the distinct values, sorted, with the one chosen (which
// may name nothing the user sees) among them.
func choices(values []string, chosen string) []string {
	out := slices.Clone(values)
	if chosen != "" {
		out = append(out, chosen)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// full says whether the list may hold only the newest of more alerts.
func (m listModel) full() bool { return len(m.Alerts) >= listLimit }

// pageModel is what an alert's page draws.
type pageModel struct {
	Alert *wire.Alert
	// MayAct shows the acknowledge and resolve forms (the team's members).
	MayAct bool
	// Notice says what the last action did; Error why the form named
	// Form (acknowledge or resolve) was refused, its Note kept.
	Notice, Error string
	Form, Note    string
}

// Forms of the alert page, and the paths they post to.
const (
	formAcknowledge = "acknowledge"
	formResolve     = "resolve"
)

// note is what a form's note field holds: what was typed into it if it
// was refused.
func (m pageModel) note(form string) string {
	if m.Form == form {
		return m.Note
	}
	return ""
}

func alertPath(id int64) templ.SafeURL { return templ.SafeURL(alertsvc.PagePath(id)) }

func actionPath(id int64, form string) templ.SafeURL {
	return templ.SafeURL(alertsvc.PagePath(id) + "/" + form)
}

func testPath(id int64) templ.SafeURL { return templ.SafeURL(tests.PagePath(id)) }

// trendPath is the trend of a regression alert's KPI, with its parameters.
func trendPath(a *wire.Alert) templ.SafeURL {
	q := url.Values{"framework": {a.Framework}, "team": {a.Team}, "kpi": {a.KPI}}
	if p := params(a.Params); p != "" {
		q.Set("params", p)
	}
	return templ.SafeURL("/trends?" + q.Encode())
}

// params shows parameter values as the trends page takes them.
func params(ps []framework.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + "=" + p.Value
	}
	return strings.Join(parts, ", ")
}

// what names an alert's problem: its KPI, or the failing tests.
func what(a wire.Alert) string {
	if a.Kind == wire.AlertFailure {
		return "failing tests"
	}
	return a.KPI
}

// delta is a regression's size; a failure has none.
func delta(a wire.Alert) string {
	if a.Kind == wire.AlertFailure {
		return "—"
	}
	return layout.Percent(a.DeltaPct)
}

// or is s, or "—" when it is empty.
func or(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// filter is the list's filter for the alerts service.
func (m listModel) filter() store.AlertFilter {
	f := store.AlertFilter{Team: m.Team, Framework: m.Framework, State: m.State, Limit: listLimit}
	if m.State == allStates {
		f.State = ""
	}
	return f
}
