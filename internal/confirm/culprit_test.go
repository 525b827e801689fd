package confirm_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/accuracy"
	"github.com/pitwall/pitwall/internal/confirm"
)

// The culprit's effect is the comparison that put it next to a good
// commit: in the seeded repositories (c19 3% slower under 1% noise) it
// is about +3% against c18, or against the good end of c19's own step.
func TestCulpritEffect(t *testing.T) {
	t.Parallel()
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 19))
		res, err := accuracy.Bisect(accuracy.NewRepo(r, 0), confirm.BisectConfig{Test: test, Order: confirm.ABBA, Seed: seed}, r)
		require.NoError(t, err)
		require.Equal(t, "c19", res.FirstBad)
		e, against, ok := res.CulpritEffect()
		require.True(t, ok, "seed %d", seed)
		require.Equal(t, confirm.Different, e.Decision, "seed %d: %+v", seed, e)
		require.InDelta(t, 3, e.ChangePct, 1.5, "seed %d", seed)
		require.Less(t, e.CILowPct, e.ChangePct)
		require.Greater(t, e.CIHighPct, e.ChangePct)
		require.NotEmpty(t, against)
	}
	// The bad end itself is the culprit: the last good middle compared it.
	r := confirm.BisectResult{Outcome: confirm.Found, FirstBad: "c3", Good: "c2", Bad: "c3", Candidates: []string{"c3"},
		Steps: []confirm.StepReport{
			{Commit: "c2", Outcome: confirm.StepGood, VsBad: confirm.Result{Decision: confirm.Different, ChangePct: 4}},
		}}
	e, against, ok := r.CulpritEffect()
	require.True(t, ok)
	require.Equal(t, "c2", against)
	require.InDelta(t, 4, e.ChangePct, 1e-9)
	// A range names no culprit.
	_, _, ok = confirm.BisectResult{Outcome: confirm.Range, Candidates: []string{"c2", "c3"}}.CulpritEffect()
	require.False(t, ok)
}
