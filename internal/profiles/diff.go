package profiles

import (
	"cmp"
	"slices"

	"github.com/google/pprof/profile"
)

// Share is a function's part of a profile: self is the time in the
// function itself, total with what it calls (counted once per sample, so
// recursion does not count twice), both as fractions of the profile.
type Share struct {
	Self, Total float64
}

// Shares gives each function of the profile its share.
func Shares(p *profile.Profile) map[string]Share {
	self := map[string]int64{}
	total := map[string]int64{}
	var all int64
	seen := map[string]bool{}
	Stacks(p, func(stack []string, v int64) {
		all += v
		if len(stack) > 0 {
			self[stack[len(stack)-1]] += v
		}
		clear(seen)
		for _, name := range stack {
			if !seen[name] {
				seen[name] = true
				total[name] += v
			}
		}
	})
	out := make(map[string]Share, len(total))
	if all == 0 {
		return out
	}
	for name, t := range total {
		out[name] = Share{Self: float64(self[name]) / float64(all), Total: float64(t) / float64(all)}
	}
	return out
}

// FuncDelta is how one function's share moved between a baseline profile
// and a test's.
type FuncDelta struct {
	Name       string
	Base, Test Share
	// SelfDelta and TotalDelta are Test less Base, in fractions.
	SelfDelta, TotalDelta float64
}

// Diff compares two profiles function by function, the functions whose
// own share grew most first (then those whose share with their callees
// grew most): where a test spends more of its time than its baseline did.
func Diff(base, test *profile.Profile) []FuncDelta {
	bs, ts := Shares(base), Shares(test)
	out := make([]FuncDelta, 0, len(ts))
	add := func(name string) {
		b, t := bs[name], ts[name]
		out = append(out, FuncDelta{Name: name, Base: b, Test: t, SelfDelta: t.Self - b.Self, TotalDelta: t.Total - b.Total})
	}
	for name := range ts {
		add(name)
	}
	for name := range bs {
		if _, ok := ts[name]; !ok {
			add(name)
		}
	}
	slices.SortFunc(out, func(a, b FuncDelta) int {
		if c := cmp.Compare(b.SelfDelta, a.SelfDelta); c != 0 {
			return c
		}
		if c := cmp.Compare(b.TotalDelta, a.TotalDelta); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// Differential is the test's flame graph with each frame's baseline
// value (Node.Base), scaled to the test's total, so that SVG colours each
// frame by how its share of the whole moved.
func Differential(base, test *profile.Profile) *Node {
	t, b := Tree(test), Tree(base)
	if b.Total > 0 {
		setBase(t, b, float64(t.Total)/float64(b.Total))
	}
	return t
}

func setBase(t, b *Node, scale float64) {
	t.Base = float64(b.Total) * scale
	for _, c := range t.Children {
		if bc := b.kids[c.Name]; bc != nil {
			setBase(c, bc, scale)
		}
	}
}
