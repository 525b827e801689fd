package framework

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Limits and defaults of the prometheus section.
const (
	MaxPromQueries     = 64
	MaxPromQueryBytes  = 16 << 10
	DefaultPromStep    = Duration(time.Second)
	MinPromStep        = Duration(100 * time.Millisecond)
	DefaultPromTimeout = Duration(30 * time.Second)
)

// How a KPI's range query becomes its value.
const (
	AggregateMean   = "mean"
	AggregateMedian = "median"
	AggregateMin    = "min"
	AggregateMax    = "max"
)

// Aggregates are the values PromQuery.Aggregate may take.
var Aggregates = []string{AggregateMean, AggregateMedian, AggregateMin, AggregateMax}

// Prometheus is where the application's own metrics live and what to ask
// of them once the runs are over. Credentials are never in the framework:
// BearerSecret and BasicSecret name a secret the server holds (a file in
// the central worker's --secrets-dir).
type Prometheus struct {
	URL          string `yaml:"url" json:"url"`
	BearerSecret string `yaml:"bearer_secret,omitempty" json:"bearer_secret,omitempty"`
	// BasicSecret's file holds user:password.
	BasicSecret string `yaml:"basic_secret,omitempty" json:"basic_secret,omitempty"`
	// Ramp shrinks the window at each end: the first and last moments of a
	// load are not its steady state.
	Ramp Duration `yaml:"ramp,omitempty" json:"ramp,omitempty"`
	// Timeout bounds each query.
	Timeout Duration    `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Queries []PromQuery `yaml:"queries" json:"queries"`
}

// PromQuery is one PromQL query over the test's window. A KPI query (its
// KPI declared in kpis, with unit, direction and threshold) is an instant
// query at the window's end, or, with a step, a range query over the
// window whose points are the KPI's samples and whose Aggregate of them is
// its value. A series query is a range query drawn on the test page.
// Query is a Go template; see PromWindow for what it may use.
type PromQuery struct {
	KPI    string `yaml:"kpi,omitempty" json:"kpi,omitempty"`
	Series string `yaml:"series,omitempty" json:"series,omitempty"`
	Query  string `yaml:"query" json:"query"`
	// Step is a range query's resolution.
	Step Duration `yaml:"step,omitempty" json:"step,omitempty"`
	// Aggregate is how a KPI's range query becomes its value: mean (the
	// default), median, min or max of the samples.
	Aggregate string `yaml:"aggregate,omitempty" json:"aggregate,omitempty"`
	// MustHaveData fails the test when the query fails, answers nothing,
	// or (for a KPI) answers more than one series; otherwise each of these
	// is a note on the test.
	MustHaveData bool `yaml:"mustHaveData,omitempty" json:"mustHaveData,omitempty"`
}

// Name is the query's KPI or series name.
func (q PromQuery) Name() string {
	if q.KPI != "" {
		return q.KPI
	}
	return q.Series
}

// PromWindow is what a query template sees: {{.Start}} and {{.End}} as
// Unix seconds (for PromQL's @ modifier), {{.Duration}} as a PromQL range
// such as 93s, {{.TestID}}, {{.Commit}}, {{.Branch}} and {{.Params.name}}.
type PromWindow struct {
	Start    string
	End      string
	Duration string
	TestID   int64
	Commit   string
	Branch   string
	Params   map[string]string
}

// NewPromWindow is the template data of a window from start to end.
func NewPromWindow(start, end time.Time, testID int64, commit, branch string, params map[string]string) PromWindow {
	secs := int64(end.Sub(start).Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	unix := func(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }
	return PromWindow{Start: unix(start), End: unix(end), Duration: strconv.FormatInt(secs, 10) + "s",
		TestID: testID, Commit: commit, Branch: branch, Params: params}
}

// Render fills q's template in.
func (q PromQuery) Render(w PromWindow) (string, error) {
	t, err := template.New("query").Option("missingkey=error").Parse(q.Query)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, w); err != nil {
		return "", err
	}
	return b.String(), nil
}

var secretNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// validatePrometheus checks the prometheus section, naming the field at fault.
func (f *Framework) validatePrometheus() error {
	p := f.Prometheus
	if p == nil {
		return nil
	}
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return bad("prometheus.url", "%q must be an http:// or https:// URL with no credentials, query or fragment (credentials go in bearer_secret or basic_secret)", p.URL)
	}
	if p.BearerSecret != "" && p.BasicSecret != "" {
		return bad("prometheus.bearer_secret", "give bearer_secret or basic_secret, not both")
	}
	for field, name := range map[string]string{"bearer_secret": p.BearerSecret, "basic_secret": p.BasicSecret} {
		if name != "" && !secretNameRE.MatchString(name) {
			return bad("prometheus."+field, "%q must name a secret: 1-64 letters, digits, '.', '_' or '-'", name)
		}
	}
	if p.Ramp < 0 {
		return bad("prometheus.ramp", "%s is negative", time.Duration(p.Ramp))
	}
	if p.Timeout < Duration(time.Second) || p.Timeout > Duration(5*time.Minute) {
		return bad("prometheus.timeout", "%s must be between 1s and 5m", time.Duration(p.Timeout))
	}
	if len(p.Queries) == 0 {
		return bad("prometheus.queries", "give at least one query")
	}
	if len(p.Queries) > MaxPromQueries {
		return bad("prometheus.queries", "%d queries; the limit is %d", len(p.Queries), MaxPromQueries)
	}
	declared := map[string]bool{}
	for _, k := range f.KPIs {
		declared[k.Name] = true
	}
	params := map[string]string{}
	for _, prm := range f.Parameters {
		params[prm.Name] = prm.Default
	}
	sample := NewPromWindow(time.Unix(1e9, 0), time.Unix(1e9+60, 0), 1, "commit", "main", params)
	seen := map[string]bool{}
	for i, q := range p.Queries {
		at := fmt.Sprintf("prometheus.queries[%d]", i)
		switch {
		case q.KPI == "" && q.Series == "":
			return bad(at, "name the kpi the query gives, or the series")
		case q.KPI != "" && q.Series != "":
			return bad(at, "give kpi or series, not both")
		case q.KPI != "" && !declared[q.KPI]:
			return bad(at+".kpi", "%q is not declared in kpis (declare it there with its unit, better and threshold)", q.KPI)
		case q.Series != "" && !seriesNameRE.MatchString(q.Series):
			return bad(at+".series", "%q must be 1-64 characters of a-z, A-Z, 0-9, '_', '.' and '-'", q.Series)
		case q.Aggregate != "" && (q.KPI == "" || q.Step == 0):
			return bad(at+".aggregate", "is for a KPI's range query (a kpi with a step)")
		case q.Aggregate != "" && !slices.Contains(Aggregates, q.Aggregate):
			return bad(at+".aggregate", "%q must be one of %s", q.Aggregate, strings.Join(Aggregates, ", "))
		}
		if seen[q.Name()] {
			return bad(at, "%q is given twice", q.Name())
		}
		seen[q.Name()] = true
		if strings.TrimSpace(q.Query) == "" {
			return bad(at+".query", "is empty")
		}
		if len(q.Query) > MaxPromQueryBytes {
			return bad(at+".query", "%d bytes; the limit is %d", len(q.Query), MaxPromQueryBytes)
		}
		if _, err := q.Render(sample); err != nil {
			return bad(at+".query", "template: %v (it may use .Start, .End, .Duration, .TestID, .Commit, .Branch and .Params.<name>)", err)
		}
		if (q.Series != "" || q.Step != 0) && q.Step < MinPromStep {
			return bad(at+".step", "%s is too short; give at least 100ms", time.Duration(q.Step))
		}
	}
	return nil
}

var seriesNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// normalizePrometheus fills in the section's defaults.
func (f *Framework) normalizePrometheus() {
	p := f.Prometheus
	if p == nil {
		return
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultPromTimeout
	}
	for i := range p.Queries {
		q := &p.Queries[i]
		if q.Series != "" && q.Step == 0 {
			q.Step = DefaultPromStep
		}
		if q.KPI != "" && q.Step != 0 && q.Aggregate == "" {
			q.Aggregate = AggregateMean
		}
	}
}
