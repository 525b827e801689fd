package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// leaseHost names a host of its own for each run of a test.
func leaseHost(name string) string {
	return fmt.Sprintf("%s-%d", name, hostSeq.Add(1))
}

var hostSeq atomic.Int64

// take asks for host for each test in turn, at priority 0, and returns
// the holder each was told of.
func take(t *testing.T, s *Store, host string, ids ...int64) []int64 {
	t.Helper()
	var holders []int64
	for _, id := range ids {
		holder, err := s.LeaseTake(context.Background(), host, req(id, 0, 0))
		require.NoError(t, err)
		holders = append(holders, holder)
	}
	return holders
}

func req(id int64, priority int, maxWait time.Duration) LeaseRequest {
	return LeaseRequest{TestID: id, WorkflowID: "wf-" + string(rune('a'+id%26)), Priority: priority, MaxWait: maxWait}
}

// A free host goes to its first request; the others queue behind the
// holder and are served in order as each holder gives the host back, the
// next holder to be told until LeaseTold says it was.
func TestLeaseQueueServesInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(testPool)
	host := leaseHost("lease-order")
	require.Equal(t, []int64{1, 1, 1}, take(t, s, host, 1, 2, 3))
	holder, err := s.LeaseTake(ctx, host, req(2, 0, 0))
	require.NoError(t, err)
	require.EqualValues(t, 1, holder, "a repeated request keeps its place")

	g, err := s.LeaseGiveBack(ctx, host, 1)
	require.NoError(t, err)
	require.Equal(t, &LeaseGrant{Host: host, TestID: 2, WorkflowID: "wf-c", Waited: g.Waited}, g)
	again, err := s.LeaseGiveBack(ctx, host, 1)
	require.NoError(t, err)
	require.Equal(t, &LeaseGrant{Host: host, TestID: 2, WorkflowID: "wf-c"}, again,
		"until told, a retried give-back returns the same holder to tell")
	holder, err = s.LeaseTake(ctx, host, req(2, 0, 0))
	require.NoError(t, err)
	require.EqualValues(t, 2, holder, "the holder's retried request is granted")
	require.NoError(t, s.LeaseTold(ctx, host, 2))
	again, err = s.LeaseGiveBack(ctx, host, 1)
	require.NoError(t, err)
	require.Nil(t, again)

	g, err = s.LeaseGiveBack(ctx, host, 2)
	require.NoError(t, err)
	require.EqualValues(t, 3, g.TestID)
	require.NoError(t, s.LeaseTold(ctx, host, 3))
	g, err = s.LeaseGiveBack(ctx, host, 3)
	require.NoError(t, err)
	require.Nil(t, g, "nobody waits")
	holder, err = s.LeaseTake(ctx, host, req(4, 0, 0))
	require.NoError(t, err)
	require.EqualValues(t, 4, holder, "the host is free again")
}

// A test that gives up while waiting leaves the queue; the holder is not
// disturbed.
func TestLeaseGiveBackWhileWaiting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(testPool)
	host := leaseHost("lease-leave")
	take(t, s, host, 1, 2, 3)
	g, err := s.LeaseGiveBack(ctx, host, 2)
	require.NoError(t, err)
	require.Nil(t, g)
	g, err = s.LeaseGiveBack(ctx, host, 1)
	require.NoError(t, err)
	require.EqualValues(t, 3, g.TestID, "2 left the queue")
}

// Higher priority first, first come first served within a priority; a
// request that waited its MaxWait is served ahead of every priority.
func TestLeaseQueuePriorityAndPromotion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(testPool)
	host := leaseHost("lease-priority")
	_, err := s.LeaseTake(ctx, host, req(1, 0, 0))
	require.NoError(t, err)
	_, err = s.LeaseTake(ctx, host, req(2, 0, 0))
	require.NoError(t, err)
	_, err = s.LeaseTake(ctx, host, req(3, 1, 0))
	require.NoError(t, err)
	_, err = s.LeaseTake(ctx, host, req(4, 0, 0))
	require.NoError(t, err)
	_, err = s.LeaseTake(ctx, host, req(5, 1, 0))
	require.NoError(t, err)
	var order []int64
	for prev := int64(1); ; {
		g, err := s.LeaseGiveBack(ctx, host, prev)
		require.NoError(t, err)
		if g == nil {
			break
		}
		require.False(t, g.Promoted)
		require.NoError(t, s.LeaseTold(ctx, host, g.TestID))
		order = append(order, g.TestID)
		prev = g.TestID
	}
	require.Equal(t, []int64{3, 5, 2, 4}, order)

	host = leaseHost("lease-promoted")
	_, err = s.LeaseTake(ctx, host, req(1, 0, 0))
	require.NoError(t, err)
	_, err = s.LeaseTake(ctx, host, req(2, 0, time.Millisecond))
	require.NoError(t, err)
	_, err = s.LeaseTake(ctx, host, req(3, 1, 0))
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond) // 2's MaxWait passes
	g, err := s.LeaseGiveBack(ctx, host, 1)
	require.NoError(t, err)
	require.EqualValues(t, 2, g.TestID)
	require.True(t, g.Promoted)
	require.GreaterOrEqual(t, g.Waited, time.Millisecond)
}

// Many tests asking at once for one host: exactly one holds it, and
// giving back hands it to each of the others once.
func TestLeaseTakeConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(testPool)
	host := leaseHost("lease-race")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		holders = map[int64]int{}
	)
	for id := int64(1); id <= 20; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder, err := s.LeaseTake(ctx, host, req(id, 0, 0))
			require.NoError(t, err)
			mu.Lock()
			holders[holder]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Len(t, holders, 1, "everybody saw the same holder")
	var first int64
	for h := range holders {
		first = h
	}
	served := map[int64]bool{first: true}
	for prev := first; ; {
		g, err := s.LeaseGiveBack(ctx, host, prev)
		require.NoError(t, err)
		if g == nil {
			break
		}
		require.False(t, served[g.TestID], "test %d served twice", g.TestID)
		served[g.TestID] = true
		require.NoError(t, s.LeaseTold(ctx, host, g.TestID))
		prev = g.TestID
	}
	require.Len(t, served, 20)
	list, err := s.LeaseHolders(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	for _, h := range list {
		require.NotEqual(t, host, h.Host, "the host is free")
	}
}
