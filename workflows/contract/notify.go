package contract

import "strconv"

// NotifyWorkflow evaluates a test's ending for alerts and delivers the
// notifications it leads to (workflows.Notify).
const NotifyWorkflow = "Notify"

// NotifyWorkflowID is the ID of a test's Notify workflow: a test's ending
// is evaluated and notified once, however often it is started.
func NotifyWorkflowID(testID int64) string { return "notify-" + strconv.FormatInt(testID, 10) }

// NotifyPlan is what a test's ending led to: the deliveries to make.
type NotifyPlan struct {
	Deliveries []int64
}

// DeliverInput is one delivery to make; MaxAttempts is the workflow's
// retry limit, so the last attempt records the delivery as failed.
type DeliverInput struct {
	Delivery    int64
	MaxAttempts int32
}

// The central worker's notification activities.
var (
	// AlertsEvaluate opens, attaches to, escalates and resolves the alerts
	// of a test's ending and stores one message per channel (once per
	// test: a retry returns the stored deliveries).
	AlertsEvaluate = Activity[int64, *NotifyPlan]{"AlertsEvaluate"}
	// NotifyDeliver sends one delivery and records its outcome.
	NotifyDeliver = Action[DeliverInput]{"NotifyDeliver"}
)

// AnnounceWorkflow announces how a bisection ended (workflows.Announce):
// its culprit as notifications of their own and on GitHub.
const AnnounceWorkflow = "Announce"

// AnnounceWorkflowID is the ID of bisection id's announcement: once per
// bisection, however often it is started.
func AnnounceWorkflowID(id int64) string { return "announce-" + strconv.FormatInt(id, 10) }

// The announcement's activities (central).
var (
	// AnnounceCompose stores the notifications of a bisection's culprit
	// (once: a retry returns the stored deliveries).
	AnnounceCompose = Activity[int64, *NotifyPlan]{"AnnounceCompose"}
	// GitHubCulprit posts a bisection's culprit to the pull request or
	// commit its test came from, when it came from GitHub.
	GitHubCulprit = Action[int64]{"GitHubCulprit"}
)
