package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// AgentFacts reads the named agents only, each as AgentList says it, and
// leaves out a name no agent has.
func TestAgentFactsOfTheNamedOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(testPool)
	for _, n := range []string{"facts-01", "facts-02", "facts-03"} {
		require.NoError(t, s.AgentUpsert(ctx, n, wire.Heartbeat{Facts: wire.Facts{Docker: n + " docker"}, Version: "v-" + n}))
	}
	got, err := s.AgentFacts(ctx, []string{"facts-03", "facts-01", "facts-none"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	all, err := s.AgentList(ctx)
	require.NoError(t, err)
	for _, a := range all {
		if a.Name == "facts-01" || a.Name == "facts-03" {
			require.Equal(t, a, got[a.Name])
		}
	}
	require.Equal(t, "facts-03 docker", got["facts-03"].Facts.Docker)
	require.Equal(t, "v-facts-01", got["facts-01"].Version)

	// One name takes the statement without an array (anyOf).
	one, err := s.AgentFacts(ctx, []string{"facts-02"})
	require.NoError(t, err)
	require.Len(t, one, 1)
	require.Equal(t, "facts-02 docker", one["facts-02"].Facts.Docker)
	none, err := s.AgentFacts(ctx, []string{"facts-none"})
	require.NoError(t, err)
	require.Empty(t, none)
}

// anyOf compares with one element when the list has one, else with the array.
func TestAnyOf(t *testing.T) {
	t.Parallel()
	cond, arg := anyOf("t.id", 3, []int64{7})
	require.Equal(t, "t.id = $3", cond)
	require.Equal(t, int64(7), arg)
	cond, arg = anyOf("t.id", 1, []int64{7, 8})
	require.Equal(t, "t.id = ANY($1)", cond)
	require.Equal(t, []int64{7, 8}, arg)
	cond, arg = anyOf("a.name", 2, []string(nil))
	require.Equal(t, "a.name = ANY($2)", cond)
	require.Nil(t, arg)
}
