package accuracy

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/confirm"
)

// A repository is what it claims: 32 commits, commit 19 and later 3%
// slower, the broken commits asked for and never an end.
func TestNewRepo(t *testing.T) {
	t.Parallel()
	for seed := range uint64(100) {
		repo := NewRepo(rand.New(rand.NewPCG(seed, 1)), 5)
		require.Len(t, repo.Commits, RepoCommits)
		require.Equal(t, "c19", repo.Commits[Culprit-1])
		for i, l := range repo.Levels {
			want := 100.0
			if i+1 >= Culprit {
				want = 100 * (1 + CulpritStep)
			}
			require.InDelta(t, want, l, 1e-9)
		}
		broken := 0
		for _, b := range repo.Broken {
			if b {
				broken++
			}
		}
		require.Equal(t, 5, broken)
		require.False(t, repo.Broken[0])
		require.False(t, repo.Broken[RepoCommits-1])
	}
}

// Confirm answers with the runs of the look that answered.
func TestConfirm(t *testing.T) {
	t.Parallel()
	cfg := confirm.Config{LowerIsBetter: true, Threshold: 0.02, MaxPairs: 30}
	res := Confirm(cfg, 0.1, 0.001, rand.New(rand.NewPCG(1, 1)))
	require.Equal(t, confirm.Different, res.Decision)
	require.Equal(t, cfg.Looks()[0], res.Pairs, "a 10% change in 0.1% noise is clear at the first look")
	require.Equal(t, res.Pairs, res.Observed)
}

func TestBisectTally(t *testing.T) {
	t.Parallel()
	var tally BisectTally
	tally.Add(confirm.BisectResult{Outcome: confirm.Found, FirstBad: "c19", Runs: 10}, "c19")
	tally.Add(confirm.BisectResult{Outcome: confirm.Found, FirstBad: "c20", Runs: 11}, "c19")
	tally.Add(confirm.BisectResult{Outcome: confirm.Range, Candidates: []string{"c18", "c19"}, Runs: 12}, "c19")
	tally.Add(confirm.BisectResult{Outcome: confirm.Range, Candidates: []string{"c20", "c21"}, Runs: 13}, "c19")
	tally.Add(confirm.BisectResult{Outcome: confirm.Undecided, Runs: 14}, "c19")
	require.Equal(t, BisectTally{Repos: 5, Found: 1, Wrong: 2, InRange: 1, Unknown: 1, Runs: []int{10, 11, 12, 13, 14}}, tally)
}
