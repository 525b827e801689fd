package results

import (
	"fmt"
	"strings"
)

// ApplyUnits holds KPIs read from file to the units a framework declares
// (KPI name → unit; a name without a unit may be left out). A KPI whose
// line gave no unit takes the declared one. A KPI whose line gave another
// unit keeps its value and its own unit, and a note says so: units are
// never converted, and "s" where "ms" was declared is more likely a script
// that changed than a value to scale.
func ApplyUnits(file string, kpis []KPI, declared map[string]string) []Note {
	var notes []Note
	for i := range kpis {
		k := &kpis[i]
		want := strings.TrimSpace(declared[k.Name])
		switch {
		case want == "" || k.Unit == want:
		case k.Unit == "":
			k.Unit = want
		default:
			notes = append(notes, Note{file, k.Line, fmt.Sprintf(
				"%s: unit %q differs from the declared %q; kept as written, not converted", k.Name, k.Unit, want)})
		}
	}
	return notes
}
