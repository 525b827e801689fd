package e2e

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/store"
)

// Tests that pick a host at the same instant spread over the hosts: each
// claim sees the ones before it, so nine tests on three hosts get three
// each, and a retried pick keeps its host. Not parallel: the rows it makes
// are queued tests no workflow runs, ended before the other tests start.
func TestHostClaimSpreadsABurst(t *testing.T) {
	ctx := context.Background()
	st.Apply(t, "name: host-claim\nexecution: {script: \"#!/bin/sh\\n\"}\n")
	var ids []int64
	for range 9 {
		var id int64
		require.NoError(t, st.Pool.QueryRow(ctx, `
			INSERT INTO tests (framework_id, framework_version)
			SELECT id, 1 FROM frameworks WHERE name = 'host-claim' RETURNING id`).Scan(&id))
		ids = append(ids, id)
	}
	t.Cleanup(func() {
		_, err := st.Pool.Exec(context.Background(), `UPDATE tests SET state = 'aborted', ended_at = now() WHERE id = ANY($1)`, ids)
		require.NoError(t, err)
	})

	db := store.New(st.Pool)
	hosts := []string{"claim-c", "claim-a", "claim-b"}
	got := make([]string, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			h, err := db.HostClaim(ctx, id, hosts)
			require.NoError(t, err)
			got[i] = h
		})
	}
	wg.Wait()
	count := map[string]int{}
	for _, h := range got {
		count[h]++
	}
	require.Equal(t, map[string]int{"claim-a": 3, "claim-b": 3, "claim-c": 3}, count)

	var stored []string
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT array_agg(host ORDER BY id) FROM tests WHERE id = ANY($1)`, ids).Scan(&stored))
	require.Equal(t, got, stored, "each test's claim is stored")

	again, err := db.HostClaim(ctx, ids[0], hosts)
	require.NoError(t, err)
	require.Equal(t, got[0], again, "a retried pick keeps the host: the test's own claim does not count against it")

	// Choosing without a test claims nothing.
	_, err = db.HostClaim(ctx, 0, hosts)
	require.NoError(t, err)
}
