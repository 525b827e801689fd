package wire

import "strings"

// Band is a span of a test's timeline when an interference generator
// loaded a host, for the shaded bands on its charts.
type Band struct {
	// Kind is the generator's kind (cpu, memory, ...).
	Kind     string
	From, To Stage
}

// InterferenceBands pairs a timeline's "interference KIND began" and
// "interference KIND stopped" stages, in order, into bands; a began stage
// without its stopped one (a test still running, or aborted) is left out.
func InterferenceBands(timeline []Stage) []Band {
	const prefix, began, stopped = "interference ", " began", " stopped"
	open := map[string][]Stage{}
	var out []Band
	for _, s := range timeline {
		if s.Kind != "stage" || !strings.HasPrefix(s.Stage, prefix) {
			continue
		}
		if kind, ok := strings.CutSuffix(strings.TrimPrefix(s.Stage, prefix), began); ok {
			open[kind] = append(open[kind], s)
		} else if kind, ok := strings.CutSuffix(strings.TrimPrefix(s.Stage, prefix), stopped); ok && len(open[kind]) > 0 {
			out = append(out, Band{Kind: kind, From: open[kind][0], To: s})
			open[kind] = open[kind][1:]
		}
	}
	return out
}
