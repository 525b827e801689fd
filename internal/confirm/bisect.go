package confirm

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/pitwall/pitwall/internal/verdict"
)

// Role is a commit's part in a bisection step.
type Role int

// Roles, in the order of a step's rounds before they are interleaved.
const (
	GoodEnd Role = iota
	Middle
	BadEnd
)

// Run is one run a bisection asks for.
type Run struct {
	Commit string `json:"commit"`
	// Step and Round say where the run's figure goes; Role which commit of
	// the step it is.
	Step  int  `json:"step"`
	Round int  `json:"round"`
	Role  Role `json:"role"`
}

// BisectConfig is a bisection's settings.
type BisectConfig struct {
	// Test is the sequential test of each comparison; its MaxPairs is the
	// budget of each step, in rounds (one run of each of the three commits).
	Test Config
	// Order interleaves each round's three runs; Seed draws Random orders.
	Order Order
	Seed  uint64
}

// StepOutcome is what a step found of its middle commit.
type StepOutcome string

// Step outcomes.
const (
	StepGood   StepOutcome = "good"
	StepBad    StepOutcome = "bad"
	StepBroken StepOutcome = "does-not-build"
	// StepUnknown: the budget was spent without telling, or the two
	// comparisons disagreed; the bisection stops there.
	StepUnknown StepOutcome = "unknown"
)

// StepReport is one step of a bisection.
type StepReport struct {
	Commit  string      `json:"commit"`
	Outcome StepOutcome `json:"outcome"`
	// Runs is the runs the step used, of all three commits.
	Runs int `json:"runs"`
	// VsGood compares the middle commit (B) with the good end (A), VsBad
	// the bad end (B) with the middle commit (A).
	VsGood Result `json:"vs_good"`
	VsBad  Result `json:"vs_bad"`
}

// BisectOutcome is the end of a bisection.
type BisectOutcome string

// Bisection outcomes ("" while it runs).
const (
	// Found: one commit is the first bad one.
	Found BisectOutcome = "found"
	// Range: the commits between the ends do not build, so the first bad
	// one is one of them or the bad end.
	Range BisectOutcome = "range"
	// Undecided: a step could not tell; Candidates is what was narrowed.
	Undecided BisectOutcome = "unknown"
)

// BisectResult is where a bisection stands.
type BisectResult struct {
	Outcome  BisectOutcome `json:"outcome,omitempty"`
	FirstBad string        `json:"first_bad,omitempty"`
	// Candidates are the commits one of which is the first bad one: those
	// after the good end up to the bad end.
	Candidates []string     `json:"candidates"`
	Good       string       `json:"good"`
	Bad        string       `json:"bad"`
	Steps      []StepReport `json:"steps"`
	Runs       int          `json:"runs"`
}

// Bisection finds the first bad commit of a list, as a state machine: Next
// says which runs to make, Observe (or Broken) takes each one's figure.
// Given the same observations in the same order it asks for the same runs.
type Bisection struct {
	cfg       BisectConfig
	commits   []string
	good, bad int
	broken    []bool
	// The step under way: mid is -1 between steps; vals[role][round] are
	// the figures, NaN until observed.
	mid     int
	vals    [3][]float64
	pending []Run
	steps   []StepReport
	done    bool
	unknown bool
}

// NewBisection starts a bisection of commits, in order from the good end
// (first) to the bad end (last), whose ends differ: a confirmation has
// already told so, and the bisection does not check it again.
func NewBisection(commits []string, cfg BisectConfig) (*Bisection, error) {
	if len(commits) < 2 {
		return nil, errors.New("bisect: need a good and a bad commit")
	}
	seen := map[string]bool{}
	for _, c := range commits {
		if seen[c] {
			return nil, fmt.Errorf("bisect: commit %s appears twice", c)
		}
		seen[c] = true
	}
	cfg.Test = cfg.Test.normal()
	return &Bisection{cfg: cfg, commits: slices.Clone(commits), bad: len(commits) - 1,
		broken: make([]bool, len(commits)), mid: -1}, nil
}

// Next gives the runs to make now, in order (the rounds up to the next
// look of the sequential test), or done when the bisection has ended.
// Until every run it gave is observed it gives the ones still missing.
func (b *Bisection) Next() (runs []Run, done bool) {
	if b.done {
		return nil, true
	}
	if len(b.pending) > 0 {
		return slices.Clone(b.pending), false
	}
	if b.mid < 0 {
		if b.mid = b.pick(); b.mid < 0 {
			b.done = true
			return nil, true
		}
		b.vals = [3][]float64{}
	}
	have := len(b.vals[Middle])
	target := b.cfg.Test.MaxPairs
	for _, l := range b.cfg.Test.Looks() {
		if l > have {
			target = l
			break
		}
	}
	ends := [3]int{b.good, b.mid, b.bad}
	seed := b.cfg.Seed ^ uint64(len(b.steps)+1)*0x9e3779b97f4a7c15
	for r := have; r < target; r++ {
		for _, role := range b.cfg.Order.Round(3, r, seed) {
			b.pending = append(b.pending, Run{Commit: b.commits[ends[role]], Step: len(b.steps), Round: r, Role: Role(role)})
		}
		for role := range b.vals {
			b.vals[role] = append(b.vals[role], math.NaN())
		}
	}
	return slices.Clone(b.pending), false
}

// Observe takes the figure of a run Next gave.
func (b *Bisection) Observe(run Run, value float64) error {
	if err := b.take(run); err != nil {
		return err
	}
	b.vals[run.Role][run.Round] = value
	if len(b.pending) == 0 {
		b.evaluate()
	}
	return nil
}

// Broken says that a run Next gave could not be made because its commit
// does not build: the middle commit is skipped (another near the middle is
// tried); an end that does not build stops the bisection as unknown.
func (b *Bisection) Broken(run Run) error {
	if err := b.take(run); err != nil {
		return err
	}
	outcome := StepBroken
	if run.Role == Middle {
		b.broken[b.mid] = true
	} else {
		outcome, b.done, b.unknown = StepUnknown, true, true
	}
	b.endStep(StepReport{Commit: run.Commit, Outcome: outcome, Runs: b.observed() + 1})
	return nil
}

// take removes run from the pending runs.
func (b *Bisection) take(run Run) error {
	i := slices.IndexFunc(b.pending, func(p Run) bool {
		return p.Step == run.Step && p.Round == run.Round && p.Role == run.Role
	})
	if i < 0 || b.pending[i].Commit != run.Commit {
		return fmt.Errorf("bisect: run %+v was not asked for", run)
	}
	b.pending = slices.Delete(b.pending, i, i+1)
	return nil
}

// evaluate tells, once a look's rounds are in, whether the middle commit
// is good or bad; otherwise the step goes on.
func (b *Bisection) evaluate() {
	vsGood := b.cfg.Test.Decide(b.vals[GoodEnd], b.vals[Middle])
	vsBad := b.cfg.Test.Decide(b.vals[Middle], b.vals[BadEnd])
	worse := func(r Result) bool { return r.Decision == Different && r.Verdict == verdict.Regressed }
	isBad := worse(vsGood) || vsBad.Decision == Same
	isGood := vsGood.Decision == Same || worse(vsBad)
	rep := StepReport{Commit: b.commits[b.mid], Runs: b.observed(), VsGood: vsGood, VsBad: vsBad}
	switch {
	case isBad && !isGood:
		rep.Outcome, b.bad = StepBad, b.mid
	case isGood && !isBad:
		rep.Outcome, b.good = StepGood, b.mid
	case isGood || (vsGood.Decision != NeedMore && vsBad.Decision != NeedMore):
		rep.Outcome, b.done, b.unknown = StepUnknown, true, true
	default:
		return
	}
	b.endStep(rep)
}

func (b *Bisection) endStep(rep StepReport) {
	b.steps = append(b.steps, rep)
	b.mid, b.pending = -1, nil
}

// observed counts the step's runs with a figure.
func (b *Bisection) observed() int {
	n := 0
	for _, vs := range b.vals {
		for _, v := range vs {
			if !math.IsNaN(v) {
				n++
			}
		}
	}
	return n
}

// pick is the commit between the ends that builds as far as known and is
// nearest the middle (the earlier of two), or -1.
func (b *Bisection) pick() int {
	m := (b.good + b.bad) / 2
	for off := 0; off < b.bad-b.good; off++ {
		for _, i := range []int{m - off, m + off + 1} {
			if i > b.good && i < b.bad && !b.broken[i] {
				return i
			}
		}
	}
	return -1
}

// Result is where the bisection stands; its Outcome is set once Next has
// said done.
func (b *Bisection) Result() BisectResult {
	r := BisectResult{Candidates: slices.Clone(b.commits[b.good+1 : b.bad+1]), Good: b.commits[b.good],
		Bad: b.commits[b.bad], Steps: slices.Clone(b.steps)}
	for _, s := range b.steps {
		r.Runs += s.Runs
	}
	switch {
	case !b.done:
	case b.unknown:
		r.Outcome = Undecided
	case len(r.Candidates) == 1:
		r.Outcome, r.FirstBad = Found, r.Candidates[0]
	default:
		r.Outcome = Range
	}
	return r
}

// CulpritEffect is how much worse the first bad commit measured than a
// good commit beside it: the last step whose middle was good while the
// first bad commit was the bad end compared the two directly (VsBad);
// else the step whose middle the first bad commit was compared it with
// that step's good end (VsGood). Against names the good commit, or is ""
// for the bisection's good end; ok is false when no step compared it.
func (r BisectResult) CulpritEffect() (res Result, against string, ok bool) {
	if r.FirstBad == "" {
		return Result{}, "", false
	}
	badMiddle := slices.ContainsFunc(r.Steps, func(s StepReport) bool { return s.Commit == r.FirstBad && s.Outcome == StepBad })
	// badIsCulprit says whether the step's bad end was the first bad commit.
	badIsCulprit := !badMiddle
	lastGood := ""
	for _, s := range r.Steps {
		switch {
		case s.Outcome == StepGood && badIsCulprit:
			res, against, ok = s.VsBad, s.Commit, true
		case s.Outcome == StepGood:
			lastGood = s.Commit
		case s.Outcome == StepBad && s.Commit == r.FirstBad:
			badIsCulprit = true
			if !ok {
				res, against, ok = s.VsGood, lastGood, true
			}
		}
	}
	return res, against, ok
}
