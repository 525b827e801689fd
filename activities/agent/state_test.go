package agent

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A later attempt of an activity waits, heartbeating, until the earlier
// one running on this agent is done; another activity does not wait.
func TestOneAttemptAtATime(t *testing.T) {
	t.Parallel()
	var s state
	ctx := context.Background()
	first, err := s.oneAttempt(ctx, "run/5", func() {})
	require.NoError(t, err)
	other, err := s.oneAttempt(ctx, "run/6", func() {})
	require.NoError(t, err, "another activity runs at once")
	other()

	var beats atomic.Int32
	var doneAt atomic.Int64
	started := make(chan struct{})
	go func() {
		close(started)
		second, err := s.oneAttempt(ctx, "run/5", func() { beats.Add(1) })
		if err == nil {
			doneAt.Store(time.Now().UnixNano())
			second()
		}
	}()
	<-started
	time.Sleep(2*HeartbeatInterval + HeartbeatInterval/2)
	require.Zero(t, doneAt.Load(), "the second attempt waits for the first")
	releasedAt := time.Now().UnixNano()
	first()
	require.Eventually(t, func() bool { return doneAt.Load() != 0 }, 5*time.Second, 10*time.Millisecond)
	require.GreaterOrEqual(t, doneAt.Load(), releasedAt)
	require.GreaterOrEqual(t, beats.Load(), int32(2), "it heartbeats while it waits")

	// A waiting attempt gives up with its context.
	hold, err := s.oneAttempt(ctx, "run/7", func() {})
	require.NoError(t, err)
	defer hold()
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s.oneAttempt(cctx, "run/7", func() {})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
