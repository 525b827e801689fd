package wire

import (
	"time"

	"github.com/pitwall/pitwall/internal/framework"
)

// Alert states, kinds, severities and events (docs/alerts.md).
const (
	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"

	AlertRegression = "regression"
	AlertFailure    = "failure"

	SeverityMinor    = "minor"
	SeverityMajor    = "major"
	SeverityCritical = "critical"

	// EventOpened ... are the kinds of an alert's history entries; the
	// first four and EventTestEnded are also what channels route.
	EventOpened       = "opened"
	EventAttached     = "attached"
	EventEscalated    = "escalated"
	EventResolved     = "resolved"
	EventAcknowledged = "acknowledged"
	EventTestEnded    = "test_ended"
	// EventImproved is a KPI whose verdict improved: no alert, and sent
	// only to channels that name it.
	EventImproved = "improved"
	// EventBisected is a bisection of the test that ended with its
	// culprit (a first bad commit, or a range): an event of its own,
	// heard by the test's owner and the channels that name no events or
	// name it.
	EventBisected = "bisected"
)

// Alert is one problem of a KPI series (or a framework's failing tests of
// one parameter set) with its life: GET /api/v1/alerts/{id}.
type Alert struct {
	ID             int64             `json:"id"`
	Team           string            `json:"team"`
	Framework      string            `json:"framework"`
	Kind           string            `json:"kind"`
	KPI            string            `json:"kpi"`
	Params         []framework.Param `json:"params"`
	State          string            `json:"state"`
	Severity       string            `json:"severity"`
	DeltaPct       float64           `json:"delta_pct"`
	FirstTest      int64             `json:"first_test"`
	LastTest       int64             `json:"last_test"`
	FirstCommit    string            `json:"first_commit"`
	ChangePoint    *int64            `json:"change_point,omitempty"`
	Summary        string            `json:"summary"`
	OpenedAt       time.Time         `json:"opened_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	AcknowledgedBy string            `json:"acknowledged_by,omitempty"`
	AckNote        string            `json:"ack_note,omitempty"`
	ResolvedAt     *time.Time        `json:"resolved_at,omitempty"`
	URL            string            `json:"url"`
	History        []AlertEvent      `json:"history,omitempty"`
	Deliveries     []Delivery        `json:"deliveries,omitempty"`
}

// AlertEvent is one entry of an alert's history.
type AlertEvent struct {
	Kind     string    `json:"kind"`
	TestID   *int64    `json:"test_id,omitempty"`
	Actor    string    `json:"actor,omitempty"`
	Note     string    `json:"note,omitempty"`
	Severity string    `json:"severity,omitempty"`
	At       time.Time `json:"at"`
}

// Delivery is one message to one channel and its outcome.
type Delivery struct {
	ID        int64     `json:"id"`
	TestID    int64     `json:"test_id"`
	Channel   string    `json:"channel"`
	Kind      string    `json:"kind"`
	Target    string    `json:"target"`
	Events    []string  `json:"events"`
	Subject   string    `json:"subject,omitempty"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AlertList is GET /api/v1/alerts.
type AlertList struct {
	Alerts []Alert `json:"alerts"`
}

// AlertAction is the body of acknowledge and resolve.
type AlertAction struct {
	Note string `json:"note"`
}

// NotifyChannel is one of a team's notification channels:
// PUT /api/v1/teams/{team}/channels/{name}. Secret (a webhook's signing
// key) is written, never shown again.
type NotifyChannel struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	Target      string   `json:"target"`
	Secret      string   `json:"secret,omitempty"`
	HasSecret   bool     `json:"has_secret"`
	Events      []string `json:"events"`
	MinSeverity string   `json:"min_severity"`
	Frameworks  []string `json:"frameworks"`
}

// NotifyChannels is GET /api/v1/teams/{team}/channels.
type NotifyChannels struct {
	Channels []NotifyChannel `json:"channels"`
}

// WebhookBody is the JSON body of a generic webhook call (docs/alerts.md):
// one per test ending, holding every alert event of that ending.
type WebhookBody struct {
	Version   int            `json:"version"`
	Test      WebhookTest    `json:"test"`
	Events    []WebhookEvent `json:"events"`
	Delivered string         `json:"delivery"`
}

// WebhookTest is the test a webhook call is about.
type WebhookTest struct {
	ID        int64  `json:"id"`
	Team      string `json:"team"`
	Framework string `json:"framework"`
	State     string `json:"state"`
	Verdict   string `json:"verdict"`
	Commit    string `json:"commit"`
	Branch    string `json:"branch"`
	Owner     string `json:"owner"`
	URL       string `json:"url"`
}

// WebhookEvent is one event of a webhook call: an alert event, or the
// test's ending.
type WebhookEvent struct {
	Event    string  `json:"event"`
	AlertID  int64   `json:"alert_id,omitempty"`
	Kind     string  `json:"kind,omitempty"`
	KPI      string  `json:"kpi,omitempty"`
	Severity string  `json:"severity,omitempty"`
	DeltaPct float64 `json:"delta_pct,omitempty"`
	State    string  `json:"state,omitempty"`
	Summary  string  `json:"summary"`
	// Bisection and Culprit are a bisection's ID and the first bad commit
	// it found (event bisected).
	Bisection int64  `json:"bisection,omitempty"`
	Culprit   string `json:"culprit,omitempty"`
	URL       string `json:"url"`
}
