package results

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pitwall/pitwall/internal/framework"
)

// MaxHistogramFile bounds a histogram file a host wrote.
const MaxHistogramFile = 4 << 20

// HostResults are what one host of a multi-host test reported: its
// results.csv KPIs and, by file name, the histograms it wrote (each the
// host's whole run merged into one, V2-compressed and base64-encoded, as
// EncodeHistogram writes it).
type HostResults struct {
	Host       string
	KPIs       []KPI
	Histograms map[string]string
}

// ReadHistogram reads a histogram file: an HdrHistogram log (the
// interval histograms it holds are added up) or one base64 V2-encoded
// histogram. It returns the whole run's histogram.
func ReadHistogram(data []byte) (*hdrhistogram.Histogram, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty histogram file")
	}
	if !bytes.ContainsAny(trimmed, ",\n#") {
		h, err := hdrhistogram.Decode(trimmed)
		if err != nil {
			return nil, fmt.Errorf("decode histogram: %w", err)
		}
		return h, nil
	}
	r := hdrhistogram.NewHistogramLogReader(bytes.NewReader(data))
	var sum *hdrhistogram.Histogram
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read histogram log: %w", err)
		}
		if h == nil {
			break
		}
		if sum == nil {
			sum = h
		} else if dropped := sum.Merge(h); dropped > 0 {
			return nil, fmt.Errorf("histogram log: %d value(s) outside the first histogram's range", dropped)
		}
	}
	if sum == nil {
		return nil, errors.New("histogram log holds no histogram")
	}
	return sum, nil
}

// EncodeHistogram is the histogram as one base64 V2-compressed string.
func EncodeHistogram(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Merge applies a role's merge rules to its hosts' results. For each rule
// it returns the merged KPI and, for every host, the host's own value as
// NAME@host, so a page can show the merged figure beside each host's.
// Histograms are merged bucket by bucket, so a merged percentile is exact
// (to the histograms' precision), never an average of percentiles. Notes
// say what could not be merged.
func Merge(rules []framework.MergeRule, hosts []HostResults) ([]KPI, []string) {
	var kpis []KPI
	var notes []string
	for _, m := range rules {
		var got []KPI
		var note []string
		if m.How == framework.MergeHistogram {
			got, note = mergeHistograms(m, hosts)
		} else {
			got, note = mergeValues(m, hosts)
		}
		kpis = append(kpis, got...)
		notes = append(notes, note...)
	}
	return kpis, notes
}

func mergeHistograms(m framework.MergeRule, hosts []HostResults) ([]KPI, []string) {
	var kpis []KPI
	var notes []string
	var merged *hdrhistogram.Histogram
	for _, h := range hosts {
		enc, ok := h.Histograms[m.File]
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: %s wrote no %s; it is left out of the merge", m.KPI, h.Host, m.File))
			continue
		}
		hist, err := hdrhistogram.Decode([]byte(enc))
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: %s's %s: %v", m.KPI, h.Host, m.File, err))
			continue
		}
		kpis = append(kpis, kpi(m.KPI+"@"+h.Host, float64(hist.ValueAtPercentile(m.Percentile)), m.Unit))
		if merged == nil {
			merged = hdrhistogram.New(hist.LowestTrackableValue(), hist.HighestTrackableValue(), int(hist.SignificantFigures()))
		}
		if dropped := merged.Merge(hist); dropped > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d value(s) of %s outside the merged histogram's range were dropped", m.KPI, dropped, h.Host))
		}
	}
	if merged == nil || merged.TotalCount() == 0 {
		return kpis, append(notes, fmt.Sprintf("%s: no histogram to merge", m.KPI))
	}
	return append([]KPI{kpi(m.KPI, float64(merged.ValueAtPercentile(m.Percentile)), m.Unit)}, kpis...), notes
}

func mergeValues(m framework.MergeRule, hosts []HostResults) ([]KPI, []string) {
	from := m.From
	if from == "" {
		from = m.KPI
	}
	var kpis []KPI
	var vals []float64
	unit := ""
	for _, h := range hosts {
		i := -1
		for j, k := range h.KPIs {
			if k.Name == from {
				i = j
			}
		}
		if i < 0 {
			continue
		}
		k := h.KPIs[i]
		if unit == "" {
			unit = k.Unit
		}
		vals = append(vals, k.Value)
		kpis = append(kpis, kpi(m.KPI+"@"+h.Host, k.Value, k.Unit))
	}
	if len(vals) == 0 {
		return nil, []string{fmt.Sprintf("%s: no host reported %s", m.KPI, from)}
	}
	var v float64
	switch m.How {
	case framework.MergeSum, framework.MergeMean:
		for _, x := range vals {
			v += x
		}
		if m.How == framework.MergeMean {
			v /= float64(len(vals))
		}
	case framework.MergeMax:
		v = math.Inf(-1)
		for _, x := range vals {
			v = math.Max(v, x)
		}
	case framework.MergeMin:
		v = math.Inf(1)
		for _, x := range vals {
			v = math.Min(v, x)
		}
	}
	var notes []string
	if len(vals) < len(hosts) {
		notes = append(notes, fmt.Sprintf("%s: %d of %d host(s) reported %s", m.KPI, len(vals), len(hosts), from))
	}
	return append([]KPI{kpi(m.KPI, v, unit)}, kpis...), notes
}

func kpi(name string, v float64, unit string) KPI {
	raw := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.6f", v), "0"), ".") + unit
	return KPI{Name: name, Value: v, Unit: unit, Raw: raw}
}

// PercentileOf merges histograms (base64 V2, as a histogram log's
// interval lines hold them) and returns their percentile p; false when
// none could be decoded or they hold no values.
func PercentileOf(encoded []string, p float64) (float64, bool) {
	var merged *hdrhistogram.Histogram
	for _, enc := range encoded {
		h, err := hdrhistogram.Decode([]byte(enc))
		if err != nil {
			continue
		}
		if merged == nil {
			merged = hdrhistogram.New(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
		}
		merged.Merge(h)
	}
	if merged == nil || merged.TotalCount() == 0 {
		return 0, false
	}
	return float64(merged.ValueAtPercentile(p)), true
}
