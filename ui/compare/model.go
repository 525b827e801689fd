package compare

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
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
