package contract

import "time"

// RetentionWorkflow applies every team's retention (workflows.Retention);
// the RetentionScheduleID schedule starts it.
const RetentionWorkflow = "Retention"

// RetentionScheduleID is the Temporal schedule that runs retention, made
// by the central worker at start.
const RetentionScheduleID = "pitwall-retention"

// RetentionWorkflowID is the workflow ID the retention schedule starts
// (Temporal appends the time it was due).
const RetentionWorkflowID = "retention"

// RetentionInput may set the instant retention is applied as of (zero:
// the activity's clock), for tests and backfills.
type RetentionInput struct {
	Now time.Time
}

// RetentionResult is what a retention run did.
type RetentionResult struct {
	PartitionsCreated []string
	PartitionsDropped []string
	RolledUp          int
	RawExpired        int
	LogsExpired       int
	KeptRows          int64
	RollupsDeleted    int64
	ArtifactTests     int
	// Took is each part's duration, by name.
	Took map[string]time.Duration
}

// RetentionRun is the central activity that applies retention (it
// heartbeats between its parts).
var RetentionRun = Activity[RetentionInput, *RetentionResult]{"RetentionRun"}
