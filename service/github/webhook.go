package github

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	gogh "github.com/google/go-github/v75/github"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Delivery is a webhook request as GitHub sends it.
type Delivery struct {
	Event     string // X-GitHub-Event
	ID        string // X-GitHub-Delivery
	Signature string // X-Hub-Signature-256
	Body      []byte
}

// Received is what the webhook answers.
type Received struct {
	Delivery string `json:"delivery"`
	Team     string `json:"team,omitempty"`
	// Outcome is started (a workflow handles it), duplicate (delivered
	// before), or ignored (nothing to do), with Detail.
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

var deliveryRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`)

// Receive handles a delivery: its signature is checked against each
// team's webhook secret before anything is parsed; a push, a pull request
// opened, synchronized or reopened, and a /pitwall command on a pull
// request start a GitHubEvent workflow whose ID is the delivery's (so a
// delivery GitHub sends again starts nothing); anything else is ignored.
// Every verified delivery is recorded.
func (s *Service) Receive(ctx context.Context, d Delivery) (*Received, error) {
	team, err := s.teamOf(ctx, d.Signature, d.Body)
	if err != nil {
		return nil, err
	}
	if !deliveryRE.MatchString(d.ID) {
		return nil, service.InvalidField("X-GitHub-Delivery", "X-GitHub-Delivery must be GitHub's delivery GUID")
	}
	out := &Received{Delivery: d.ID, Team: team}
	ev, ignore := parse(d)
	ev.Team, ev.Delivery = team, d.ID
	rec := wire.GitHubDelivery{Delivery: d.ID, Team: team, Event: d.Event, Action: ev.Action, Repository: ev.Repository,
		ReceivedAt: time.Now(), Outcome: "started"}
	if ignore != "" {
		rec.Outcome, rec.Detail = "ignored", ignore
	}
	fresh, err := s.Store.GitHubDeliveryClaim(ctx, rec)
	if err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	if ignore != "" {
		out.Outcome, out.Detail = "ignored", ignore
		return out, nil
	}
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: contract.GitHubWorkflowID(d.ID), TaskQueue: contract.CentralQueue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the client hands back the running workflow, not an error.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, contract.GitHubEventWorkflow, ev)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		out.Outcome, out.Detail = "duplicate", "this delivery was received before"
	case err != nil:
		s.Log.Error("github webhook: start workflow", "delivery", d.ID, "error", err)
		_ = s.Store.GitHubDeliveryOutcome(context.WithoutCancel(ctx), d.ID, "failed", "Temporal did not answer; GitHub may deliver again")
		return nil, service.Errorf(service.Unavailable, "", "could not start handling delivery %s; redeliver it", d.ID)
	case !fresh:
		out.Outcome, out.Detail = "started", "received before, but not handled: handled now"
	default:
		out.Outcome = "started"
	}
	return out, nil
}

// parse reduces a delivery to the event the workflow acts on, or says
// why there is nothing to do.
func parse(d Delivery) (contract.GitHubEvent, string) {
	ev := contract.GitHubEvent{Event: d.Event}
	if d.Event == "ping" {
		return ev, "ping: the webhook works"
	}
	payload, err := gogh.ParseWebHook(d.Event, d.Body)
	if err != nil {
		return ev, "not an event Pitwall acts on: " + err.Error()
	}
	switch p := payload.(type) {
	case *gogh.PushEvent:
		ev.Repository, ev.Sender = p.GetRepo().GetFullName(), p.GetSender().GetLogin()
		branch, isBranch := strings.CutPrefix(p.GetRef(), "refs/heads/")
		ev.Branch, ev.SHA = branch, p.GetAfter()
		switch {
		case !isBranch:
			return ev, "a push of " + p.GetRef() + ", not of a branch"
		case p.GetDeleted() || strings.Trim(ev.SHA, "0") == "":
			return ev, "a branch deleted"
		}
	case *gogh.PullRequestEvent:
		pr := p.GetPullRequest()
		ev.Action, ev.Repository, ev.Sender = p.GetAction(), p.GetRepo().GetFullName(), p.GetSender().GetLogin()
		ev.PR, ev.HeadSHA, ev.HeadRef, ev.BaseRef = pr.GetNumber(), pr.GetHead().GetSHA(), pr.GetHead().GetRef(), pr.GetBase().GetRef()
		ev.Fork = !strings.EqualFold(pr.GetHead().GetRepo().GetFullName(), pr.GetBase().GetRepo().GetFullName())
		switch ev.Action {
		case "opened", "synchronize", "reopened":
		default:
			return ev, "pull_request " + ev.Action + ": nothing to run"
		}
	case *gogh.IssueCommentEvent:
		ev.Action, ev.Repository, ev.Sender = p.GetAction(), p.GetRepo().GetFullName(), p.GetSender().GetLogin()
		ev.PR, ev.CommentID, ev.CommentBody = p.GetIssue().GetNumber(), p.GetComment().GetID(), p.GetComment().GetBody()
		ev.Association = p.GetComment().GetAuthorAssociation()
		switch {
		case ev.Action != "created":
			return ev, "issue_comment " + ev.Action + ": only new comments are read"
		case !p.GetIssue().IsPullRequest():
			return ev, "a comment on an issue, not on a pull request"
		case !strings.HasPrefix(strings.TrimSpace(ev.CommentBody), "/pitwall"):
			return ev, "a comment without a /pitwall command"
		}
		if len(ev.CommentBody) > 1000 {
			ev.CommentBody = ev.CommentBody[:1000]
		}
	default:
		return ev, "event " + d.Event + ": Pitwall acts on push, pull_request and issue_comment"
	}
	return ev, ""
}
