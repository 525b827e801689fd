package contract

import "strconv"

// ScheduledRunWorkflow is what a Pitwall schedule starts each time it
// fires (workflows.ScheduledRun).
const ScheduledRunWorkflow = "ScheduledRun"

// ScheduleID is the Temporal schedule ID of Pitwall schedule id.
func ScheduleID(id int64) string { return "pitwall-schedule-" + strconv.FormatInt(id, 10) }

// ScheduledRunID is the workflow ID a schedule's action starts (Temporal
// appends the time it was due).
func ScheduledRunID(id int64) string { return "scheduled-run-" + strconv.FormatInt(id, 10) }

// ScheduledRunInput names the schedule that fired; everything else (its
// framework, parameters, branch) is read when it runs, so an edit applies
// to the next run.
type ScheduledRunInput struct {
	Schedule int64
}

// ScheduledRunResult is how a scheduled run ended.
type ScheduledRunResult struct {
	// Test is the test it started (0: none could be started; Reason says why).
	Test   int64
	State  string
	Reason string
	// Paused says this run paused the schedule.
	Paused bool
}

// ScheduleStartInput asks for a schedule's test; Run is the scheduled
// workflow's ID, so a retried activity finds the test it started before.
type ScheduleStartInput struct {
	Schedule int64
	Run      string
}

// ScheduleCheckInput is a scheduled run that ended: its test, or why no
// test could start.
type ScheduleCheckInput struct {
	Schedule int64
	Test     int64
	// StartError is why the test could not be started (Test is 0).
	StartError string
}

// The central worker's schedule activities.
var (
	// ScheduleStart starts the schedule's test through the same rules as
	// any test's, or says why it could not.
	ScheduleStart = Activity[ScheduleStartInput, *ScheduledRunResult]{"ScheduleStart"}
	// ScheduleWait returns the test's final state once it has ended (it
	// heartbeats while it waits).
	ScheduleWait = Activity[int64, string]{"ScheduleWait"}
	// ScheduleCheck counts the schedule's failed runs in a row and pauses
	// it, with a note saying why, when they reach its limit.
	ScheduleCheck = Activity[ScheduleCheckInput, bool]{"ScheduleCheck"}
)
