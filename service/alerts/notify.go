package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/internal/notify"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// DefaultEvents are the events a channel or cc list hears of when it
// names none. A test's owner hears of every event of their test and of
// its ending.
var DefaultEvents = []string{wire.EventOpened, wire.EventAttached, wire.EventEscalated, wire.EventResolved, wire.EventBisected}

// Start starts the Notify workflow of a test that has ended; starting it
// again for the same test starts nothing (its ID is the test's).
func Start(ctx context.Context, tc client.Client, testID int64) error {
	_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: contract.NotifyWorkflowID(testID), TaskQueue: contract.CentralQueue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, contract.NotifyWorkflow, testID)
	if err != nil && strings.Contains(err.Error(), "already") {
		return nil
	}
	return err
}

// StartAnnounce starts the announcement of bisection id's culprit;
// starting it again starts nothing (its ID is the bisection's).
func StartAnnounce(ctx context.Context, tc client.Client, id int64) error {
	_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: contract.AnnounceWorkflowID(id), TaskQueue: contract.CentralQueue,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, contract.AnnounceWorkflow, id)
	if err != nil && strings.Contains(err.Error(), "already") {
		return nil
	}
	return err
}

// route is who hears of which events.
type route struct {
	events      []string
	minSeverity string
	frameworks  []string
}

// picks keeps the events the route hears of. An attached event of an
// acknowledged alert is never sent: acknowledging stops the repeats.
func (r route) picks(framework string, evs []event) []event {
	if len(r.frameworks) > 0 && !slices.Contains(r.frameworks, framework) {
		return nil
	}
	events := r.events
	if len(events) == 0 {
		events = DefaultEvents
	}
	var out []event
	for _, e := range evs {
		if !slices.Contains(events, e.Event) {
			continue
		}
		if e.Event == wire.EventAttached && e.State == wire.AlertAcknowledged {
			continue
		}
		if e.Event != wire.EventTestEnded && e.Event != wire.EventBisected && r.minSeverity != "" && rank(e.Severity) < rank(r.minSeverity) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// compose turns a test's events into one message per channel: one
// e-mail per set of recipients that hear of the same events, one call
// per webhook.
// recipients are who may hear of a test's events: its owner's address
// and its team's channels. They are read before the transaction that
// composes the deliveries: reading them from the pool inside it held one
// connection while asking for another, and as many evaluations at once
// as the pool has connections waited on each other for good.
type recipients struct {
	ownerEmail string
	channels   []store.StoredChannel
}

func (s *Service) recipients(ctx context.Context, t *wire.Test) (recipients, error) {
	var r recipients
	var err error
	if t.Owner != "" {
		if r.ownerEmail, err = s.Store.UserEmail(ctx, t.Owner); err != nil {
			return r, err
		}
	}
	r.channels, err = s.Store.ChannelList(ctx, t.Team)
	return r, err
}

func (s *Service) compose(in *store.AlertTestInput, to recipients, evs []event) []store.NewDelivery {
	t := in.Test
	all := evs
	if t.Owner != "" && wire.Ended(t.State) && !slices.ContainsFunc(evs, func(e event) bool { return e.Event == wire.EventBisected }) {
		all = append(slices.Clone(evs), event{Event: wire.EventTestEnded, State: t.State,
			Summary: fmt.Sprintf("test #%d of %s %s (verdict %s)", t.ID, t.Framework, t.State, or(t.Verdict, "none"))})
	}
	var out []store.NewDelivery
	// E-mail: recipients grouped by the events they hear of.
	type group struct {
		evs []event
		to  []string
	}
	var groups []*group
	add := func(addr string, picked []event) {
		if addr == "" || len(picked) == 0 || !hasAlertOrEnd(picked) {
			return
		}
		// Recipients who hear of the same alert events share one e-mail;
		// the line saying the test ended rides along with it.
		for _, g := range groups {
			if slices.EqualFunc(alertEvents(g.evs), alertEvents(picked), func(a, b event) bool { return a == b }) &&
				(len(alertEvents(picked)) > 0 || len(g.evs) == len(picked)) {
				if !slices.Contains(g.to, addr) {
					g.to = append(g.to, addr)
				}
				if len(picked) > len(g.evs) {
					g.evs = picked
				}
				return
			}
		}
		groups = append(groups, &group{evs: picked, to: []string{addr}})
	}
	if t.Owner != "" {
		add(to.ownerEmail, route{events: append(slices.Clone(DefaultEvents), wire.EventTestEnded)}.picks(t.Framework, all))
	}
	if n := in.Plan.Framework.Notify; n != nil {
		r := route{events: n.Events, minSeverity: n.MinSeverity}
		for _, a := range n.Email {
			add(a, r.picks(t.Framework, all))
		}
	}
	for _, c := range to.channels {
		picked := route{events: c.Events, minSeverity: c.MinSeverity, frameworks: c.Frameworks}.picks(t.Framework, all)
		if len(picked) == 0 {
			continue
		}
		switch c.Kind {
		case "email":
			for _, a := range strings.Split(c.Target, ",") {
				add(strings.TrimSpace(a), picked)
			}
		case "slack":
			body, _ := json.Marshal(map[string]any{"text": s.text(t, picked)})
			out = append(out, s.delivery(t, c.Name, "slack", c.Target, picked, "", string(body)))
		case "webhook":
			body, _ := json.Marshal(s.webhookBody(t, picked))
			out = append(out, s.delivery(t, c.Name, "webhook", c.Target, picked, "", string(body)))
		}
	}
	for i, g := range groups {
		out = append(out, s.delivery(t, fmt.Sprintf("email-%d", i+1), "email", strings.Join(g.to, ", "), g.evs,
			s.subject(t, g.evs), s.text(t, g.evs)+"\n"+s.kpiTable(in)))
	}
	return out
}

func hasAlertOrEnd(evs []event) bool { return len(evs) > 0 }

// alertEvents drops the test's ending from evs.
func alertEvents(evs []event) []event {
	return slices.DeleteFunc(slices.Clone(evs), func(e event) bool { return e.Event == wire.EventTestEnded })
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *Service) delivery(t *wire.Test, channel, kind, target string, evs []event, subject, body string) store.NewDelivery {
	d := store.NewDelivery{TestID: t.ID, Team: t.Team, Channel: channel, Kind: kind, Target: target, Subject: subject, Body: body}
	for _, e := range evs {
		if e.AlertID != 0 && !slices.Contains(d.AlertIDs, e.AlertID) {
			d.AlertIDs = append(d.AlertIDs, e.AlertID)
		}
		if !slices.Contains(d.Events, e.Event) {
			d.Events = append(d.Events, e.Event)
		}
	}
	return d
}

func (s *Service) testURL(id int64) string  { return fmt.Sprintf("%s/tests/%d", s.PublicURL, id) }
func (s *Service) alertURL(id int64) string { return s.PublicURL + PagePath(id) }

// subject names the worst of what happened, and how much of it.
func (s *Service) subject(t *wire.Test, evs []event) string {
	count := map[string]int{}
	for _, e := range evs {
		count[e.Event]++
	}
	var parts []string
	for _, k := range []string{wire.EventOpened, wire.EventEscalated, wire.EventAttached, wire.EventResolved} {
		if n := count[k]; n > 0 {
			word := map[string]string{wire.EventOpened: "new", wire.EventEscalated: "escalated",
				wire.EventAttached: "still open", wire.EventResolved: "resolved"}[k]
			parts = append(parts, fmt.Sprintf("%d %s", n, word))
		}
	}
	what := fmt.Sprintf("test #%d %s", t.ID, t.State)
	if count[wire.EventBisected] > 0 {
		for _, e := range evs {
			if e.Event == wire.EventBisected {
				what = fmt.Sprintf("bisected test #%d: culprit %s", t.ID, short(e.Culprit))
				if e.Culprit == "" {
					what = fmt.Sprintf("bisected test #%d: culprit one of several commits", t.ID)
				}
			}
		}
	} else if len(parts) > 0 {
		what = strings.Join(parts, ", ") + " alert(s) at test #" + fmt.Sprint(t.ID)
	}
	if n := count[wire.EventImproved]; n > 0 {
		what += fmt.Sprintf(", %d KPI(s) improved", n)
	}
	return fmt.Sprintf("[Pitwall] %s/%s: %s (commit %s)", t.Team, t.Framework, what, short(t.Commit))
}

// text is the message's plain text: one line per event, with links.
func (s *Service) text(t *wire.Test, evs []event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s test #%d %s, verdict %s, commit %s, branch %s, owner %s\n%s\n\n",
		t.Team, t.Framework, t.ID, t.State, or(t.Verdict, "none"), short(t.Commit), or(t.Branch, "none"), or(t.Owner, "none"), s.testURL(t.ID))
	for _, e := range evs {
		if e.AlertID == 0 {
			fmt.Fprintf(&b, "- %s\n", e.Summary)
			if e.URL != "" {
				fmt.Fprintf(&b, "  %s\n", e.URL)
			}
			continue
		}
		fmt.Fprintf(&b, "- alert #%d %s [%s]: %s\n  %s\n", e.AlertID, e.Event, e.Severity, e.Summary, s.alertURL(e.AlertID))
	}
	return b.String()
}

// kpiTable is the test's KPIs and verdicts as a fixed-width table.
func (s *Service) kpiTable(in *store.AlertTestInput) string {
	if len(in.Verdicts) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %-10s %9s\n", "KPI", "verdict", "change")
	for _, v := range in.Verdicts {
		fmt.Fprintf(&b, "%-24s %-10s %+8.1f%%\n", v.Name, v.Verdict, v.DeltaPct)
	}
	return b.String()
}

func (s *Service) webhookBody(t *wire.Test, evs []event) wire.WebhookBody {
	body := wire.WebhookBody{Version: 1, Test: wire.WebhookTest{ID: t.ID, Team: t.Team, Framework: t.Framework, State: t.State,
		Verdict: t.Verdict, Commit: t.Commit, Branch: t.Branch, Owner: t.Owner, URL: s.testURL(t.ID)}, Events: []wire.WebhookEvent{}}
	for _, e := range evs {
		we := wire.WebhookEvent{Event: e.Event, AlertID: e.AlertID, Kind: e.Kind, KPI: e.KPI, Severity: e.Severity,
			DeltaPct: e.DeltaPct, State: e.State, Summary: e.Summary, URL: s.testURL(t.ID)}
		if e.AlertID != 0 {
			we.URL = s.alertURL(e.AlertID)
		}
		if e.URL != "" {
			we.URL, we.Bisection, we.Culprit = e.URL, e.Series, e.Culprit
		}
		body.Events = append(body.Events, we)
	}
	return body
}

// Deliver sends one delivery and records each attempt's outcome; the
// workflow retries it (contract.NotifyDeliver).
func (s *Service) Deliver(ctx context.Context, in contract.DeliverInput) error {
	d, err := s.Store.DeliveryGet(ctx, in.Delivery)
	if err != nil {
		return fmt.Errorf("load delivery %d: %w", in.Delivery, err)
	}
	if d.Status == "sent" {
		return nil
	}
	attempt := int(activity.GetInfo(ctx).Attempt)
	sendErr := s.send(ctx, d)
	status, msg := "sent", ""
	if sendErr != nil {
		status, msg = "retrying", sendErr.Error()
		if in.MaxAttempts > 0 && attempt >= int(in.MaxAttempts) || notify.IsPermanent(sendErr) {
			status = "failed"
		}
	}
	if err := s.Store.DeliveryOutcome(ctx, d.ID, status, attempt, msg); err != nil {
		return fmt.Errorf("record delivery %d: %w", d.ID, err)
	}
	if sendErr != nil && s.Log != nil {
		s.Log.Warn("notification not delivered", "delivery", d.ID, "attempt", attempt, "status", status, "err", sendErr)
	}
	if notify.IsPermanent(sendErr) {
		return temporal.NewNonRetryableApplicationError(msg, "NotifyRefused", sendErr)
	}
	return sendErr
}

func (s *Service) send(ctx context.Context, d *store.StoredDelivery) error {
	hc := s.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	id := fmt.Sprintf("notify-%d-%d", d.TestID, d.ID)
	switch d.Kind {
	case "email":
		var to []string
		for _, a := range strings.Split(d.Target, ",") {
			to = append(to, strings.TrimSpace(a))
		}
		return s.SMTP.Send(ctx, notify.Mail{To: to, Subject: d.Subject, Text: d.Body,
			Headers: map[string]string{"X-Pitwall-Test": fmt.Sprint(d.TestID), "X-Pitwall-Delivery": id}})
	case "slack":
		return notify.Post(ctx, hc, d.Target, []byte(d.Body), nil, id)
	case "webhook":
		secret, err := s.secret(ctx, d.Team, d.Channel)
		if err != nil {
			return err
		}
		return notify.Post(ctx, hc, d.Target, []byte(d.Body), secret, id)
	}
	return fmt.Errorf("delivery %d: unknown kind %q", d.ID, d.Kind)
}

// secret opens a webhook channel's signing secret.
func (s *Service) secret(ctx context.Context, team, name string) ([]byte, error) {
	cs, err := s.Store.ChannelList(ctx, team)
	if err != nil {
		return nil, err
	}
	name = channelOf(name)
	for _, c := range cs {
		if c.Name != name || len(c.Sealed) == 0 {
			continue
		}
		if s.Box == nil {
			return nil, fmt.Errorf("channel %s has a secret, and the worker has no --secrets-key-file to open it", name)
		}
		return s.Box.Open(c.Sealed, secretAAD(team, name))
	}
	return nil, nil
}

func secretAAD(team, name string) string { return "notify-channel:" + team + ":" + name }
