package contract

// GitHubEventWorkflow handles one GitHub webhook delivery (workflows.GitHubEvent).
const GitHubEventWorkflow = "GitHubEvent"

// GitHubWorkflowID is the ID of the workflow of a delivery: GitHub
// delivers again, and the same delivery never starts a second workflow.
func GitHubWorkflowID(delivery string) string { return "github-" + delivery }

// GitHubEvent is a webhook delivery whose signature the server checked,
// reduced to what Pitwall acts on.
type GitHubEvent struct {
	Delivery   string
	Team       string
	Event      string // push, pull_request or issue_comment
	Action     string
	Repository string // owner/name
	Sender     string
	// A push: the branch and the commit it leaves the branch at.
	Branch, SHA string
	// A pull request (or a comment on one): its number, head and base; Fork
	// says the head is in another repository.
	PR               int
	HeadSHA, HeadRef string
	BaseRef          string
	Fork             bool
	// A comment: its ID, text, and its author's association with the
	// repository (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE...).
	CommentID   int64
	CommentBody string
	Association string
}

// GitHubPlan is what a delivery led to: the tests it started (or found
// started by an earlier attempt), to be reported back when they end.
type GitHubPlan struct {
	Tests []int64
	// Report says a pull request's comment and its head's statuses are to
	// be written even when no test started (a fork waiting for a
	// maintainer, a cancel).
	Report bool
}

// GitHubReportInput says what to report: the delivery's event, and its
// tests when they have all ended (Final) or have just started.
type GitHubReportInput struct {
	Event GitHubEvent
	Tests []int64
	Final bool
}

// The central worker's GitHub activities.
var (
	// GitHubHandle acts on a delivery: it records the pull request's head,
	// aborts tests a newer push superseded, starts the mapped frameworks'
	// tests (once per delivery and framework), and answers commands.
	GitHubHandle = Activity[GitHubEvent, *GitHubPlan]{"GitHubHandle"}
	// GitHubWait returns once every test has ended (it heartbeats while it
	// waits).
	GitHubWait = Action[[]int64]{"GitHubWait"}
	// GitHubReport sets the commit statuses of the tests and writes the
	// pull request's one comment.
	GitHubReport = Action[GitHubReportInput]{"GitHubReport"}
)
