package framework

import (
	"fmt"
	"net/mail"
	"slices"
)

// Notify is a framework's notification settings: a cc list of addresses
// that hear of its alerts, and which events and severities they hear of.
type Notify struct {
	// Email is the framework's cc list.
	Email []string `yaml:"email,omitempty" json:"email,omitempty"`
	// Events are the events the cc list hears of (opened, escalated,
	// resolved, attached, test_ended, improved); empty: opened, attached,
	// escalated, resolved.
	Events []string `yaml:"events,omitempty" json:"events,omitempty"`
	// MinSeverity is the least severity the cc list hears of (minor,
	// major, critical); empty: minor.
	MinSeverity string `yaml:"min_severity,omitempty" json:"min_severity,omitempty"`
}

// NotifyEvents are the events a notification may be about.
// "improved" (a KPI's verdict improved; no alert) is heard only by those
// who name it.
var NotifyEvents = []string{"opened", "attached", "escalated", "resolved", "test_ended", "improved", "bisected"}

// Severities are the alert severities, least first.
var Severities = []string{"minor", "major", "critical"}

func (f *Framework) validateNotify() error {
	n := f.Notify
	if n == nil {
		return nil
	}
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: "notify." + field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(n.Email) > 50 {
		return bad("email", "%d addresses; the limit is 50", len(n.Email))
	}
	for _, a := range n.Email {
		if _, err := mail.ParseAddress(a); err != nil {
			return bad("email", "%q is not an e-mail address", a)
		}
	}
	for _, e := range n.Events {
		if !slices.Contains(NotifyEvents, e) {
			return bad("events", "%q is not one of %v", e, NotifyEvents)
		}
	}
	if n.MinSeverity != "" && !slices.Contains(Severities, n.MinSeverity) {
		return bad("min_severity", "%q is not one of %v", n.MinSeverity, Severities)
	}
	return nil
}
