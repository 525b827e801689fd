// Package scrape reads a service's Prometheus /metrics endpoint and turns it
// into named float series, one value per series per scrape. The text is
// parsed by the Prometheus project's own parser (prometheus/common/expfmt).
package scrape

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Limits of one scrape.
const (
	// DefaultMaxSeries is how many series one scrape keeps unless told otherwise.
	DefaultMaxSeries = 2000
	// MaxNameBytes is the longest series name kept: the ingest endpoint's limit.
	MaxNameBytes = 200
	// MaxBodyBytes bounds the response read from an endpoint.
	MaxBodyBytes = 16 << 20
	// DefaultTimeout bounds one scrape unless the context ends sooner.
	DefaultTimeout = 5 * time.Second
	// Prefix starts every series name, keeping them apart from host series.
	Prefix = "prom."
)

// acceptText asks for the classic text format, which every exporter speaks.
const acceptText = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

// Sample is one series' value in one scrape.
type Sample struct {
	Name  string
	Value float64
}

// Result is what one scrape kept, sorted by name, and what it left out.
type Result struct {
	Samples []Sample
	// Dropped counts series left out: past the cap, names too long, or
	// values that are not finite (NaN quantiles of an empty summary).
	Dropped int
}

// Scraper reads /metrics endpoints.
type Scraper struct {
	// Client does the requests; nil means a client with no proxy that
	// follows no redirect.
	Client *http.Client
	// Timeout bounds one scrape; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxSeries caps the series kept per scrape; 0 means DefaultMaxSeries.
	MaxSeries int
}

// defaultClient uses no proxy and follows no redirect: a service's endpoint
// must not send the agent to read some other address on its behalf.
var defaultClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Scrape GETs url and parses the answer.
func (s *Scraper) Scrape(ctx context.Context, url string) (Result, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	req.Header.Set("Accept", acceptText)
	client := s.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Result{}, fmt.Errorf("scrape %s: status %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return Result{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	if len(body) > MaxBodyBytes {
		return Result{}, fmt.Errorf("scrape %s: the answer is larger than %d bytes", url, MaxBodyBytes)
	}
	res, err := Parse(strings.NewReader(string(body)), s.MaxSeries)
	if err != nil {
		return Result{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	return res, nil
}

// Parse reads the Prometheus text exposition format into series, keeping
// at most maxSeries (0: DefaultMaxSeries) in name order. Counters, gauges
// and untyped metrics give one series per label set; a histogram gives
// name_bucket{le="…"}, name_sum and name_count; a summary gives
// name{quantile="…"}, name_sum and name_count.
func Parse(r io.Reader, maxSeries int) (Result, error) {
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Result{}, fmt.Errorf("parse metrics: %w", err)
	}
	var res Result
	add := func(name string, labels []*dto.LabelPair, extra *dto.LabelPair, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			res.Dropped++
			return
		}
		n := SeriesName(name, labels, extra)
		if len(n) > MaxNameBytes {
			res.Dropped++
			return
		}
		res.Samples = append(res.Samples, Sample{n, v})
	}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			lp := m.GetLabel()
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				add(name, lp, nil, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, lp, nil, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, lp, nil, m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add(name+"_bucket", lp, label(model.BucketLabel, b.GetUpperBound()), float64(b.GetCumulativeCount()))
				}
				add(name+"_sum", lp, nil, h.GetSampleSum())
				add(name+"_count", lp, nil, float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				sm := m.GetSummary()
				for _, q := range sm.GetQuantile() {
					add(name, lp, label(model.QuantileLabel, q.GetQuantile()), q.GetValue())
				}
				add(name+"_sum", lp, nil, sm.GetSampleSum())
				add(name+"_count", lp, nil, float64(sm.GetSampleCount()))
			}
		}
	}
	sort.Slice(res.Samples, func(i, j int) bool { return res.Samples[i].Name < res.Samples[j].Name })
	if len(res.Samples) > maxSeries {
		res.Dropped += len(res.Samples) - maxSeries
		res.Samples = res.Samples[:maxSeries]
	}
	return res, nil
}

func label(name string, v float64) *dto.LabelPair {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if math.IsInf(v, 1) {
		s = "+Inf"
	}
	return &dto.LabelPair{Name: &name, Value: &s}
}

// SeriesName is prom.<name>{k="v",…} with the labels sorted by name, empty
// values left out (Prometheus treats them as absent) and each value quoted
// as Go quotes strings, so that no label value can forge another label or
// break the name. Without labels it is prom.<name>.
func SeriesName(name string, labels []*dto.LabelPair, extra *dto.LabelPair) string {
	all := make([]*dto.LabelPair, 0, len(labels)+1)
	for _, l := range labels {
		if l.GetValue() != "" {
			all = append(all, l)
		}
	}
	if extra != nil {
		all = append(all, extra)
	}
	var b strings.Builder
	b.WriteString(Prefix)
	b.WriteString(quoteName(name))
	if len(all) == 0 {
		return b.String()
	}
	sort.Slice(all, func(i, j int) bool { return all[i].GetName() < all[j].GetName() })
	b.WriteByte('{')
	for i, l := range all {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quoteName(l.GetName()))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.GetValue()))
	}
	b.WriteByte('}')
	return b.String()
}

// quoteName leaves a classic Prometheus name as it is and quotes any other
// (the UTF-8 names of newer exporters), so that it cannot hold a '{', ','
// or '=' that would read as part of the label list.
func quoteName(n string) string {
	for i, r := range n {
		ok := r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9'
		if !ok {
			return strconv.Quote(n)
		}
	}
	if n == "" {
		return `""`
	}
	return n
}
