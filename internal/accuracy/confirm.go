package accuracy

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/pitwall/pitwall/internal/confirm"
)

// The synthetic repositories of issue 21: RepoCommits commits, of which
// commit Culprit (counted from 1) makes a benchmark CulpritStep slower
// under RepoNoise of noise (CV).
const (
	RepoCommits = 32
	Culprit     = 19
	CulpritStep = 0.03
	RepoNoise   = 0.01
)

// Repo is a synthetic repository: the true KPI level at each commit, the
// commits that do not build and the noise of a run.
type Repo struct {
	Commits []string
	Levels  []float64
	Broken  []bool
	Noise   float64
}

// NewRepo makes a repository of RepoCommits commits where Culprit makes the
// KPI (lower is better) CulpritStep worse, with broken commits that do not
// build drawn at random between the ends.
func NewRepo(r *rand.Rand, broken int) Repo {
	repo := Repo{Noise: RepoNoise, Broken: make([]bool, RepoCommits)}
	for i := range RepoCommits {
		repo.Commits = append(repo.Commits, fmt.Sprintf("c%02d", i+1))
		level := 100.0
		if i+1 >= Culprit {
			level *= 1 + CulpritStep
		}
		repo.Levels = append(repo.Levels, level)
	}
	for placed := 0; placed < broken; {
		if i := 1 + r.IntN(RepoCommits-2); !repo.Broken[i] {
			repo.Broken[i], placed = true, placed+1
		}
	}
	return repo
}

// run is one run of commit i: its level with normal noise.
func (repo Repo) run(r *rand.Rand, i int) float64 {
	return repo.Levels[i] * (1 + repo.Noise*r.NormFloat64())
}

// Bisect drives a bisection of the repository to its end, as a workflow
// would: the runs Next asks for, one at a time.
func Bisect(repo Repo, cfg confirm.BisectConfig, r *rand.Rand) (confirm.BisectResult, error) {
	b, err := confirm.NewBisection(repo.Commits, cfg)
	if err != nil {
		return confirm.BisectResult{}, err
	}
	for {
		runs, done := b.Next()
		if done {
			return b.Result(), nil
		}
		for _, run := range runs {
			i := slices.Index(repo.Commits, run.Commit)
			if repo.Broken[i] {
				err = b.Broken(run)
				break // the other runs of the commit are not asked for any more
			}
			if err = b.Observe(run, repo.run(r, i)); err != nil {
				break
			}
		}
		if err != nil {
			return b.Result(), err
		}
	}
}

// Confirm drives a confirmation of a change (B against A, relative) under
// noise (CV): a pair of runs at a time, the test asked after each, until it
// answers.
func Confirm(cfg confirm.Config, change, noise float64, r *rand.Rand) confirm.Result {
	var a, b []float64
	for {
		res := cfg.Decide(a, b)
		if res.Decision != confirm.NeedMore {
			return res
		}
		a = append(a, 100*(1+noise*r.NormFloat64()))
		b = append(b, 100*(1+change)*(1+noise*r.NormFloat64()))
	}
}

// BisectTally adds up bisections of repositories whose first bad commit is
// known.
type BisectTally struct {
	Repos int
	// Found named the culprit; Wrong named another commit or a range
	// without it; InRange gave a range with it (commits that do not build
	// hid it); Unknown could not tell.
	Found, Wrong, InRange, Unknown int
	Runs                           []int
}

// Add scores one bisection against the true culprit.
func (t *BisectTally) Add(res confirm.BisectResult, culprit string) {
	t.Repos++
	t.Runs = append(t.Runs, res.Runs)
	switch {
	case res.Outcome == confirm.Found && res.FirstBad == culprit:
		t.Found++
	case res.Outcome == confirm.Range && slices.Contains(res.Candidates, culprit):
		t.InRange++
	case res.Outcome == confirm.Undecided:
		t.Unknown++
	default:
		t.Wrong++
	}
}
