// Package temporalcfg holds the dynamic config of the Temporal servers
// Pitwall starts itself: the dev server of `task dev` and `task demo`, and
// the dev servers of the tests and the benchmark suite (internal/temporaldev).
package temporalcfg

import (
	"fmt"
	"maps"
	"slices"
)

// Dynamic is that dynamic config. A history shard reads its transfer queue
// (the tasks that dispatch workflow and activity tasks and deliver
// signals) at most 20 times a second by default, and a single-shard server
// has one shard for everything, so every step of a workflow waited for the
// next read: 47 ms a step, about 0.4 s from submit to the script starting
// on an idle machine. Reading as often as tasks arrive costs a query per
// read, which is nothing at this scale. The timer and visibility queues
// keep their defaults: a timer or a search listing 50 ms late costs no
// test anything. docs/architecture.md says how to set this on a cluster.
var Dynamic = map[string]any{
	"history.transferProcessorMaxPollRPS": 1000,
}

// DevServerFlags are Dynamic as flags of `temporal server start-dev`.
func DevServerFlags() []string {
	var flags []string
	for _, k := range slices.Sorted(maps.Keys(Dynamic)) {
		flags = append(flags, "--dynamic-config-value", fmt.Sprintf("%s=%v", k, Dynamic[k]))
	}
	return flags
}
