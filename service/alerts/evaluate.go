// Package alerts holds the rules of Pitwall's alerts and notifications
// once: when a test's ending opens, attaches to, escalates or resolves an
// alert, how severe it is, who hears of it through which channel, and
// who may acknowledge or resolve it (docs/alerts.md).
package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/notify"
	"github.com/pitwall/pitwall/internal/sealed"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/verdict"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// Service runs alerts and notifications.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// Box seals webhook secrets; without it no secret can be stored.
	Box *sealed.Box
	// SMTP is the relay mail goes through (the central worker's flags).
	SMTP notify.SMTP
	// HTTP posts webhooks (nil: a client with a 30 s timeout).
	HTTP      *http.Client
	PublicURL string
	Log       *slog.Logger
	// AutoConfirm starts the confirmation a regressed test's framework
	// asks for (nil: none).
	AutoConfirm func(ctx context.Context, testID int64) error
}

// Register registers the notification activities on the central worker.
func Register(r worker.ActivityRegistry, s *Service) {
	contract.AlertsEvaluate.Register(r, s.Evaluate)
	contract.NotifyDeliver.Register(r, s.Deliver)
	contract.AnnounceCompose.Register(r, s.Announce)
}

// Severity grades a regression of deltaPct (CI ciLow..ciHigh, in percent)
// against the KPI's threshold (a fraction; 0 counts as 5%): minor under
// twice the threshold, major under four times, critical from four times;
// one grade less when the confidence interval's end nearest zero is
// within the threshold (the change is as likely noise-sized as not).
func Severity(deltaPct, ciLow, ciHigh, threshold float64) string {
	thr := threshold * 100
	if thr <= 0 {
		thr = 5
	}
	r := math.Abs(deltaPct) / thr
	grade := 0
	switch {
	case r >= 4:
		grade = 2
	case r >= 2:
		grade = 1
	}
	near := math.Min(math.Abs(ciLow), math.Abs(ciHigh))
	if (ciLow < 0) != (ciHigh < 0) {
		near = 0
	}
	if grade > 0 && (ciLow != 0 || ciHigh != 0) && near < thr {
		grade--
	}
	return framework.Severities[grade]
}

func rank(severity string) int { return slices.Index(framework.Severities, severity) }

// event is one thing a test's ending did to an alert.
type event struct {
	AlertID  int64
	Event    string
	Kind     string
	KPI      string
	Severity string
	DeltaPct float64
	State    string
	Summary  string
	// URL, Series and Culprit are a bisection's page, ID and first bad
	// commit (EventBisected).
	URL     string
	Series  int64
	Culprit string
}

// Evaluate applies a test's ending to its series' alerts and stores the
// messages it leads to, once per test (contract.AlertsEvaluate).
func (s *Service) Evaluate(ctx context.Context, testID int64) (*contract.NotifyPlan, error) {
	in, err := s.Store.AlertInput(ctx, testID)
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", testID, err)
	}
	if in.Plan.ConfirmationArm != "" {
		// A confirmation's run: the confirmation says what it found.
		return &contract.NotifyPlan{}, nil
	}
	to, err := s.recipients(ctx, in.Test)
	if err != nil {
		return nil, fmt.Errorf("recipients of test %d: %w", testID, err)
	}
	err = s.Store.AlertTx(ctx, func(q store.AlertQ) error {
		first, err := q.Claim(ctx, testID)
		if err != nil || !first {
			return err
		}
		evs, err := s.apply(ctx, q, in)
		if err != nil {
			return err
		}
		for _, d := range s.compose(in, to, evs) {
			if _, err := q.DeliveryInsert(ctx, d); err != nil {
				return fmt.Errorf("store delivery: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("evaluate alerts of test %d: %w", testID, err)
	}
	// Only a regressed test of a framework that confirms by itself can
	// start one (AutoConfirm checks again): most endings read nothing more.
	if fc := in.Plan.Framework.Confirm; s.AutoConfirm != nil && fc != nil && fc.Auto && in.Test.Verdict == verdict.Regressed {
		if err := s.AutoConfirm(ctx, testID); err != nil {
			return nil, fmt.Errorf("start the confirmation of test %d: %w", testID, err)
		}
	}
	ids, err := s.Store.DeliveriesOfTest(ctx, testID)
	if err != nil {
		return nil, err
	}
	return &contract.NotifyPlan{Deliveries: ids}, nil
}

// apply opens, attaches to, escalates and resolves the alerts of the
// test's series and returns what it did.
func (s *Service) apply(ctx context.Context, q store.AlertQ, in *store.AlertTestInput) ([]event, error) {
	t := in.Test
	var evs []event
	open := func(kind, kpi, severity string, delta float64, cp *int64, firstTest int64, summary string) error {
		cur, err := q.Unresolved(ctx, t.ID, kind, kpi)
		if err != nil {
			return err
		}
		if cur == nil {
			id, err := q.Open(ctx, store.NewAlert{TestID: t.ID, FirstTest: firstTest, Kind: kind, KPI: kpi, Severity: severity,
				DeltaPct: delta, ChangePoint: cp, Summary: summary})
			if err != nil {
				return fmt.Errorf("open alert: %w", err)
			}
			evs = append(evs, event{AlertID: id, Event: wire.EventOpened, Kind: kind, KPI: kpi, Severity: severity, DeltaPct: delta, State: wire.AlertOpen, Summary: summary})
			return q.Event(ctx, id, wire.EventOpened, &t.ID, "", summary, severity)
		}
		ev := wire.EventAttached
		if rank(severity) > rank(cur.Severity) {
			ev = wire.EventEscalated
		} else {
			severity = cur.Severity
		}
		if err := q.Attach(ctx, cur.ID, t.ID, severity, delta, cp, summary); err != nil {
			return fmt.Errorf("attach to alert %d: %w", cur.ID, err)
		}
		evs = append(evs, event{AlertID: cur.ID, Event: ev, Kind: kind, KPI: kpi, Severity: severity, DeltaPct: delta, State: cur.State, Summary: summary})
		return q.Event(ctx, cur.ID, ev, &t.ID, "", summary, severity)
	}
	// resolve resolves the problem's alert, unless the KPI (mean, when
	// known) is still away from the level before the alert's standing
	// change point: the baseline moved with an unflagged shift, so only
	// that level says the problem went away.
	resolve := func(kind, kpi string, mean *float64, threshold float64, why string) error {
		cur, err := q.Unresolved(ctx, t.ID, kind, kpi)
		if err != nil || cur == nil {
			return err
		}
		if cur.Before != nil && mean != nil {
			if !nearLevel(*mean, *cur.Before, threshold) {
				return nil
			}
			why = fmt.Sprintf("test #%d is back at the level before the change point: %s %s against %s",
				t.ID, kpi, num(*mean), num(*cur.Before))
		}
		if err := q.Resolve(ctx, cur.ID); err != nil {
			return err
		}
		evs = append(evs, event{AlertID: cur.ID, Event: wire.EventResolved, Kind: kind, KPI: kpi, Severity: cur.Severity, DeltaPct: cur.DeltaPct, State: wire.AlertResolved, Summary: why})
		return q.Event(ctx, cur.ID, wire.EventResolved, &t.ID, "", why, cur.Severity)
	}
	switch t.State {
	case wire.StateFailed, wire.StateTimedOut:
		why := fmt.Sprintf("test #%d %s: %s", t.ID, t.State, firstLine(t.Reason))
		return evs, open(wire.AlertFailure, "", wire.SeverityMajor, 0, nil, 0, why)
	case wire.StateFinished:
	default:
		return evs, nil
	}
	if err := resolve(wire.AlertFailure, "", nil, 0, fmt.Sprintf("test #%d finished", t.ID)); err != nil {
		return nil, err
	}
	kpis := map[string]framework.KPI{}
	thresholds := map[string]float64{}
	for _, k := range in.Plan.Framework.KPIs {
		kpis[k.Name] = k
		thresholds[k.Name], _ = framework.ParseThreshold(k.Threshold)
	}
	for _, v := range in.Verdicts {
		var cp *int64
		c, hasCP := in.ChangePoints[v.Name]
		if hasCP {
			cp = &c.ID
		}
		var mean *float64
		if m, ok := in.Means[v.Name]; ok {
			mean = &m
		}
		switch {
		case v.Verdict == "regressed":
			sev := Severity(v.DeltaPct, v.CILowPct, v.CIHighPct, thresholds[v.Name])
			summary := fmt.Sprintf("%s regressed %+.1f%% at test #%d (commit %s)", v.Name, v.DeltaPct, t.ID, short(t.Commit))
			if err := open(wire.AlertRegression, v.Name, sev, v.DeltaPct, cp, 0, summary); err != nil {
				return nil, err
			}
		case hasCP && worse(kpis[v.Name], c.DeltaPct):
			// A shift no single test's verdict called (each within the
			// noise or the moving baseline) that the series shows: the
			// change point alone opens the alert, once, dated to its test.
			seen, err := q.AlertedChangePoint(ctx, c.ID)
			if err != nil {
				return nil, err
			}
			if seen {
				continue
			}
			sev := Severity(c.DeltaPct, 0, 0, thresholds[v.Name])
			summary := fmt.Sprintf("%s shifted %+.1f%% from test #%d on (change point, %s → %s), seen at test #%d (commit %s)",
				v.Name, c.DeltaPct, c.TestID, num(c.Before), num(c.After), t.ID, short(t.Commit))
			if err := open(wire.AlertRegression, v.Name, sev, c.DeltaPct, cp, c.TestID, summary); err != nil {
				return nil, err
			}
		case v.Verdict == "unchanged" || v.Verdict == "improved":
			why := fmt.Sprintf("test #%d is back at the baseline level: %s %s (%+.1f%%)", t.ID, v.Name, v.Verdict, v.DeltaPct)
			if err := resolve(wire.AlertRegression, v.Name, mean, thresholds[v.Name], why); err != nil {
				return nil, err
			}
		}
		if v.Verdict == "improved" {
			// Graded like a regression, so a route's min_severity holds.
			evs = append(evs, event{Event: wire.EventImproved, Kind: "improvement", KPI: v.Name,
				Severity: Severity(v.DeltaPct, v.CILowPct, v.CIHighPct, thresholds[v.Name]), DeltaPct: v.DeltaPct,
				Summary: fmt.Sprintf("%s improved %+.1f%% at test #%d (commit %s)", v.Name, v.DeltaPct, t.ID, short(t.Commit))})
		}
	}
	return evs, nil
}

// worse reports whether a change of deltaPct goes the KPI's bad way.
func worse(k framework.KPI, deltaPct float64) bool {
	if k.Better == framework.BetterHigher {
		return deltaPct < 0
	}
	return deltaPct > 0
}

// nearLevel reports whether v is within the threshold (a fraction; 0
// counts as 5%) of level.
func nearLevel(v, level, threshold float64) bool {
	if threshold <= 0 {
		threshold = 0.05
	}
	if level == 0 {
		return v == 0
	}
	return math.Abs(v-level) <= threshold*math.Abs(level)
}

// num prints a KPI value with up to four significant digits.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	if sha == "" {
		return "none"
	}
	return sha
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
