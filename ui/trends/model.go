package trends

import (
	"github.com/pitwall/pitwall/internal/changepoint"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/layout"
)

type model struct {
	Framework, KPI, Branch, ParamsText, Team string
	// Accepted is the change point just accepted, for a notice.
	Accepted     string
	Frameworks   []wire.FrameworkInfo
	KPIs         []string
	Unit, Better string
	Points       []store.TrendPoint
	ChangePoints []store.ChangePoint
	MayAccept    bool
	// ParamSets are the distinct parameter sets among the points; more
	// than one mixes series the change points treat apart.
	ParamSets []string
	// Outliers are the tests whose value is a single-run outlier of the
	// baseline branch's history (changepoint.Outliers).
	Outliers map[int64]bool
	// Self is this page's URL, to come back to after accepting.
	Self  string
	Chart chart
	Error string
}

// chart is what trends.js draws with Pitwall.chart.
type chart struct {
	Title string    `json:"title"`
	Unit  string    `json:"unit"`
	X     []float64 `json:"x"`
	Y     []float64 `json:"y"`
	IDs   []int64   `json:"ids"`
	Marks []mark    `json:"marks"`
	// Outliers has the value of each outlier, null for the other points.
	Outliers []*float64 `json:"outliers"`
}

type mark struct {
	X     float64 `json:"x"`
	Label string  `json:"label"`
	Color string  `json:"color"`
}

func chartOf(m model) chart {
	c := chart{Title: m.Framework + " · " + m.KPI, Unit: m.Unit, X: []float64{}, Y: []float64{}, IDs: []int64{}, Marks: []mark{}}
	at := map[int64]float64{}
	for _, p := range m.Points {
		x := float64(p.CreatedAt.UnixMilli()) / 1000
		at[p.TestID] = x
		c.X = append(c.X, x)
		c.Y = append(c.Y, p.Value)
		c.IDs = append(c.IDs, p.TestID)
		var o *float64
		if m.Outliers[p.TestID] {
			o = &p.Value
		}
		c.Outliers = append(c.Outliers, o)
	}
	for _, cp := range m.ChangePoints {
		x, ok := at[cp.TestID]
		if !ok {
			continue // the change's test is not among the points shown
		}
		color, label := "#b91c1c", layout.Percent(cp.DeltaPct)
		switch {
		case cp.Weak: // below the threshold: drawn, faint, never alerted on
			color, label = "#9ca3af", label+" weak"
		case cp.AcceptedAt != nil:
			color = "#6b7280"
		}
		c.Marks = append(c.Marks, mark{X: x, Label: label, Color: color})
	}
	return c
}

// outliers finds the single-run outliers of the baseline branch's points
// as change-point detection sees them: only for one parameter set, since
// each set is a history of its own.
func outliers(points []store.TrendPoint, paramSets []string, baselineBranch string) map[int64]bool {
	if len(paramSets) > 1 {
		return nil
	}
	var ids []int64
	var x []float64
	for _, p := range points {
		if p.Branch == baselineBranch {
			ids = append(ids, p.TestID)
			x = append(x, p.Value)
		}
	}
	out := map[int64]bool{}
	for _, i := range changepoint.Outliers(x, changepoint.Defaults) {
		out[ids[i]] = true
	}
	return out
}

// example is a parameter filter to suggest: the first non-empty set.
func example(sets []string) string {
	for _, s := range sets {
		if s != "" {
			return s
		}
	}
	return ""
}
