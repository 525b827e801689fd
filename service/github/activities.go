package github

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/gh"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
	"github.com/pitwall/pitwall/service/tests"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Register registers the GitHub activities on the central worker.
func Register(r worker.ActivityRegistry, s *Service) {
	contract.GitHubHandle.Register(r, s.Handle)
	contract.GitHubWait.Register(r, s.WaitEnded)
	contract.GitHubReport.Register(r, s.Report)
	contract.GitHubCulprit.Register(r, s.Culprit)
}

// Tags a test started for GitHub carries.
const (
	TagDelivery = "github.delivery"
	TagEvent    = "github.event"
	TagSender   = "github.sender"
)

// Principal is who GitHub's tests run as: a member of the team, and the
// owner of the tests it starts (so it may abort them).
const Principal = "github"

func (s *Service) as(ctx context.Context, team string) context.Context {
	return service.WithPrincipal(ctx, &auth.Principal{Kind: auth.KindUser, Name: Principal,
		Teams: map[string]auth.Role{team: auth.Member}})
}

// Handle acts on a delivery (contract.GitHubHandle).
func (s *Service) Handle(ctx context.Context, ev contract.GitHubEvent) (*contract.GitHubPlan, error) {
	ctx = s.as(ctx, ev.Team)
	plan, outcome, err := s.handle(ctx, ev)
	if err != nil {
		return nil, temporalError(err)
	}
	if outcome != "" {
		_ = s.Store.GitHubDeliveryOutcome(ctx, ev.Delivery, "handled", outcome)
	}
	return plan, nil
}

func (s *Service) handle(ctx context.Context, ev contract.GitHubEvent) (*contract.GitHubPlan, string, error) {
	plan := &contract.GitHubPlan{Tests: []int64{}}
	switch ev.Event {
	case "push":
		fws, err := s.mapped(ctx, ev, framework.GitHubPush, ev.Branch)
		if err != nil {
			return nil, "", err
		}
		for _, f := range fws {
			id, err := s.startOnce(ctx, ev, f, ev.SHA, ev.Branch, 0)
			if err != nil {
				return nil, "", err
			}
			plan.Tests = append(plan.Tests, id)
		}
		return plan, fmt.Sprintf("push to %s: %d test(s) %v", ev.Branch, len(plan.Tests), plan.Tests), nil
	case "pull_request":
		if _, err := s.Store.GitHubPRHead(ctx, store.GitHubPR{Team: ev.Team, Repository: ev.Repository, Number: ev.PR,
			HeadSHA: ev.HeadSHA, HeadRef: ev.HeadRef, BaseRef: ev.BaseRef, Fork: ev.Fork, UpdatedAt: time.Now()}); err != nil {
			return nil, "", err
		}
		superseded, err := s.supersede(ctx, ev)
		if err != nil {
			return nil, "", err
		}
		fws, err := s.mapped(ctx, ev, framework.GitHubPullRequest, ev.BaseRef)
		if err != nil || len(fws) == 0 {
			return plan, "no framework maps this pull request's base branch", err
		}
		if ev.Fork {
			plan.Report = true
			return plan, "a fork's pull request: waiting for a maintainer's /pitwall rerun", nil
		}
		for _, f := range fws {
			id, err := s.startOnce(ctx, ev, f, ev.HeadSHA, ev.HeadRef, ev.PR)
			if err != nil {
				return nil, "", err
			}
			plan.Tests = append(plan.Tests, id)
		}
		return plan, fmt.Sprintf("pull request #%d at %.12s: %d test(s) %v, %d queued test(s) superseded",
			ev.PR, ev.HeadSHA, len(plan.Tests), plan.Tests, superseded), nil
	case "issue_comment":
		return s.command(ctx, ev)
	}
	return plan, "", nil
}

// mapped lists the frameworks of the event's repository that event on
// branch runs.
func (s *Service) mapped(ctx context.Context, ev contract.GitHubEvent, event, branch string) ([]wire.FrameworkInfo, error) {
	all, err := s.Store.FrameworksOfRepository(ctx, ev.Team, ev.Repository)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(f wire.FrameworkInfo) bool { return !f.Framework.GitHub.Runs(event, branch) }), nil
}

// startOnce starts the framework's test for the delivery, or returns the
// one an earlier attempt of this activity started.
func (s *Service) startOnce(ctx context.Context, ev contract.GitHubEvent, f wire.FrameworkInfo, sha, branch string, pr int) (int64, error) {
	found, err := s.Store.TestList(ctx, store.TestFilter{Framework: f.Framework.Name, Teams: []string{ev.Team},
		Tag: TagDelivery + "=" + ev.Delivery, Limit: 1})
	if err != nil {
		return 0, err
	}
	if len(found) > 0 {
		return found[0].ID, nil
	}
	req := wire.RunRequest{Framework: f.Framework.Name, Team: ev.Team, Commit: sha, Branch: branch,
		Tags: map[string]string{store.TagGitHubRepository: ev.Repository, TagDelivery: ev.Delivery, TagEvent: ev.Event}}
	if ev.Sender != "" {
		req.Tags[TagSender] = ev.Sender
	}
	// Someone waits on a pull request's check; a push is normal work.
	req.Priority = wire.PriorityNormal
	if pr > 0 {
		req.PR = &pr
		req.Priority = wire.PriorityHigh
	}
	t, err := s.Tests.Start(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("start %s at %.12s: %w", f.Framework.Name, sha, err)
	}
	return t.ID, nil
}

// supersede aborts the pull request's tests still queued for an older head.
func (s *Service) supersede(ctx context.Context, ev contract.GitHubEvent) (int, error) {
	old, err := s.Store.TestsOfPR(ctx, ev.Team, ev.Repository, ev.PR, wire.StateQueued, wire.StateWaiting)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range old {
		if t.Commit == ev.HeadSHA {
			continue
		}
		_, err := s.Tests.Abort(ctx, tests.AbortInput{ID: t.ID, Reason: fmt.Sprintf("superseded by a push of %.12s to pull request #%d", ev.HeadSHA, ev.PR)})
		if err != nil && service.KindOf(err) != service.Ended {
			return n, err
		}
		n++
	}
	return n, nil
}

// maintainers are the author associations whose commands are honoured.
var maintainers = []string{"OWNER", "MEMBER", "COLLABORATOR"}

// command answers a /pitwall command in a pull request's comment.
func (s *Service) command(ctx context.Context, ev contract.GitHubEvent) (*contract.GitHubPlan, string, error) {
	plan := &contract.GitHubPlan{Tests: []int64{}}
	cl, err := s.client(ctx, ev.Team)
	if err != nil {
		return nil, "", err
	}
	line, _, _ := strings.Cut(strings.TrimSpace(ev.CommentBody), "\n")
	words := strings.Fields(line)
	verb, args := "", []string{}
	if len(words) > 1 {
		verb, args = words[1], words[2:]
	}
	if !slices.Contains(maintainers, ev.Association) {
		msg := fmt.Sprintf("@%s, thank you for the suggestion. Pitwall takes commands only from the owners, members and collaborators of %s, so it will not %s this time; a maintainer can ask it.",
			ev.Sender, ev.Repository, strings.TrimSpace("run "+verb))
		return plan, "a command from " + ev.Sender + " (" + ev.Association + "), not a maintainer: declined", cl.Reply(ctx, ev.Repository, ev.PR, msg)
	}
	switch verb {
	case "rerun":
		return s.rerun(ctx, cl, ev, args)
	case "cancel":
		running, err := s.Store.TestsOfPR(ctx, ev.Team, ev.Repository, ev.PR,
			wire.StateQueued, wire.StateWaiting, wire.StateSetup, wire.StateRunning, wire.StateCollating)
		if err != nil {
			return nil, "", err
		}
		n := 0
		for _, t := range running {
			_, err := s.Tests.Abort(ctx, tests.AbortInput{ID: t.ID, Reason: "cancelled by " + ev.Sender + " on GitHub (/pitwall cancel)"})
			if err != nil && service.KindOf(err) != service.Ended {
				return nil, "", err
			}
			n++
		}
		if err := cl.React(ctx, ev.Repository, ev.CommentID, "+1"); err != nil {
			return nil, "", err
		}
		plan.Report = true
		return plan, fmt.Sprintf("/pitwall cancel: %d test(s) aborted", n), nil
	case "compare":
		if len(args) != 1 || !shaRE.MatchString(args[0]) {
			return plan, "bad /pitwall compare", cl.Reply(ctx, ev.Repository, ev.PR, "Usage: `/pitwall compare <sha>`: the commit (7 to 40 hex digits) to compare this pull request's head with.")
		}
		return plan, "/pitwall compare " + args[0], s.compare(ctx, cl, ev, args[0])
	}
	return plan, "unknown command", cl.Reply(ctx, ev.Repository, ev.PR,
		"Pitwall understands `/pitwall rerun [framework]`, `/pitwall cancel` and `/pitwall compare <sha>`.")
}

// rerun runs the pull request's frameworks (or the one named) again on
// its head: a maintainer's rerun is also how a fork's pull request runs.
func (s *Service) rerun(ctx context.Context, cl *gh.Client, ev contract.GitHubEvent, args []string) (*contract.GitHubPlan, string, error) {
	plan := &contract.GitHubPlan{Tests: []int64{}}
	pr, err := cl.PullRequest(ctx, ev.Repository, ev.PR)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.Store.GitHubPRHead(ctx, store.GitHubPR{Team: ev.Team, Repository: ev.Repository, Number: ev.PR,
		HeadSHA: pr.HeadSHA, HeadRef: pr.HeadRef, BaseRef: pr.BaseRef, Fork: pr.Fork, UpdatedAt: time.Now()}); err != nil {
		return nil, "", err
	}
	fws, err := s.mapped(ctx, ev, framework.GitHubPullRequest, pr.BaseRef)
	if err != nil {
		return nil, "", err
	}
	if len(args) > 0 {
		fws = slices.DeleteFunc(fws, func(f wire.FrameworkInfo) bool { return f.Framework.Name != args[0] })
		if len(fws) == 0 {
			return plan, "rerun of an unmapped framework", cl.Reply(ctx, ev.Repository, ev.PR,
				fmt.Sprintf("No framework named `%s` runs on pull requests into `%s` of %s.", args[0], pr.BaseRef, ev.Repository))
		}
	}
	ev.HeadSHA, ev.HeadRef, ev.BaseRef = pr.HeadSHA, pr.HeadRef, pr.BaseRef
	for _, f := range fws {
		id, err := s.startOnce(ctx, ev, f, pr.HeadSHA, pr.HeadRef, ev.PR)
		if err != nil {
			return nil, "", err
		}
		plan.Tests = append(plan.Tests, id)
	}
	if err := cl.React(ctx, ev.Repository, ev.CommentID, "rocket"); err != nil {
		return nil, "", err
	}
	return plan, fmt.Sprintf("/pitwall rerun by %s: %d test(s) %v at %.12s", ev.Sender, len(plan.Tests), plan.Tests, pr.HeadSHA), nil
}

// compare replies with links comparing each framework's latest test of
// the pull request's head with its latest finished test of sha.
func (s *Service) compare(ctx context.Context, cl *gh.Client, ev contract.GitHubEvent, sha string) error {
	pr, err := s.Store.GitHubPRGet(ctx, ev.Team, ev.Repository, ev.PR)
	if err != nil {
		return cl.Reply(ctx, ev.Repository, ev.PR, "Pitwall has not tested this pull request yet: `/pitwall rerun` first.")
	}
	mine, err := s.Store.TestsOfPR(ctx, ev.Team, ev.Repository, ev.PR, wire.StateFinished)
	if err != nil {
		return err
	}
	var lines []string
	seen := map[string]bool{}
	for _, t := range mine {
		if t.Commit != pr.HeadSHA || seen[t.Framework] {
			continue
		}
		seen[t.Framework] = true
		other, err := s.Store.TestList(ctx, store.TestFilter{Framework: t.Framework, Teams: []string{ev.Team},
			Commit: sha, State: wire.StateFinished, Limit: 2})
		if err != nil {
			return err
		}
		other = slices.DeleteFunc(other, func(o wire.Test) bool { return o.ID == t.ID })
		if len(other) == 0 {
			lines = append(lines, fmt.Sprintf("- %s: no finished test of `%s`", gh.Cell(t.Framework), sha))
			continue
		}
		lines = append(lines, fmt.Sprintf("- %s: [test #%d (`%.12s`) against #%d (`%.12s`)](%s/compare?ids=%d,%d)",
			gh.Cell(t.Framework), t.ID, t.Commit, other[0].ID, other[0].Commit, s.PublicURL, other[0].ID, t.ID))
	}
	if len(lines) == 0 {
		return cl.Reply(ctx, ev.Repository, ev.PR, fmt.Sprintf("No finished test of this pull request's head `%.12s` yet.", pr.HeadSHA))
	}
	return cl.Reply(ctx, ev.Repository, ev.PR, fmt.Sprintf("Comparing `%.12s` with `%s`:\n\n%s", pr.HeadSHA, sha, strings.Join(lines, "\n")))
}

// WaitEnded returns once every test has ended (contract.GitHubWait).
func (s *Service) WaitEnded(ctx context.Context, ids []int64) error {
	every := s.Wait
	if every <= 0 {
		every = 2 * time.Second
	}
	for {
		left := 0
		for _, id := range ids {
			t, err := s.Store.TestGet(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted: nothing to wait for
			}
			if err != nil {
				return err
			}
			if !wire.Ended(t.State) {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		activity.RecordHeartbeat(ctx, left)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// Report sets the tests' commit statuses and writes the pull request's
// comment (contract.GitHubReport).
func (s *Service) Report(ctx context.Context, in contract.GitHubReportInput) error {
	return temporalError(s.report(ctx, in))
}

func (s *Service) report(ctx context.Context, in contract.GitHubReportInput) error {
	ev := in.Event
	cl, err := s.client(ctx, ev.Team)
	if err != nil {
		return err
	}
	for _, id := range in.Tests {
		r, err := s.result(ctx, id)
		if err != nil {
			return err
		}
		if r.Test == nil {
			continue
		}
		state, desc := gh.Status(*r)
		if err := cl.SetStatus(ctx, ev.Repository, r.Test.Commit, state, "pitwall/"+r.Framework, desc, r.TestURL); err != nil {
			return err
		}
	}
	if ev.PR == 0 {
		return nil
	}
	pr, err := s.Store.GitHubPRGet(ctx, ev.Team, ev.Repository, ev.PR)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	fws, err := s.mapped(ctx, ev, framework.GitHubPullRequest, pr.BaseRef)
	if err != nil {
		return err
	}
	ofPR, err := s.Store.TestsOfPR(ctx, ev.Team, ev.Repository, ev.PR)
	if err != nil {
		return err
	}
	var results []gh.Result
	waiting := false
	for _, f := range fws {
		name := f.Framework.Name
		idx := slices.IndexFunc(ofPR, func(t wire.Test) bool { return t.Framework == name && t.Commit == pr.HeadSHA })
		if idx < 0 {
			if pr.Fork {
				waiting = true
				results = append(results, gh.Result{Framework: name})
				state, desc := gh.Status(gh.Result{})
				if err := cl.SetStatus(ctx, ev.Repository, pr.HeadSHA, state, "pitwall/"+name, desc, ""); err != nil {
					return err
				}
			}
			continue
		}
		r, err := s.result(ctx, ofPR[idx].ID)
		if err != nil {
			return err
		}
		results = append(results, *r)
	}
	if len(results) == 0 {
		return nil
	}
	note := ""
	if waiting {
		note = "This pull request comes from a fork, so Pitwall does not run it on its own: a maintainer can comment `/pitwall rerun` to run it."
	}
	id, err := cl.UpsertComment(ctx, ev.Repository, ev.PR, pr.CommentID, gh.Comment(pr.HeadSHA, note, results))
	if err != nil {
		return err
	}
	if _, err := s.Store.GitHubPRComment(ctx, ev.Team, ev.Repository, ev.PR, id); err != nil {
		return err
	}
	return nil
}

// result is a test as reported: its links and its KPIs' baselines.
func (s *Service) result(ctx context.Context, id int64) (*gh.Result, error) {
	t, err := s.Tests.View(service.WithPrincipal(ctx, &auth.Principal{Kind: auth.KindUser, Name: Principal, SiteAdmin: true}), id)
	if service.KindOf(err) == service.NotFound {
		return &gh.Result{}, nil
	}
	if err != nil {
		return nil, err
	}
	r := &gh.Result{Framework: t.Framework, Test: t, TestURL: fmt.Sprintf("%s/tests/%d", s.PublicURL, t.ID),
		Baseline: map[string]float64{}}
	if len(t.BaselineTests) > 0 {
		ids := make([]string, 0, len(t.BaselineTests)+1)
		for _, b := range t.BaselineTests {
			ids = append(ids, strconv.FormatInt(b, 10))
		}
		r.CompareURL = fmt.Sprintf("%s/compare?ids=%s,%d", s.PublicURL, strings.Join(ids, ","), t.ID)
		values, err := s.Store.KPIValues(ctx, t.BaselineTests)
		if err != nil {
			return nil, err
		}
		sums, counts := map[string]float64{}, map[string]int{}
		for _, kpis := range values {
			for name, vs := range kpis {
				if len(vs) == 0 {
					continue
				}
				var sum float64
				for _, v := range vs {
					sum += v
				}
				sums[name] += sum / float64(len(vs))
				counts[name]++
			}
		}
		for name, sum := range sums {
			r.Baseline[name] = sum / float64(counts[name])
		}
	}
	return r, nil
}

var shaRE = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

// temporalError tells Temporal how to retry a failed GitHub call: after
// what a rate limit said, at its own pace for other passing failures, and
// never for an answer that will not change (a bad token, no repository).
func temporalError(err error) error {
	var ge *gh.Error
	if !errors.As(err, &ge) {
		return err
	}
	if !ge.Retry {
		return temporal.NewNonRetryableApplicationError(ge.Error(), "GitHub", ge)
	}
	return temporal.NewApplicationErrorWithOptions(ge.Error(), "GitHub", temporal.ApplicationErrorOptions{
		Cause: ge, NextRetryDelay: ge.After})
}
