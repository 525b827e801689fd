package workflows

import (
	"fmt"
	"strings"

	"github.com/pitwall/pitwall/workflows/contract"
)

// interferenceStages are the timeline stages of a run's interference
// generators: when each began and stopped, by the agent's clock, with
// the host, the run and the command, and how it ended. A generator that
// never started gets one stage saying why.
func interferenceStages(spans []contract.InterferenceSpan, run string) []contract.Stage {
	var out []contract.Stage
	for _, s := range spans {
		name := "interference " + s.Kind
		where := fmt.Sprintf("%s, %s", s.Host, run)
		if s.Began.IsZero() {
			out = append(out, contract.Stage{Name: name + " not started", At: s.Stopped, Detail: where + ": " + s.Why})
			continue
		}
		out = append(out,
			contract.Stage{Name: name + contract.InterferenceStageBegan, At: s.Began,
				Detail: where + ": " + strings.Join(s.Command, " ")},
			contract.Stage{Name: name + contract.InterferenceStageStopped, At: s.Stopped,
				Detail: fmt.Sprintf("%s: after %.1f s; %s", where, s.Stopped.Sub(s.Began).Seconds(), s.Why)})
	}
	return out
}
