package series

import (
	"fmt"
	"strings"

	"github.com/pitwall/pitwall/internal/wire"
)

type model struct {
	C      *wire.Confirmation
	MayAct bool
}

type listModel struct {
	T      *wire.Test
	Items  []wire.Confirmation
	MayAct bool
}

// title names a series for people.
func title(c *wire.Confirmation) string {
	if c.Kind == wire.KindBisect {
		return fmt.Sprintf("Bisection %d", c.ID)
	}
	return fmt.Sprintf("Confirmation %d", c.ID)
}

// armName says what a run's arm is.
func armName(kind, arm string) string {
	switch {
	case arm == wire.ArmMiddle:
		return "middle"
	case kind == wire.KindBisect && arm == wire.ArmBaseline:
		return "good end"
	case kind == wire.KindBisect:
		return "bad end"
	case arm == wire.ArmBaseline:
		return "baseline"
	}
	return "candidate"
}

// order is the runs' arms in the order they ran, as letters (ABBA…).
func order(c *wire.Confirmation) string {
	var b strings.Builder
	for _, r := range c.Runs {
		b.WriteString(r.Arm)
	}
	return b.String()
}

func value(r wire.ConfirmationRun, kpis []wire.ConfirmKPI) string {
	var out []string
	for _, k := range kpis {
		if v, ok := r.Values[k.Name]; ok {
			out = append(out, fmt.Sprintf("%s %.6g", k.Name, v))
		}
	}
	return strings.Join(out, ", ")
}

func pct(v float64) string { return fmt.Sprintf("%+.2f%%", v) }

func stateClass(state string) string {
	switch state {
	case wire.ConfirmConfirmed, wire.BisectFound, wire.BisectRange:
		return "bad"
	case wire.ConfirmNotConfirmed:
		return "good"
	}
	return "muted"
}

func budgetUnit(c *wire.Confirmation) string {
	if c.Kind == wire.KindBisect {
		return "rounds per step"
	}
	return "pairs"
}

// ci is an outcome's interval with its level.
func ci(o wire.ConfirmOutcome) string {
	return fmt.Sprintf("%s .. %s (%.3g%%)", pct(o.CILowPct), pct(o.CIHighPct), 100*o.Confidence)
}

// commitsSource says how many commits a bisection goes through and where
// they came from.
func commitsSource(c *wire.Confirmation) string {
	n := len(c.Commits)
	switch c.CommitsSource {
	case wire.CommitsGit:
		if c.State == wire.ConfirmRunning && n <= 2 {
			return "commits being listed from git"
		}
		return fmt.Sprintf("%d commits listed from git (first-parent, every commit between the ends)", n)
	case wire.CommitsRequest:
		return fmt.Sprintf("%d commits given when it was started", n)
	case wire.CommitsHistory:
		return fmt.Sprintf("%d commits of tests in the history (only those tested)", n)
	}
	return fmt.Sprintf("%d commits", n)
}
