package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
)

// A token's use is recorded at its first use, not written again while the
// record is younger than TokenUseEvery, and written once it is older; a
// revoked token resolves to nothing and records no use.
func TestTokenUseRecordedOncePerInterval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(testPool)
	id, err := s.TokenCreate(ctx, NewToken{Hash: "token-use-hash", Name: "use", Kind: auth.KindAgent, Agent: "use-01"})
	require.NoError(t, err)
	lastUsed := func() *time.Time {
		t.Helper()
		tok, err := s.TokenGet(ctx, id)
		require.NoError(t, err)
		return tok.LastUsedAt
	}
	require.Nil(t, lastUsed(), "never used")

	p, err := s.TokenPrincipal(ctx, "token-use-hash")
	require.NoError(t, err)
	require.Equal(t, "use-01", p.Name)
	first := lastUsed()
	require.NotNil(t, first, "the first use is recorded")
	_, err = s.TokenPrincipal(ctx, "token-use-hash")
	require.NoError(t, err)
	require.Equal(t, *first, *lastUsed(), "not written again within the interval")

	stale := time.Now().Add(-TokenUseEvery - time.Second)
	_, err = testPool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, stale)
	require.NoError(t, err)
	_, err = s.TokenPrincipal(ctx, "token-use-hash")
	require.NoError(t, err)
	require.True(t, lastUsed().After(stale.Add(time.Second)), "written again once older than the interval")

	require.NoError(t, s.TokenRevoke(ctx, id))
	_, err = testPool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, stale)
	require.NoError(t, err)
	_, err = s.TokenPrincipal(ctx, "token-use-hash")
	require.ErrorIs(t, err, ErrNotFound)
	require.True(t, lastUsed().Equal(stale.Truncate(time.Microsecond)), "a revoked token's use is not recorded")
}
