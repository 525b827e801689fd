package alerts

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/notify"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// States are the states an alert list may be filtered by: the unresolved
// (open and acknowledged) ones, or those in one state.
var States = []string{store.AlertUnresolved, wire.AlertOpen, wire.AlertAcknowledged, wire.AlertResolved}

// PagePath is the path of an alert's page, which notifications link to.
func PagePath(id int64) string { return fmt.Sprintf("/alerts/%d", id) }

// List lists the alerts of the teams the principal may see, filtered.
func (s *Service) List(ctx context.Context, f store.AlertFilter) ([]wire.Alert, error) {
	if f.State != "" && !slices.Contains(States, f.State) {
		return nil, service.InvalidField("state", fmt.Sprintf("state must be one of %v", States))
	}
	teams, all := service.Principal(ctx).ViewableTeams()
	if !all {
		f.Teams = append([]string{}, teams...)
	}
	list, err := s.Store.AlertList(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	if list == nil {
		list = []wire.Alert{}
	}
	for i := range list {
		list[i].URL = s.alertURL(list[i].ID)
	}
	return list, nil
}

// OpenCount counts the open alerts of the teams the principal may see:
// the navigation's badge.
func (s *Service) OpenCount(ctx context.Context) (int, error) {
	teams, all := service.Principal(ctx).ViewableTeams()
	if !all {
		teams = append([]string{}, teams...)
	} else {
		teams = nil
	}
	return s.Store.AlertCountOpen(ctx, teams)
}

// Get returns an alert with its history and deliveries.
func (s *Service) Get(ctx context.Context, id int64) (*wire.Alert, error) {
	a, err := s.Store.AlertGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !service.MayView(ctx, a.Team) {
		return nil, service.Errorf(service.NotFound, "id", "no such alert")
	}
	if err != nil {
		return nil, fmt.Errorf("load alert %d: %w", id, err)
	}
	a.URL = s.alertURL(a.ID)
	if a.History == nil {
		a.History = []wire.AlertEvent{}
	}
	if a.Deliveries == nil {
		a.Deliveries = []wire.Delivery{}
	}
	for i := range a.Deliveries {
		a.Deliveries[i].Target = shownTarget(a.Deliveries[i].Kind, a.Deliveries[i].Target)
	}
	return a, nil
}

// MayAct reports whether the principal of ctx may acknowledge and resolve
// the alerts of team: its members (not its viewers).
func MayAct(ctx context.Context, team string) bool {
	return service.Principal(ctx).Can(team, auth.Member)
}

// mayAct refuses an alert the principal may not acknowledge or resolve.
func (s *Service) mayAct(ctx context.Context, id int64) error {
	team, err := s.Store.AlertTeam(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !service.MayView(ctx, team) {
		return service.Errorf(service.NotFound, "id", "no such alert")
	}
	if err != nil {
		return err
	}
	if !MayAct(ctx, team) {
		return service.NotAllowed("only the team's members acknowledge and resolve its alerts")
	}
	return nil
}

// Acknowledge acknowledges an open alert, with a note: its repeats stop.
func (s *Service) Acknowledge(ctx context.Context, id int64, note string) (*wire.Alert, error) {
	if err := s.mayAct(ctx, id); err != nil {
		return nil, err
	}
	if len(note) > 2000 {
		return nil, service.InvalidField("note", "the note is longer than 2000 bytes")
	}
	ok, err := s.Store.AlertAcknowledge(ctx, id, service.Principal(ctx).Name, note)
	if err != nil {
		return nil, fmt.Errorf("acknowledge alert %d: %w", id, err)
	}
	if !ok {
		return nil, service.Errorf(service.Conflict, "state", "alert %d is not open", id)
	}
	return s.Get(ctx, id)
}

// Resolve resolves an alert by hand, with a note saying why.
func (s *Service) Resolve(ctx context.Context, id int64, note string) (*wire.Alert, error) {
	if err := s.mayAct(ctx, id); err != nil {
		return nil, err
	}
	if len(note) > 2000 {
		return nil, service.InvalidField("note", "the note is longer than 2000 bytes")
	}
	ok, err := s.Store.AlertResolveByHand(ctx, id, service.Principal(ctx).Name, or(note, "resolved by hand"))
	if err != nil {
		return nil, fmt.Errorf("resolve alert %d: %w", id, err)
	}
	if !ok {
		return nil, service.Errorf(service.Conflict, "state", "alert %d is already resolved", id)
	}
	return s.Get(ctx, id)
}

// Channels lists a team's notification channels (its viewers may see
// them; secrets never leave).
func (s *Service) Channels(ctx context.Context, team string) ([]wire.NotifyChannel, error) {
	if !service.MayView(ctx, team) {
		return nil, service.Errorf(service.NotFound, "team", "team %q not found", team)
	}
	cs, err := s.Store.ChannelList(ctx, team)
	if err != nil {
		return nil, err
	}
	out := []wire.NotifyChannel{}
	for _, c := range cs {
		c.Target = shownTarget(c.Kind, c.Target)
		out = append(out, c.NotifyChannel)
	}
	return out, nil
}

// shownTarget is a channel's target as people may read it: a webhook
// URL's path (a Slack hook's token) is a credential, so only its scheme
// and host are shown; e-mail addresses are shown as they are.
func shownTarget(kind, target string) string {
	if kind == "email" {
		return target
	}
	return notify.Redact(target)
}

var channelName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ChannelPut creates or replaces a team's channel (team admins).
func (s *Service) ChannelPut(ctx context.Context, team string, c wire.NotifyChannel) (*wire.NotifyChannel, error) {
	if !service.MayView(ctx, team) {
		return nil, service.Errorf(service.NotFound, "team", "team %q not found", team)
	}
	if !service.Principal(ctx).Can(team, auth.Admin) {
		return nil, service.NotAllowed("only the team's admins set its notification channels")
	}
	if err := validChannel(&c); err != nil {
		return nil, err
	}
	var sealedSecret []byte
	if c.Secret != "" {
		if s.Box == nil {
			return nil, service.InvalidField("secret", "the server has no --secrets-key-file to keep the secret with")
		}
		sealedSecret = s.Box.Seal([]byte(c.Secret), secretAAD(team, c.Name))
	}
	if err := s.Store.ChannelPut(ctx, team, c, sealedSecret); err != nil {
		return nil, fmt.Errorf("store channel %s: %w", c.Name, err)
	}
	service.Audit(ctx, s.Store, s.Log, "notification channel set", team, c.Name, c.Kind)
	cs, err := s.Channels(ctx, team)
	if err != nil {
		return nil, err
	}
	for _, got := range cs {
		if got.Name == c.Name {
			return &got, nil
		}
	}
	return nil, fmt.Errorf("channel %s vanished", c.Name)
}

func validChannel(c *wire.NotifyChannel) error {
	if !channelName.MatchString(c.Name) {
		return service.InvalidField("name", "a channel name is [a-z0-9-], up to 63 characters")
	}
	switch c.Kind {
	case "email":
		for _, a := range strings.Split(c.Target, ",") {
			if _, err := mail.ParseAddress(strings.TrimSpace(a)); err != nil {
				return service.InvalidField("target", fmt.Sprintf("%q is not an e-mail address", a))
			}
		}
	case "slack", "webhook":
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return service.InvalidField("target", "a webhook target is an http(s) URL")
		}
	default:
		return service.InvalidField("kind", "kind must be email, slack or webhook")
	}
	if c.Kind == "webhook" && c.Secret == "" {
		// A webhook without a secret is allowed (unsigned), as with GitHub.
	} else if c.Kind != "webhook" && c.Secret != "" {
		return service.InvalidField("secret", "only a webhook channel has a secret")
	}
	if c.Events == nil {
		c.Events = []string{}
	}
	for _, e := range c.Events {
		if !slices.Contains(framework.NotifyEvents, e) {
			return service.InvalidField("events", fmt.Sprintf("%q is not one of %v", e, framework.NotifyEvents))
		}
	}
	if c.MinSeverity == "" {
		c.MinSeverity = wire.SeverityMinor
	}
	if !slices.Contains(framework.Severities, c.MinSeverity) {
		return service.InvalidField("min_severity", fmt.Sprintf("must be one of %v", framework.Severities))
	}
	if c.Frameworks == nil {
		c.Frameworks = []string{}
	}
	return nil
}

// ChannelDelete removes a team's channel (team admins).
func (s *Service) ChannelDelete(ctx context.Context, team, name string) error {
	if !service.MayView(ctx, team) {
		return service.Errorf(service.NotFound, "team", "team %q not found", team)
	}
	if !service.Principal(ctx).Can(team, auth.Admin) {
		return service.NotAllowed("only the team's admins remove its notification channels")
	}
	ok, err := s.Store.ChannelDelete(ctx, team, name)
	if err != nil {
		return err
	}
	if !ok {
		return service.Errorf(service.NotFound, "name", "no channel %q", name)
	}
	service.Audit(ctx, s.Store, s.Log, "notification channel removed", team, name, "")
	return nil
}

// SetEmail sets the principal's own e-mail address ("" removes it).
func (s *Service) SetEmail(ctx context.Context, email string) error {
	p := service.Principal(ctx)
	if p == nil || p.UserID == 0 {
		return service.NotAllowed("only users have an e-mail address")
	}
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return service.InvalidField("email", fmt.Sprintf("%q is not a plain e-mail address", email))
		}
	}
	return s.Store.UserSetEmail(ctx, p.UserID, email)
}

// Email returns the principal's own e-mail address ("" when none is set
// or the principal is no user).
func (s *Service) Email(ctx context.Context) (string, error) {
	p := service.Principal(ctx)
	if p == nil || p.UserID == 0 {
		return "", nil
	}
	return s.Store.UserEmail(ctx, p.Name)
}
