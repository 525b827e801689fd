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

// NoiseScheduleWorkflow is what a framework's noise schedule starts each
// time it fires (workflows.ScheduledNoise).
const NoiseScheduleWorkflow = "ScheduledNoise"

// NoiseScheduleID is the Temporal schedule ID of a framework's scheduled
// A/A measurement (its noise key).
func NoiseScheduleID(team, framework string) string { return "pitwall-noise-" + team + "." + framework }

// ScheduledNoiseID is the workflow ID the noise schedule's action starts
// (Temporal appends the time it was due).
func ScheduledNoiseID(team, framework string) string {
	return "scheduled-noise-" + team + "." + framework
}

// ScheduledNoiseInput names the framework whose noise schedule fired;
// its noise key is read when it runs, so an edit applies to the next run.
type ScheduledNoiseInput struct {
	Team, Framework string
}

// ScheduledNoiseStartInput asks for a scheduled run's measurements; Run
// is the scheduled workflow's ID (the measurements' starter).
type ScheduledNoiseStartInput struct {
	Team, Framework, Run string
}

// ScheduledNoiseResult is what a scheduled A/A did: a measurement per
// host it started, and the hosts it could not measure, with why.
type ScheduledNoiseResult struct {
	Measurements []int64
	Skipped      []string
	// States are the measurements' endings, in the same order.
	States []string
}

// The central worker's scheduled A/A activities.
var (
	// NoiseScheduleStart starts a measurement on each host of the
	// framework's noise key, through the same rules as one asked by hand.
	NoiseScheduleStart = Activity[ScheduledNoiseStartInput, *ScheduledNoiseResult]{"NoiseScheduleStart"}
	// NoiseScheduleWait returns the measurements' endings once all have
	// ended (it heartbeats while it waits).
	NoiseScheduleWait = Activity[[]int64, []string]{"NoiseScheduleWait"}
)
