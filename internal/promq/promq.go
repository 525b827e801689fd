// Package promq asks a Prometheus server the PromQL queries of a
// framework's prometheus section over a test's window, through the
// Prometheus project's own HTTP API client, and turns the answers into
// KPI values and series. Each answer is kept raw, so that what Pitwall
// took from it can be computed again (KPIFromRaw, SeriesFromRaw).
package promq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"gonum.org/v1/gonum/stat"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
)

// Kinds of query.
const (
	KindKPI    = "kpi"
	KindSeries = "series"
)

// Auth is how to authenticate to the server: a bearer token, or a user
// and password; nothing when both are empty.
type Auth struct {
	Bearer         string
	User, Password string
}

// Client asks one Prometheus server.
type Client struct {
	api     v1.API
	timeout time.Duration
}

// New returns a client of the server at url.
func New(url string, auth Auth, timeout time.Duration) (*Client, error) {
	var rt http.RoundTripper = &http.Transport{Proxy: nil, ResponseHeaderTimeout: timeout}
	if auth.Bearer != "" || auth.User != "" {
		rt = authTransport{next: rt, auth: auth}
	}
	c, err := api.NewClient(api.Config{Address: url, RoundTripper: rt})
	if err != nil {
		return nil, err
	}
	return &Client{api: v1.NewAPI(c), timeout: timeout}, nil
}

type authTransport struct {
	next http.RoundTripper
	auth Auth
}

func (t authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if t.auth.Bearer != "" {
		r.Header.Set("Authorization", "Bearer "+t.auth.Bearer)
	} else {
		r.SetBasicAuth(t.auth.User, t.auth.Password)
	}
	return t.next.RoundTrip(r)
}

// raw is an answer as Prometheus's HTTP API spells it.
type raw struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// Run asks q (already rendered as text) over the window from start to end:
// a KPI as an instant query at end, or, with a step, as a range query whose
// points are its samples; a series as a range query. The answer is kept
// raw; a KPI's value is taken from it, or Problem says why not.
func (c *Client) Run(ctx context.Context, q framework.PromQuery, text string, start, end time.Time) wire.PromQuery {
	out := wire.PromQuery{Name: q.Name(), Kind: KindKPI, Query: text, WindowStart: start, WindowEnd: end,
		EvaluatedAt: end, Warnings: []string{}}
	if q.Series != "" {
		out.Kind = KindSeries
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var (
		v        model.Value
		warnings v1.Warnings
		err      error
	)
	if q.Step != 0 {
		out.StepMS, out.Aggregate = time.Duration(q.Step).Milliseconds(), q.Aggregate
		out.EvaluatedAt = time.Now()
		v, warnings, _, err = c.api.QueryRange(ctx, text, v1.Range{Start: start, End: end, Step: time.Duration(q.Step)})
	} else {
		v, warnings, _, err = c.api.Query(ctx, text, end)
	}
	out.Warnings = append(out.Warnings, warnings...)
	if err != nil {
		out.Problem = "the query failed: " + errorText(err)
		return out
	}
	body, err := json.Marshal(v)
	if err != nil {
		out.Problem = "the answer could not be kept: " + err.Error()
		return out
	}
	out.Raw, _ = json.Marshal(raw{ResultType: v.Type().String(), Result: body})
	switch {
	case out.Kind == KindKPI && q.Step != 0:
		value, samples, problem := KPIFromRangeRaw(out.Raw, q.Aggregate)
		if problem != "" {
			out.Problem = problem
		} else {
			out.Value, out.Samples = &value, samples
		}
	case out.Kind == KindKPI:
		value, problem := KPIFromRaw(out.Raw)
		if problem != "" {
			out.Problem = problem
		} else {
			out.Value = &value
		}
	default:
		if series, problem := SeriesFromRaw(out.Raw); problem != "" {
			out.Problem = problem
		} else if len(series) == 0 {
			out.Problem = "the query answered no series over the window"
		}
	}
	return out
}

// errorText is Prometheus's own message of a failed query.
func errorText(err error) string {
	var pe *v1.Error
	if errors.As(err, &pe) {
		msg := string(pe.Type)
		if pe.Msg != "" {
			msg += ": " + pe.Msg
		}
		return msg
	}
	return err.Error()
}

// KPIFromRaw takes a KPI's value from an instant query's raw answer: a
// scalar, or a vector of exactly one sample with a finite value. Anything
// else is a problem, never a silent zero.
func KPIFromRaw(b json.RawMessage) (float64, string) {
	var r raw
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, "the answer is not Prometheus's: " + err.Error()
	}
	var v float64
	switch r.ResultType {
	case model.ValScalar.String():
		var s model.Scalar
		if err := json.Unmarshal(r.Result, &s); err != nil {
			return 0, "bad scalar: " + err.Error()
		}
		v = float64(s.Value)
	case model.ValVector.String():
		var vec model.Vector
		if err := json.Unmarshal(r.Result, &vec); err != nil {
			return 0, "bad vector: " + err.Error()
		}
		switch len(vec) {
		case 0:
			return 0, "the query answered no series at the window's end (no data)"
		case 1:
			v = float64(vec[0].Value)
		default:
			names := make([]string, 0, 3)
			for _, s := range vec[:min(3, len(vec))] {
				names = append(names, s.Metric.String())
			}
			return 0, fmt.Sprintf("the query answered %d series where a KPI needs one (aggregate them, e.g. with sum or max): %s",
				len(vec), strings.Join(names, ", "))
		}
	default:
		return 0, fmt.Sprintf("the query answered a %s; a KPI needs a scalar or one series (an instant vector)", r.ResultType)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Sprintf("the query answered %v, which is no measurement (a rate over no samples, or a quantile of an empty histogram)", v)
	}
	return v, ""
}

// KPIFromRangeRaw takes a KPI's samples from a range query's raw answer,
// which must hold exactly one series with at least one finite point, and
// its value as the samples' aggregate (framework.Aggregate*).
func KPIFromRangeRaw(b json.RawMessage, aggregate string) (float64, []float64, string) {
	series, problem := SeriesFromRaw(b)
	switch {
	case problem != "":
		return 0, nil, problem
	case len(series) == 0:
		return 0, nil, "the range query answered no finite point over the window (no data)"
	case len(series) > 1:
		names := make([]string, 0, 3)
		for _, s := range series[:min(3, len(series))] {
			names = append(names, s.Labels)
		}
		return 0, nil, fmt.Sprintf("the range query answered %d series where a KPI needs one (aggregate them, e.g. with sum or max): %s",
			len(series), strings.Join(names, ", "))
	}
	samples := series[0].Values
	v, err := Aggregate(samples, aggregate)
	if err != nil {
		return 0, nil, err.Error()
	}
	return v, samples, ""
}

// Aggregate is the value a KPI's samples give: their mean, median, min or
// max ("" is the mean).
func Aggregate(samples []float64, how string) (float64, error) {
	if len(samples) == 0 {
		return 0, errors.New("no samples")
	}
	switch how {
	case "", framework.AggregateMean:
		return stat.Mean(samples, nil), nil
	case framework.AggregateMedian:
		sorted := slices.Clone(samples)
		slices.Sort(sorted)
		n := len(sorted)
		return (sorted[(n-1)/2] + sorted[n/2]) / 2, nil
	case framework.AggregateMin:
		return slices.Min(samples), nil
	case framework.AggregateMax:
		return slices.Max(samples), nil
	}
	return 0, fmt.Errorf("unknown aggregate %q", how)
}

// Series is one series of a range query's answer.
type Series struct {
	// Labels are the series' labels as PromQL prints them, "" without any.
	Labels string
	TS     []int64 // Unix milliseconds
	Values []float64
}

// SeriesFromRaw takes the series of a range query's raw answer, in label
// order, leaving out points that are not finite.
func SeriesFromRaw(b json.RawMessage) ([]Series, string) {
	var r raw
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, "the answer is not Prometheus's: " + err.Error()
	}
	if r.ResultType != model.ValMatrix.String() {
		return nil, fmt.Sprintf("a range query answered a %s, not a matrix", r.ResultType)
	}
	var m model.Matrix
	if err := json.Unmarshal(r.Result, &m); err != nil {
		return nil, "bad matrix: " + err.Error()
	}
	out := make([]Series, 0, len(m))
	for _, ss := range m {
		s := Series{}
		if len(ss.Metric) > 0 {
			s.Labels = ss.Metric.String()
		}
		for _, p := range ss.Values {
			if f := float64(p.Value); !math.IsNaN(f) && !math.IsInf(f, 0) {
				s.TS = append(s.TS, int64(p.Timestamp))
				s.Values = append(s.Values, f)
			}
		}
		if len(s.TS) > 0 {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Labels < out[j].Labels })
	return out, ""
}
