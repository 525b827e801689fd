package tests

import (
	"context"
	"errors"
	"fmt"

	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// AbortInput names the test to abort and why.
type AbortInput struct {
	ID     int64
	Reason string
}

// Abort asks a test's workflow to stop (at once while it waits, within
// moments while it runs), for its owner and the team's admins; an ended
// test is Ended. It returns the test as it is now.
func (s *Service) Abort(ctx context.Context, in AbortInput) (*wire.Test, error) {
	if len(in.Reason) > 500 {
		return nil, service.InvalidField("reason", "reason must be at most 500 bytes")
	}
	t, err := s.View(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if !MayModify(ctx, t) {
		return nil, service.NotAllowed("only the test's owner and the team's admins abort it")
	}
	if wire.Ended(t.State) {
		return nil, service.Errorf(service.Ended, "id", "test %d has already ended (%s)", t.ID, t.State)
	}
	if err := s.signalAbort(ctx, t.ID, in.Reason); err != nil {
		s.Log.Error("abort", "test", t.ID, "error", err)
		return nil, service.Errorf(service.Unavailable, "", "could not reach test %d's workflow; retry", t.ID)
	}
	s.Log.Info("test abort requested", "test", t.ID, "reason", in.Reason)
	service.Audit(ctx, s.Store, s.Log, "test aborted", t.Team, fmt.Sprintf("test %d", t.ID), in.Reason)
	return s.get(ctx, t.ID)
}

// MayDelete loads a test and says whether the principal of ctx may delete
// it now: its owner and the team's admins, once it has ended. A refusal
// comes with the test when the principal may see it.
func (s *Service) MayDelete(ctx context.Context, id int64) (*wire.Test, error) {
	t, err := s.View(ctx, id)
	if err != nil {
		return nil, err
	}
	if !MayModify(ctx, t) {
		return t, service.NotAllowed("only the test's owner and the team's admins delete it")
	}
	if !wire.Ended(t.State) {
		return t, service.Errorf(service.Conflict, "id", "test %d is %s; abort it before deleting it", id, t.State)
	}
	return t, nil
}

// Delete deletes an ended test, for its owner and the team's admins.
func (s *Service) Delete(ctx context.Context, id int64) error {
	t, err := s.MayDelete(ctx, id)
	if err != nil {
		return err
	}
	if err := s.Store.TestDelete(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete test %d: %w", id, err)
	}
	s.Log.Info("test deleted", "test", id)
	service.Audit(ctx, s.Store, s.Log, "test deleted", t.Team, fmt.Sprintf("test %d", id), "")
	return nil
}
