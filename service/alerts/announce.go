package alerts

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// SeriesPagePath is a confirmation's or bisection's page.
func SeriesPagePath(id int64) string { return fmt.Sprintf("/confirmations/%d", id) }

// announceSuffix ends the channel name of an announcement's deliveries:
// a test's own deliveries and its bisection's are one per channel each.
func announceSuffix(id int64) string { return fmt.Sprintf("#bisect-%d", id) }

// channelOf is the team's channel a delivery goes through.
func channelOf(delivery string) string {
	name, _, _ := strings.Cut(delivery, "#")
	return name
}

// Announce turns the ending of a bisection that found its culprit into
// notifications of their own (event bisected: "bisected: culprit X …"),
// to the test's owner, the framework's cc list and the team's channels
// that hear of it, stored once per bisection, and returns them to send
// (contract.AnnounceCompose).
func (s *Service) Announce(ctx context.Context, id int64) (*contract.NotifyPlan, error) {
	c, err := s.Store.ConfirmationGet(ctx, id)
	if err != nil {
		return nil, err
	}
	culprit := c.Culprit()
	if culprit == "" {
		return &contract.NotifyPlan{}, nil
	}
	in, err := s.Store.AlertInput(ctx, c.TestID)
	if err != nil {
		return nil, fmt.Errorf("load test %d: %w", c.TestID, err)
	}
	ev := event{Event: wire.EventBisected, State: c.State, Summary: "bisected: " + culprit,
		URL: s.PublicURL + SeriesPagePath(c.ID), Series: c.ID, Culprit: c.Bisect.FirstBad}
	to, err := s.recipients(ctx, in.Test)
	if err != nil {
		return nil, fmt.Errorf("recipients of test %d: %w", c.TestID, err)
	}
	err = s.Store.AlertTx(ctx, func(q store.AlertQ) error {
		first, err := q.AnnounceClaim(ctx, id, time.Now())
		if err != nil || !first {
			return err
		}
		for _, d := range s.compose(in, to, []event{ev}) {
			d.Channel += announceSuffix(id)
			if _, err := q.DeliveryInsert(ctx, d); err != nil {
				return fmt.Errorf("store delivery: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("announce bisection %d: %w", id, err)
	}
	ids, err := s.Store.DeliveriesOfChannelSuffix(ctx, c.TestID, announceSuffix(id))
	if err != nil {
		return nil, err
	}
	return &contract.NotifyPlan{Deliveries: ids}, nil
}
