package confirm

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Order is how the runs of the commits compared are interleaved.
type Order string

// Orders.
const (
	// ABBA runs the commits in order in even rounds and in reverse in odd
	// ones (A B, B A, A B, …): a drift linear in time weighs the same on
	// every commit over each two rounds.
	ABBA Order = "abba"
	// Random runs each round in a random order drawn from a seed: no
	// pattern of the host (a periodic job, a cache warmed by the previous
	// run) can line up with one commit.
	Random Order = "random"
)

// ParseOrder reads an order by name ("" is ABBA).
func ParseOrder(s string) (Order, error) {
	switch Order(s) {
	case "", ABBA:
		return ABBA, nil
	case Random:
		return Random, nil
	}
	return "", fmt.Errorf("order %q: want %q or %q", s, ABBA, Random)
}

// Round is the order of the runs of k commits (0..k−1) in round r: the
// same arguments always give the same order, so a workflow may call it.
func (o Order) Round(k, r int, seed uint64) []int {
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	switch o {
	case Random:
		rand.New(rand.NewPCG(seed, uint64(r))).Shuffle(k, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	default:
		if r%2 == 1 {
			slices.Reverse(idx)
		}
	}
	return idx
}

// Interleave is the order of every run of rounds rounds of k commits, one
// commit index per run: ABBA with k = 2 gives 0 1 1 0 0 1 ….
func (o Order) Interleave(k, rounds int, seed uint64) []int {
	out := make([]int, 0, k*rounds)
	for r := range rounds {
		out = append(out, o.Round(k, r, seed)...)
	}
	return out
}
