package contract

import "strconv"

// NoiseWorkflow measures a host's noise for a framework with an A/A
// series (workflows.NoiseFloor).
const NoiseWorkflow = "NoiseFloor"

// NoiseWorkflowID is the ID of noise measurement id's workflow.
func NoiseWorkflowID(id int64) string { return "noise-" + strconv.FormatInt(id, 10) }

// NoiseInput names the measurement to run; the rest is loaded.
type NoiseInput struct {
	ID int64
}

// NoisePlan is what a measurement runs: on which host (Hosts: it and the
// framework's statistics hosts, leased once, in the global order), how
// many times, and which KPIs it measures.
type NoisePlan struct {
	ID    int64
	Host  string
	Hosts []string
	Runs  int
	KPIs  []string
}

// NoiseEndInput records a measurement's ending: with state finished, each
// KPI's values in run order (the activity computes the floors).
type NoiseEndInput struct {
	ID     int64
	State  string
	Reason string
	Values map[string][]float64
}

// The noise measurement's central activities.
var (
	// NoiseLoad loads a measurement's plan.
	NoiseLoad = Activity[int64, *NoisePlan]{"NoiseLoad"}
	// NoiseRun creates a run's test and returns its ID.
	NoiseRun = Activity[int64, int64]{"NoiseRun"}
	// NoiseEnd records the ending and the floors.
	NoiseEnd = Action[NoiseEndInput]{"NoiseEnd"}
)
