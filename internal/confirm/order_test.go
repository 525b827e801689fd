package confirm

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestABBA(t *testing.T) {
	t.Parallel()
	require.Equal(t, []int{0, 1, 1, 0, 0, 1, 1, 0}, ABBA.Interleave(2, 4, 0))
	require.Equal(t, []int{0, 1, 2, 2, 1, 0}, ABBA.Interleave(3, 2, 7))
	// Over each two rounds every commit's mean position is the same: a
	// drift linear in time favours none.
	for _, k := range []int{2, 3, 5} {
		pos := make([]int, k)
		for i, c := range ABBA.Interleave(k, 2, 0) {
			pos[c] += i
		}
		for _, p := range pos {
			require.Equal(t, pos[0], p)
		}
	}
}

func TestRandomOrder(t *testing.T) {
	t.Parallel()
	const k, rounds = 3, 200
	got := Random.Interleave(k, rounds, 42)
	require.Equal(t, got, Random.Interleave(k, rounds, 42), "the same seed gives the same order")
	require.NotEqual(t, got, Random.Interleave(k, rounds, 43))
	first := make([]int, k)
	for r := range rounds {
		round := got[r*k : (r+1)*k]
		require.ElementsMatch(t, []int{0, 1, 2}, round, "each round runs every commit once")
		require.Equal(t, round, Random.Round(k, r, 42))
		first[round[0]]++
	}
	for _, f := range first {
		require.InDelta(t, rounds/k, f, 30, "each commit goes first about as often: %v", first)
	}
	require.False(t, slices.Equal(got, ABBA.Interleave(k, rounds, 42)))
}

func TestParseOrder(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]Order{"": ABBA, "abba": ABBA, "random": Random} {
		o, err := ParseOrder(s)
		require.NoError(t, err)
		require.Equal(t, want, o)
	}
	_, err := ParseOrder("ab")
	require.ErrorContains(t, err, `order "ab"`)
}
