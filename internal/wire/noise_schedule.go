package wire

import "time"

// NoiseSchedule is a framework's scheduled A/A measurement (its noise
// key) as the framework page shows it, with what Temporal says of it.
type NoiseSchedule struct {
	Schedule string
	TimeZone string
	// Runs is how many runs each host makes; Hosts are those the key
	// names (none: the execution host, or every agent that may run it).
	Runs  int
	Hosts []string
	// TemporalID is the Temporal schedule's ID.
	TemporalID string
	Paused     bool
	// NextRuns are the next times it fires; Fired counts its firings.
	NextRuns []time.Time
	Fired    int64
	// Error says why Temporal's side is unknown.
	Error string
}
