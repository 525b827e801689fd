package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Figure is one side of a comparison: a distribution of repeated
// measurements summarised, or a note saying why there is none.
type Figure struct {
	// Unit of every number below (ms, s, MB, /s, ...).
	Unit string `json:"unit,omitempty"`
	// N is how many repeats the summary is over.
	N      int     `json:"n,omitempty"`
	P50    float64 `json:"p50,omitempty"`
	P99    float64 `json:"p99,omitempty"`
	Median float64 `json:"median,omitempty"`
	// Spread is half the interquartile range of the repeats (robust to an
	// outlier on a noisy machine); Min and Max bound them.
	Spread float64 `json:"spread,omitempty"`
	Min    float64 `json:"min,omitempty"`
	Max    float64 `json:"max,omitempty"`
	// Percentiles says P50/P99 are the headline (latencies), else Median ± Spread.
	Percentiles bool `json:"percentiles,omitempty"`
	// Text replaces the numbers for a reference figure or one that is
	// not available ("skipped: ...", "not available: ...", "reference: ...").
	Text string `json:"text,omitempty"`
	// Extra holds further figures of the measure (e.g. RSS next to CPU).
	Extra map[string]float64 `json:"extra,omitempty"`
}

// Result is one measure of the suite.
type Result struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	Ours   Figure `json:"ours"`
	// Peer is the peer's figure measured in the same run (or a reference).
	Peer     Figure `json:"peer"`
	PeerName string `json:"peer_name,omitempty"`
	// Ratio is ours / peer of the headline figures (0: no ratio).
	Ratio float64 `json:"ratio,omitempty"`
	Goal  string  `json:"goal"`
	// Met is "yes", "no" or "n/a".
	Met string `json:"met"`
	// Error is set when the measure could not run.
	Error string `json:"error,omitempty"`
}

// Report is one run of the suite.
type Report struct {
	Started  time.Time `json:"started"`
	Smoke    bool      `json:"smoke"`
	Host     string    `json:"host"`
	CPUs     int       `json:"cpus"`
	Load     string    `json:"load_before"`
	Duration string    `json:"duration"`
	Results  []Result  `json:"results"`
}

// summarize returns the figure of repeated measurements xs.
func summarize(unit string, xs []float64, percentiles bool) Figure {
	if len(xs) == 0 {
		return Figure{Unit: unit, Text: "no measurement"}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	f := Figure{Unit: unit, N: len(s), Min: s[0], Max: s[len(s)-1], Percentiles: percentiles}
	f.P50 = quantile(s, 0.50)
	f.P99 = quantile(s, 0.99)
	f.Median = f.P50
	f.Spread = (quantile(s, 0.75) - quantile(s, 0.25)) / 2
	return f
}

// quantile of sorted s, by linear interpolation between closest ranks.
func quantile(s []float64, q float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// headline is the figure a ratio compares: the median.
func (f Figure) headline() float64 {
	if f.Text != "" || f.N == 0 {
		return 0
	}
	return f.Median
}

// String renders a figure for the table.
func (f Figure) String() string {
	if f.Text != "" && f.N == 0 {
		return f.Text
	}
	var b strings.Builder
	if f.Percentiles {
		fmt.Fprintf(&b, "p50 %s / p99 %s %s (n=%d)", num(f.P50), num(f.P99), f.Unit, f.N)
	} else {
		fmt.Fprintf(&b, "%s ± %s %s (n=%d)", num(f.Median), num(f.Spread), f.Unit, f.N)
	}
	keys := make([]string, 0, len(f.Extra))
	for k := range f.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "; %s %s", k, num(f.Extra[k]))
	}
	if f.Text != "" {
		b.WriteString("; " + f.Text)
	}
	return b.String()
}

func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 10000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// setRatio sets the ratio ours/peer when both have a headline figure.
func (r *Result) setRatio() {
	o, p := r.Ours.headline(), r.Peer.headline()
	if o != 0 && p != 0 {
		r.Ratio = o / p
	}
}

// met renders a goal check.
func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// PrintTable writes the report as a table.
func (rep *Report) PrintTable(w io.Writer) {
	mode := "full run"
	if rep.Smoke {
		mode = "SMOKE run (short, figures are not representative)"
	}
	fmt.Fprintf(w, "Pitwall benchmark suite, %s, %s, %d CPUs, load before %s, took %s\n\n",
		mode, rep.Started.UTC().Format(time.RFC3339), rep.CPUs, rep.Load, rep.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tours\tpeer (same run)\tratio\tgoal\tmet?")
	for _, r := range rep.Results {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nmethods:")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "  %s: %s\n", r.Name, r.Method)
	}
}

// cells are a result's columns in the table: measure, ours, peer,
// ratio, goal, met.
func (r *Result) cells() []string {
	ours := r.Ours.String()
	if r.Error != "" {
		ours = "error: " + r.Error
	}
	peer := r.Peer.String()
	if r.PeerName != "" {
		peer = r.PeerName + ": " + peer
	}
	ratio := "-"
	if r.Ratio != 0 {
		ratio = fmt.Sprintf("%.2f×", r.Ratio)
	}
	return []string{r.Name, ours, peer, ratio, r.Goal, r.Met}
}

// Markdown renders the report as a Markdown table.
func (rep *Report) Markdown(w io.Writer) {
	fmt.Fprintln(w, "| measure | ours | peer (same run) | ratio | goal | met? |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r.cells(), " | "))
	}
}

// Write stores the report as dir/<UTC timestamp>.json and dir/latest.json
// (and latest.md), returning the timestamped path.
func (rep *Report) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	name := filepath.Join(dir, rep.Started.UTC().Format("20060102T150405Z")+".json")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), data, 0o644); err != nil {
		return "", err
	}
	var md strings.Builder
	rep.Markdown(&md)
	return name, os.WriteFile(filepath.Join(dir, "latest.md"), []byte(md.String()), 0o644)
}
