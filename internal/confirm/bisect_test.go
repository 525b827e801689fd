package confirm_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/accuracy"
	"github.com/pitwall/pitwall/internal/confirm"
)

var test = confirm.Config{LowerIsBetter: true, Threshold: 0.02, Alpha: 0.01, MaxPairs: 30}

// Issue 21: in seeded repositories of 32 commits where commit 19 is 3%
// slower under 1% noise, bisection finds commit 19, and its steps' runs
// add up to what it reports.
func TestBisectFindsCulprit(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 19))
		repo := accuracy.NewRepo(r, 0)
		order := confirm.ABBA
		if seed%2 == 1 {
			order = confirm.Random
		}
		res, err := accuracy.Bisect(repo, confirm.BisectConfig{Test: test, Order: order, Seed: seed}, r)
		require.NoError(t, err)
		require.Equal(t, confirm.Found, res.Outcome, "seed %d: %+v", seed, res)
		require.Equal(t, "c19", res.FirstBad, "seed %d", seed)
		require.Equal(t, []string{"c19"}, res.Candidates)
		require.Equal(t, "c18", res.Good)
		require.Len(t, res.Steps, 5, "31 commits take 5 halvings")
		sum := 0
		for _, s := range res.Steps {
			require.Positive(t, s.Runs)
			require.Zero(t, s.Runs%3, "a step runs whole rounds of three commits")
			sum += s.Runs
		}
		require.Equal(t, sum, res.Runs)
		require.Less(t, res.Runs, 5*3*test.MaxPairs, "seed %d: some step answered before its budget", seed)
	}
}

// The same for a KPI where higher is better (throughput falls at commit 19).
func TestBisectHigherIsBetter(t *testing.T) {
	t.Parallel()
	commits := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	r := rand.New(rand.NewPCG(8, 21))
	cfg := test
	cfg.LowerIsBetter = false
	b, err := confirm.NewBisection(commits, confirm.BisectConfig{Test: cfg})
	require.NoError(t, err)
	for {
		runs, done := b.Next()
		if done {
			break
		}
		for _, run := range runs {
			level := 1000.0
			if run.Commit >= "f" {
				level = 950
			}
			require.NoError(t, b.Observe(run, level*(1+0.01*r.NormFloat64())))
		}
	}
	require.Equal(t, "f", b.Result().FirstBad)
}

// Commits that do not build are skipped; when they hide the culprit the
// answer is the range of commits it may be.
func TestBisectSkipsBrokenCommits(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 21))
	repo := accuracy.NewRepo(r, 0)
	repo.Broken[17], repo.Broken[18] = true, true // c18 and c19
	res, err := accuracy.Bisect(repo, confirm.BisectConfig{Test: test}, r)
	require.NoError(t, err)
	require.Equal(t, confirm.Range, res.Outcome)
	require.Equal(t, []string{"c18", "c19", "c20"}, res.Candidates)
	require.Equal(t, "c17", res.Good)
	require.Equal(t, "c20", res.Bad)
	var broken []string
	for _, s := range res.Steps {
		if s.Outcome == confirm.StepBroken {
			broken = append(broken, s.Commit)
			require.True(t, s.Runs >= 1 && s.Runs <= 3, "a commit that does not build costs the runs of its first round at most")
		}
	}
	require.ElementsMatch(t, []string{"c18", "c19"}, broken)

	// A broken commit away from the culprit only costs a detour.
	repo = accuracy.NewRepo(r, 0)
	repo.Broken[15] = true // c16, the first middle
	res, err = accuracy.Bisect(repo, confirm.BisectConfig{Test: test}, r)
	require.NoError(t, err)
	require.Equal(t, confirm.Found, res.Outcome)
	require.Equal(t, "c19", res.FirstBad)
	require.Equal(t, confirm.StepBroken, res.Steps[0].Outcome)
	require.Equal(t, "c17", res.Steps[1].Commit, "the nearest commit to the middle is tried next")
}

// Next and Observe are a deterministic state machine: the runs it asks for
// repeat until observed, runs it did not ask for are refused, and the same
// observations give the same runs.
func TestBisectStateMachine(t *testing.T) {
	t.Parallel()
	commits := []string{"g", "x", "y", "z", "b"}
	level := map[string]float64{"g": 100, "x": 100, "y": 110, "z": 110, "b": 110}
	cfg := confirm.BisectConfig{Test: confirm.Config{Threshold: 0.02, MinPairs: 4, MaxPairs: 10}, Order: confirm.Random, Seed: 3}
	record := func() []confirm.Run {
		b, err := confirm.NewBisection(commits, cfg)
		require.NoError(t, err)
		var all []confirm.Run
		for {
			runs, done := b.Next()
			if done {
				break
			}
			again, _ := b.Next()
			require.Equal(t, runs, again, "Next repeats until the runs are observed")
			all = append(all, runs...)
			for k, run := range runs {
				v := level[run.Commit]
				require.NoError(t, b.Observe(run, v+float64(k%3)*0.1))
				require.Error(t, b.Observe(run, v), "a run is observed once")
			}
		}
		res := b.Result()
		require.Equal(t, confirm.Found, res.Outcome)
		require.Equal(t, "y", res.FirstBad)
		return all
	}
	first := record()
	require.Equal(t, first, record())
	// The first step's first look: four rounds of the middle and both ends.
	require.Len(t, first[:12], 12)
	for r := range 4 {
		var roles []confirm.Role
		for _, run := range first[3*r : 3*r+3] {
			require.Equal(t, r, run.Round)
			require.Equal(t, 0, run.Step)
			roles = append(roles, run.Role)
		}
		require.ElementsMatch(t, []confirm.Role{confirm.GoodEnd, confirm.Middle, confirm.BadEnd}, roles)
	}
	require.Equal(t, "y", first[slices.IndexFunc(first, func(r confirm.Run) bool { return r.Role == confirm.Middle })].Commit)

	b, err := confirm.NewBisection(commits, cfg)
	require.NoError(t, err)
	require.Error(t, b.Observe(confirm.Run{Commit: "y", Role: confirm.Middle}, 1), "nothing asked yet")
	runs, _ := b.Next()
	wrong := runs[0]
	wrong.Commit = "z"
	require.Error(t, b.Observe(wrong, 1))
	require.Empty(t, b.Result().Outcome, "under way")
}

func TestBisectEdges(t *testing.T) {
	t.Parallel()
	_, err := confirm.NewBisection([]string{"a"}, confirm.BisectConfig{})
	require.Error(t, err)
	_, err = confirm.NewBisection([]string{"a", "b", "a"}, confirm.BisectConfig{})
	require.ErrorContains(t, err, "appears twice")

	// Two commits: the bad end is the first bad one, with no run.
	b, err := confirm.NewBisection([]string{"a", "b"}, confirm.BisectConfig{})
	require.NoError(t, err)
	_, done := b.Next()
	require.True(t, done)
	require.Equal(t, confirm.BisectResult{Outcome: confirm.Found, FirstBad: "b", Candidates: []string{"b"}, Good: "a", Bad: "b"}, b.Result())

	// An end that does not build stops the bisection as unknown.
	b, err = confirm.NewBisection([]string{"a", "m", "b"}, confirm.BisectConfig{})
	require.NoError(t, err)
	runs, _ := b.Next()
	end := runs[slices.IndexFunc(runs, func(r confirm.Run) bool { return r.Role == confirm.BadEnd })]
	require.NoError(t, b.Broken(end))
	_, done = b.Next()
	require.True(t, done)
	require.Equal(t, confirm.Undecided, b.Result().Outcome)
}

// A budget too small for the noise leaves a step UNKNOWN: the bisection
// stops with the range it had narrowed, and says so.
func TestBisectUnknown(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(10, 21))
	repo := accuracy.NewRepo(r, 0)
	repo.Noise = 0.2
	cfg := confirm.BisectConfig{Test: confirm.Config{LowerIsBetter: true, Threshold: 0.02, MaxPairs: 6}}
	res, err := accuracy.Bisect(repo, cfg, r)
	require.NoError(t, err)
	require.Equal(t, confirm.Undecided, res.Outcome)
	last := res.Steps[len(res.Steps)-1]
	require.Equal(t, confirm.StepUnknown, last.Outcome)
	require.Equal(t, 18, last.Runs, "the whole budget: 6 rounds of 3")
	require.Contains(t, res.Candidates, "c19")
	require.Contains(t, fmt.Sprint(last.VsGood.Decision, last.VsBad.Decision), "unknown")
}
