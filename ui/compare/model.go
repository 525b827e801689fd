package compare

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/ui/answer"
	"github.com/pitwall/pitwall/ui/layout"
)

type model struct {
	// IDs is the ids parameter as given, for the form.
	IDs        string
	Error      string
	Comparison wire.Comparison
	// Better is "higher" or "lower" per KPI name.
	Better map[string]string
	Charts []chartTest
	// Profiles are the later tests' profiles against the first test's.
	Profiles []tests.ProfileDiff
}

// sentence says in words how tests differ: "different CPU model: X vs Y".
func sentence(d wire.CompareDiff) string {
	vals := make([]string, len(d.Values))
	for i, v := range d.Values {
		switch {
		case v == "":
			vals[i] = "(none)"
		case d.What == "memory":
			vals[i] = bytes(v)
		case d.What == "script" && len(v) > 12:
			vals[i] = v[:12]
		default:
			vals[i] = v
		}
	}
	what := d.What
	if strings.HasPrefix(what, "parameter ") {
		what = "value of " + what
	}
	return fmt.Sprintf("different %s: %s", what, strings.Join(vals, " vs "))
}

func bytes(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return s
	}
	return service.Bytes(n)
}

func value(v *float64, unit string) string {
	if v == nil {
		return "–"
	}
	return layout.Value(*v, unit)
}

func delta(d *float64) string {
	if d == nil {
		return ""
	}
	return layout.Percent(*d)
}

// baselineModel is the compare-with-baseline view.
type baselineModel struct {
	// Raw is the test parameter as given, for the picker.
	Raw   string
	Error string
	C     *tests.BaselineComparison
	// Charts overlay the newest baseline test and the test.
	Charts []chartTest
}

func (m baselineModel) rows() []answer.Row { return answer.Rows(m.C.Test, m.C.Baselines) }

// baselineTests are every test any KPI was judged against, newest first.
func (m baselineModel) baselineTests() []int64 {
	ids := slices.Sorted(slices.Values(m.C.Test.BaselineTests))
	slices.Reverse(ids)
	return ids
}

// sideBySide is the N-way compare of the newest baseline tests and the
// test, the newest baseline test as the reference.
func (m baselineModel) sideBySide() string {
	ids := []string{}
	for i, b := range m.baselineTests() {
		if len(ids) == 10 {
			break
		}
		ids = append(ids, strconv.FormatInt(b, 10))
		if i == 0 {
			ids = append(ids, strconv.FormatInt(m.C.Test.ID, 10))
		}
	}
	return "/compare?ids=" + strings.Join(ids, ",")
}

// pickLabel names a test in the picker: ID, branch, commit, verdict, when.
func pickLabel(t wire.Test) string {
	parts := []string{fmt.Sprintf("#%d", t.ID)}
	if t.Branch != "" {
		parts = append(parts, t.Branch)
	}
	if t.Commit != "" {
		parts = append(parts, layout.ShortSHA(t.Commit))
	}
	if t.Verdict != "" {
		parts = append(parts, t.Verdict)
	} else {
		parts = append(parts, t.State)
	}
	parts = append(parts, layout.Minute(t.CreatedAt))
	return strings.Join(parts, " · ")
}

// pickable reports whether the picker lists the test itself (it may be
// older than the recent tests).
func (m baselineModel) pickable() bool {
	for _, t := range m.C.Recent {
		if t.ID == m.C.Test.ID {
			return true
		}
	}
	return false
}

func spread(b *tests.BaselineKPI, unit string) string {
	return "± " + layout.Value(b.Stddev, unit) + " · " + layout.Value(b.Min, unit) + "–" + layout.Value(b.Max, unit)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
