package frameworks

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
)

// paramRow and kpiRow are one row of the form's parameter and KPI tables.
type paramRow struct{ Name, Default, Description string }

type kpiRow struct{ Name, Unit, Better, Threshold string }

// serviceRow is one row of the form's services table: the keys most
// services set. What the form does not ask (env, build args, ref,
// dockerfile, a readiness command) is kept from the current version when
// the row keeps its name.
type serviceRow struct{ Name, Image, Repo, Context, Ports, Ready, Metrics, Memory, Cpuset string }

// emptyRows is how many blank rows the form offers below the filled ones,
// so that without JavaScript one can add a few in one go.
const emptyRows = 2

// form is the create/edit form with what the user typed, kept verbatim so
// a refused submission loses nothing.
type form struct {
	// Edit is set on /frameworks/{name}/edit: name and team are fixed.
	Edit bool
	// Mode is "form" (the questions) or "yaml" (paste a framework file).
	Mode                                 string
	Name, Title, Purpose, Team           string
	ScriptKind, Script, ScriptPath, Args string
	Timeout, ExecHost, Interval          string
	StatHosts                            []string
	Params                               []paramRow
	KPIs                                 []kpiRow
	Repeat, Warmup, Baseline             string
	// Services and the load container (ScriptKind "load").
	Services                                      []serviceRow
	LoadImage, LoadRepo, LoadContext, LoadCommand string
	YAML                                          string
	Errors                                        map[string]string
	// Preview is the framework file the form produces, once it parses.
	Preview string
	// Teams the user may create frameworks in; Agents to choose hosts from.
	Teams  []string
	Agents []wire.Agent
}

func (f *form) err(key string) string { return f.Errors[key] }

func (f *form) fail(key, msg string) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	if _, ok := f.Errors[key]; !ok {
		f.Errors[key] = msg
	}
}

// action is the URL the form posts to.
func (f *form) action() string {
	if f.Edit {
		return "/frameworks/" + url.PathEscape(f.Name) + "/edit?team=" + url.QueryEscape(f.Team)
	}
	return "/frameworks/new"
}

func (f *form) statHost(name string) bool { return slices.Contains(f.StatHosts, name) }

// formFrom fills the form from a framework (edit, or a cloned start).
func formFrom(fw *framework.Framework) *form {
	f := &form{Mode: "form", Name: fw.Name, Title: fw.Title, Purpose: fw.Purpose, Team: fw.Team,
		ScriptKind: "inline", Script: fw.Execution.Script, ScriptPath: fw.Execution.ScriptPath,
		Args: fw.Execution.Args, Baseline: fw.BaselineBranch, StatHosts: fw.Statistics.Hosts}
	if fw.Execution.ScriptPath != "" {
		f.ScriptKind = "path"
	}
	if l := fw.Load; l != nil {
		f.ScriptKind, f.LoadImage, f.LoadCommand = "load", l.Image, strings.Join(l.Command, "\n")
		if l.Build != nil {
			f.LoadRepo, f.LoadContext = l.Build.Repo, l.Build.Context
		}
	}
	for _, sv := range fw.Services {
		row := serviceRow{Name: sv.Name, Image: sv.Image, Metrics: sv.Metrics, Memory: sv.Memory, Cpuset: sv.Cpuset}
		if sv.Build != nil {
			row.Repo, row.Context = sv.Build.Repo, sv.Build.Context
		}
		ports := make([]string, len(sv.Ports))
		for i, p := range sv.Ports {
			ports[i] = strconv.Itoa(p)
		}
		row.Ports = strings.Join(ports, ", ")
		if sv.Ready != nil {
			row.Ready = sv.Ready.HTTP
		}
		f.Services = append(f.Services, row)
	}
	if fw.Execution.Timeout != 0 {
		f.Timeout = time.Duration(fw.Execution.Timeout).String()
	}
	if fw.Statistics.Interval != 0 {
		f.Interval = time.Duration(fw.Statistics.Interval).String()
	}
	if len(fw.Execution.Hosts) > 0 {
		f.ExecHost = fw.Execution.Hosts[0]
	}
	if fw.Repeat != 0 {
		f.Repeat = strconv.Itoa(fw.Repeat)
	}
	if fw.Warmup != 0 {
		f.Warmup = strconv.Itoa(fw.Warmup)
	}
	for _, p := range fw.Parameters {
		f.Params = append(f.Params, paramRow{p.Name, p.Default, p.Description})
	}
	for _, k := range fw.KPIs {
		f.KPIs = append(f.KPIs, kpiRow{k.Name, k.Unit, k.Better, strings.TrimSuffix(k.Threshold, "%")})
	}
	f.pad()
	return f
}

// pad leaves emptyRows blank rows at the end of each table.
func (f *form) pad() {
	for blankParams(f.Params) < emptyRows {
		f.Params = append(f.Params, paramRow{})
	}
	for blankKPIs(f.KPIs) < emptyRows {
		f.KPIs = append(f.KPIs, kpiRow{})
	}
	if len(f.Services) == 0 || f.Services[len(f.Services)-1] != (serviceRow{}) {
		f.Services = append(f.Services, serviceRow{})
	}
}

func blankParams(rows []paramRow) int {
	n := 0
	for i := len(rows) - 1; i >= 0 && rows[i] == (paramRow{}); i-- {
		n++
	}
	return n
}

func blankKPIs(rows []kpiRow) int {
	n := 0
	for i := len(rows) - 1; i >= 0 && rows[i] == (kpiRow{}); i-- {
		n++
	}
	return n
}

// parseForm reads the posted form (values of one row share an index).
func parseForm(v url.Values) *form {
	f := &form{Mode: v.Get("mode"), Name: strings.TrimSpace(v.Get("name")), Title: v.Get("title"),
		Purpose: v.Get("purpose"), Team: v.Get("team"), ScriptKind: v.Get("script_kind"),
		Script: v.Get("script"), ScriptPath: strings.TrimSpace(v.Get("script_path")), Args: v.Get("args"),
		Timeout: strings.TrimSpace(v.Get("timeout")), ExecHost: v.Get("exec_host"),
		Interval: strings.TrimSpace(v.Get("interval")), StatHosts: v["stat_hosts"],
		Repeat: strings.TrimSpace(v.Get("repeat")), Warmup: strings.TrimSpace(v.Get("warmup")),
		Baseline: strings.TrimSpace(v.Get("baseline_branch")), YAML: v.Get("yaml"),
		LoadImage: strings.TrimSpace(v.Get("load_image")), LoadRepo: strings.TrimSpace(v.Get("load_repo")),
		LoadContext: strings.TrimSpace(v.Get("load_context")), LoadCommand: v.Get("load_command")}
	if f.Mode != "yaml" {
		f.Mode = "form"
	}
	// Browsers post CRLF line ends in textareas; scripts want LF.
	f.Script = strings.ReplaceAll(f.Script, "\r\n", "\n")
	f.YAML = strings.ReplaceAll(f.YAML, "\r\n", "\n")
	f.LoadCommand = strings.ReplaceAll(f.LoadCommand, "\r\n", "\n")
	at := func(key string, i int) string {
		if i < len(v[key]) {
			return strings.TrimSpace(v[key][i])
		}
		return ""
	}
	for i := range v["param_name"] {
		f.Params = append(f.Params, paramRow{at("param_name", i), at("param_default", i), at("param_description", i)})
	}
	for i := range v["kpi_name"] {
		f.KPIs = append(f.KPIs, kpiRow{at("kpi_name", i), at("kpi_unit", i), at("kpi_better", i), at("kpi_threshold", i)})
	}
	for i := range v["svc_name"] {
		f.Services = append(f.Services, serviceRow{at("svc_name", i), at("svc_image", i), at("svc_repo", i),
			at("svc_context", i), at("svc_ports", i), at("svc_ready", i), at("svc_metrics", i),
			at("svc_memory", i), at("svc_cpuset", i)})
	}
	return f
}

// framework turns the answers into a framework, on top of base (the
// current version when editing, so that what the form does not ask about,
// such as hooks and labels, is kept). It reports what cannot be converted;
// the framework parser validates the rest.
func (f *form) framework(base *framework.Framework) (*framework.Framework, []int, []int, []int) {
	fw := &framework.Framework{}
	if base != nil {
		c := *base
		fw = &c
	}
	fw.Name, fw.Title, fw.Purpose, fw.Team = f.Name, f.Title, f.Purpose, f.Team
	fw.Execution.Script, fw.Execution.ScriptPath = "", ""
	var baseLoad *framework.Load
	if base != nil {
		baseLoad = base.Load
	}
	fw.Load = nil
	switch f.ScriptKind {
	case "path":
		fw.Execution.ScriptPath = f.ScriptPath
	case "load":
		fw.Load = f.load(baseLoad)
	default:
		fw.Execution.Script = f.Script
	}
	fw.Execution.Args = f.Args
	fw.Execution.Timeout = f.duration("timeout", f.Timeout)
	fw.Execution.Hosts = nil
	if f.ExecHost != "" {
		fw.Execution.Hosts = []string{f.ExecHost}
	}
	fw.Statistics.Hosts = slices.Clone(f.StatHosts)
	fw.Statistics.Interval = f.duration("interval", f.Interval)
	fw.Repeat = f.count("repeat", f.Repeat)
	fw.Warmup = f.count("warmup", f.Warmup)
	fw.BaselineBranch = f.Baseline
	// paramRows and kpiRows map the framework's list positions back to
	// form rows, for errors the parser reports by position.
	var paramRows, kpiRows []int
	fw.Parameters = nil
	for i, p := range f.Params {
		if p == (paramRow{}) {
			continue
		}
		if p.Name == "" {
			f.fail(fmt.Sprintf("param.%d.name", i), "give the parameter a name, or clear its row")
		}
		fw.Parameters = append(fw.Parameters, framework.Parameter{Name: p.Name, Default: p.Default, Description: p.Description})
		paramRows = append(paramRows, i)
	}
	fw.KPIs = nil
	for i, k := range f.KPIs {
		if k == (kpiRow{}) {
			continue
		}
		if k.Better == "" {
			// The file format defaults to lower; the form makes one choose.
			f.fail(fmt.Sprintf("kpi.%d.better", i), "choose whether lower or higher is better")
		}
		th := k.Threshold
		if th != "" && !strings.HasSuffix(th, "%") {
			th += "%"
		}
		fw.KPIs = append(fw.KPIs, framework.KPI{Name: k.Name, Unit: k.Unit, Better: k.Better, Threshold: th})
		kpiRows = append(kpiRows, i)
	}
	var baseServices []framework.Service
	if base != nil {
		baseServices = base.Services
	}
	var serviceRows []int
	fw.Services = nil
	for i, row := range f.Services {
		if row == (serviceRow{}) {
			continue
		}
		fw.Services = append(fw.Services, f.service(i, row, baseServices))
		serviceRows = append(serviceRows, i)
	}
	return fw, paramRows, kpiRows, serviceRows
}

// load turns the load answers into the load section, keeping from base
// what the form does not ask (env, build ref, dockerfile and args).
func (f *form) load(base *framework.Load) *framework.Load {
	l := &framework.Load{Image: f.LoadImage}
	if base != nil {
		l.Env = base.Env
	}
	for _, a := range strings.Split(f.LoadCommand, "\n") {
		if a = strings.TrimSpace(a); a != "" {
			l.Command = append(l.Command, a)
		}
	}
	if f.LoadRepo != "" || f.LoadContext != "" {
		var b *framework.Build
		if base != nil {
			b = base.Build
		}
		l.Build = keptBuild(b)
		l.Build.Repo, l.Build.Context = f.LoadRepo, f.LoadContext
	}
	return l
}

// service turns row i into a service, on top of the current version's
// service of the same name.
func (f *form) service(i int, row serviceRow, base []framework.Service) framework.Service {
	var old framework.Service
	for _, b := range base {
		if b.Name == row.Name {
			old = b
		}
	}
	if row.Name == "" {
		f.fail(fmt.Sprintf("svc.%d", i), "give the service a name, or clear its row")
	}
	s := framework.Service{Name: row.Name, Image: row.Image, Env: old.Env, Cpuset: row.Cpuset,
		Memory: row.Memory, Metrics: row.Metrics}
	if row.Repo != "" || row.Context != "" {
		s.Build = keptBuild(old.Build)
		s.Build.Repo, s.Build.Context = row.Repo, row.Context
	}
	for _, p := range strings.FieldsFunc(row.Ports, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(p)
		if err != nil {
			f.fail(fmt.Sprintf("svc.%d", i), fmt.Sprintf("port %q is not a number", p))
			continue
		}
		s.Ports = append(s.Ports, n)
	}
	switch {
	case row.Ready != "":
		s.Ready = &framework.Ready{HTTP: row.Ready}
		if old.Ready != nil {
			s.Ready.Timeout = old.Ready.Timeout
		}
	case old.Ready != nil && len(old.Ready.Command) > 0:
		r := *old.Ready // a readiness command is kept; the file edits it
		s.Ready = &r
	}
	return s
}

// keptBuild copies b (or starts an empty build) so the form's answers can
// be set on it without touching the current version.
func keptBuild(b *framework.Build) *framework.Build {
	if b == nil {
		return &framework.Build{}
	}
	c := *b
	return &c
}

func (f *form) duration(key, s string) framework.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		f.fail(key, fmt.Sprintf("%q is not a duration (use forms such as 90s, 10m, 1h)", s))
		return 0
	}
	return framework.Duration(d)
}

func (f *form) count(key, s string) int {
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f.fail(key, fmt.Sprintf("%q is not a whole number", s))
	}
	return n
}

var (
	listField    = regexp.MustCompile(`^(parameters|kpis)\[(\d+)\]\.(\w+)$`)
	serviceField = regexp.MustCompile(`^services\[(\d+)\]`)
)

// placeError puts an error the parser or the API gave, naming a field of
// the framework file, next to the form field it came from.
func (f *form) placeError(field, msg string, paramRows, kpiRows, serviceRows []int) {
	if f.Mode == "yaml" {
		f.fail("yaml", msg)
		return
	}
	if m := serviceField.FindStringSubmatch(field); m != nil {
		i, _ := strconv.Atoi(m[1])
		if i < len(serviceRows) {
			f.fail(fmt.Sprintf("svc.%d", serviceRows[i]), msg)
		} else {
			f.fail("services", msg)
		}
		return
	}
	if field == "services" {
		f.fail("services", msg)
		return
	}
	if field == "load" || strings.HasPrefix(field, "load.") {
		f.fail("load", msg)
		return
	}
	if m := listField.FindStringSubmatch(field); m != nil {
		i, _ := strconv.Atoi(m[2])
		rows, prefix := paramRows, "param"
		if m[1] == "kpis" {
			rows, prefix = kpiRows, "kpi"
		}
		if i < len(rows) {
			f.fail(fmt.Sprintf("%s.%d.%s", prefix, rows[i], m[3]), msg)
			return
		}
	}
	key := map[string]string{
		"name": "name", "team": "team", "execution.script": "script", "execution.script_path": "script_path",
		"execution.args": "args", "execution.timeout": "timeout", "execution.hosts": "exec_host",
		"hosts": "stat_hosts", "statistics.interval": "interval", "repeat": "repeat", "warmup": "warmup",
	}[field]
	if key == "script" && f.ScriptKind == "path" {
		key = "script_path"
	}
	if key == "script" && f.ScriptKind == "load" {
		key = "load"
	}
	f.fail(key, msg) // key "" is the form's general error
}

// fieldOf returns the field a framework validation error names.
func fieldOf(err error) string {
	var fe *framework.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// listRow is one framework on the list page.
type listRow struct {
	Info wire.FrameworkInfo
	Last *wire.Test
}

// pageModel is the framework page.
type pageModel struct {
	Info *wire.FrameworkInfo
	// Alerts and ChangePoints are the framework's open regressions.
	Alerts       []wire.Alert
	ChangePoints []store.ChangePoint
	YAML         string
	Versions     []store.FrameworkVersion
	Tests        []wire.Test
	Notice       string
	// CanEdit and CanRun say which buttons to offer; the API decides.
	CanEdit, CanRun bool
	CloneName       string
	CloneError      string
	// Schedules are the framework's schedules; ScheduleForm the new
	// schedule's form (with the last refusal).
	Schedules    []wire.Schedule
	ScheduleForm *scheduleForm
	// EditForm and BackfillForm are a schedule's forms as typed, with
	// their refusal, drawn open on its card (nil: each card's forms hold
	// the schedule's own values).
	EditForm     *scheduleForm
	BackfillForm *backfillForm
	// Noise are the latest noise floors of the framework's KPIs, by host;
	// NoiseSchedule is its scheduled A/A (nil: no noise key).
	Noise         []wire.NoiseKPI
	NoiseSchedule *wire.NoiseSchedule
}

// editForm is the edit form of sc's card.
func (m *pageModel) editForm(sc *wire.Schedule) *scheduleForm {
	if m.EditForm != nil && m.EditForm.ID == sc.ID {
		return m.EditForm
	}
	return scheduleFormOf(sc)
}

// backfillForm is the backfill form of sc's card.
func (m *pageModel) backfillForm(sc *wire.Schedule) *backfillForm {
	if m.BackfillForm != nil && m.BackfillForm.ID == sc.ID {
		return m.BackfillForm
	}
	return newBackfillForm(sc, time.Now())
}

func frameworkURL(name, team string) string {
	return "/frameworks/" + url.PathEscape(name) + "?team=" + url.QueryEscape(team)
}

func teamQuery(name, team, suffix string) string {
	return "/frameworks/" + url.PathEscape(name) + suffix + "?team=" + url.QueryEscape(team)
}

func kpiSummary(ks []framework.KPI) string {
	parts := make([]string, 0, len(ks))
	for _, k := range ks {
		s := k.Name + " (" + k.Better
		if k.Threshold != "" {
			s += ", " + k.Threshold
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, ", ")
}

func shortDigest(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func formTitle(f *form) string {
	if f.Edit {
		return "Edit " + f.Name
	}
	return "New framework"
}

func applyLabel(f *form) string {
	if f.Edit {
		return "Save new version"
	}
	return "Create framework"
}

func modeURL(f *form, mode string) string {
	if f.Edit {
		return teamQuery(f.Name, f.Team, "/edit") + "&mode=" + mode
	}
	return "/frameworks/new?mode=" + mode
}

func onlineMark(online bool) string {
	if online {
		return ""
	}
	return " (offline)"
}

// invalid is the aria-invalid value for a field with an error message.
func invalid(msg string) string {
	if msg != "" {
		return "true"
	}
	return "false"
}

func sortedErrors(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// noiseScheduleRuns says what a scheduled A/A runs where: "3 runs on
// bench-01, bench-02", or on each host the framework may run on.
func noiseScheduleRuns(n *wire.NoiseSchedule) string {
	where := "each host the framework may run on"
	if len(n.Hosts) > 0 {
		where = strings.Join(n.Hosts, ", ")
	}
	return fmt.Sprintf("%d runs on %s", n.Runs, where)
}
