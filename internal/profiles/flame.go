package profiles

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"html"
	"math"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// Node is one frame of a flame graph: a function called along one path,
// with the value of the samples in it and below it.
type Node struct {
	Name     string
	Total    int64
	Self     int64
	Children []*Node
	// Base is the node's value in the baseline of a differential graph,
	// scaled to this profile's total; -1 where the baseline has no such path.
	Base float64
	kids map[string]*Node
}

// ValueIndex is the sample value a flame graph weighs: the last one (the
// period, CPU time for perf's clock events and Go's CPU profiles).
func ValueIndex(p *profile.Profile) int { return max(len(p.SampleType)-1, 0) }

// Stacks returns each sample's stack, root first, with inlined frames
// expanded, and its value.
func Stacks(p *profile.Profile, each func(stack []string, v int64)) {
	idx := ValueIndex(p)
	var stack []string
	for _, s := range p.Sample {
		if idx >= len(s.Value) || s.Value[idx] == 0 {
			continue
		}
		stack = stack[:0]
		for i := len(s.Location) - 1; i >= 0; i-- {
			l := s.Location[i]
			if len(l.Line) == 0 {
				stack = append(stack, fmt.Sprintf("0x%x", l.Address))
				continue
			}
			for j := len(l.Line) - 1; j >= 0; j-- {
				name := "?"
				if fn := l.Line[j].Function; fn != nil {
					name = fn.Name
				}
				stack = append(stack, clip(name))
			}
		}
		each(stack, s.Value[idx])
	}
}

// Tree builds a profile's flame graph, rooted at "all".
func Tree(p *profile.Profile) *Node {
	root := &Node{Name: "all", Base: -1}
	Stacks(p, func(stack []string, v int64) {
		n := root
		n.Total += v
		for _, name := range stack {
			n = n.child(name)
			n.Total += v
		}
		n.Self += v
	})
	root.sort()
	return root
}

func (n *Node) child(name string) *Node {
	if n.kids == nil {
		n.kids = map[string]*Node{}
	}
	c := n.kids[name]
	if c == nil {
		c = &Node{Name: name, Base: -1}
		n.kids[name] = c
		n.Children = append(n.Children, c)
	}
	return c
}

// sort orders children by name, as flame graphs do, so that equal
// profiles draw alike.
func (n *Node) sort() {
	slices.SortFunc(n.Children, func(a, b *Node) int { return cmp.Compare(a.Name, b.Name) })
	for _, c := range n.Children {
		c.sort()
	}
}

// Find returns the first node named name, depth first, or nil.
func (n *Node) Find(name string) *Node {
	if n.Name == name {
		return n
	}
	for _, c := range n.Children {
		if f := c.Find(name); f != nil {
			return f
		}
	}
	return nil
}

// SVG drawing sizes.
const (
	svgWidth  = 1200.0
	rowHeight = 17
	minWidth  = 0.5 // pixels: narrower frames are not drawn
	maxRects  = 8000
)

// SVG draws the tree as a flame graph (root at the bottom) with a title
// per frame, ready to embed in a page: names are escaped, and each frame
// carries its position (data-x, data-w as fractions of the width, data-d
// its depth) for ui/static/flame.js to zoom. unit names the value
// ("samples", "ms"). A tree with Base values (Differential) is coloured
// by each frame's change: red grew, blue shrank, white unchanged.
func (n *Node) SVG(id, unit string) string {
	if n.Total <= 0 {
		return ""
	}
	depth := n.depth()
	height := (depth + 1) * rowHeight
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="flame" id="%s" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %d" width="100%%" preserveAspectRatio="none" font-family="monospace" font-size="11">`,
		html.EscapeString(id), svgWidth, height)
	rects := 0
	var draw func(c *Node, x float64, d int)
	draw = func(c *Node, x float64, d int) {
		w := float64(c.Total) / float64(n.Total) * svgWidth
		if w < minWidth || rects >= maxRects {
			return
		}
		rects++
		y := height - (d+1)*rowHeight
		pct := 100 * float64(c.Total) / float64(n.Total)
		title := fmt.Sprintf("%s — %d %s, %.2f%%", c.Name, c.Total, unit, pct)
		fill := color(c.Name)
		if c.Base >= 0 || n.Base >= 0 {
			fill, title = diffColor(c, n), title+diffTitle(c, n)
		}
		fmt.Fprintf(&b, `<g class="fr" data-x="%.6f" data-w="%.6f" data-d="%d"><title>%s</title><rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s" rx="1"/>`,
			x/svgWidth, w/svgWidth, d, html.EscapeString(title), x, y, w, rowHeight-1, fill)
		if label := fit(c.Name, w); label != "" {
			fmt.Fprintf(&b, `<text x="%.2f" y="%d">%s</text>`, x+3, y+rowHeight-5, html.EscapeString(label))
		}
		b.WriteString(`</g>`)
		cx := x
		for _, k := range c.Children {
			draw(k, cx, d+1)
			cx += float64(k.Total) / float64(n.Total) * svgWidth
		}
	}
	draw(n, 0, 0)
	b.WriteString(`</svg>`)
	return b.String()
}

func (n *Node) depth() int {
	d := 0
	for _, c := range n.Children {
		d = max(d, c.depth()+1)
	}
	return d
}

// fit cuts a label to what a frame of w pixels shows (about 7 px a letter).
func fit(name string, w float64) string {
	chars := int((w - 6) / 7)
	switch {
	case chars < 3:
		return ""
	case len(name) <= chars:
		return name
	}
	r := []rune(name)
	if len(r) <= chars {
		return name
	}
	return string(r[:chars-2]) + ".."
}

// color is a warm colour chosen by the name, so a function keeps its
// colour from one graph to the next.
func color(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	v := h.Sum32()
	return fmt.Sprintf("rgb(%d,%d,%d)", 205+v%50, 80+(v>>8)%130, 40+(v>>16)%40)
}

// diffColor colours a frame by the change of its share of the whole:
// full red at +10 points or more, full blue at -10 or less.
func diffColor(c, root *Node) string {
	d := shareDelta(c, root)
	s := math.Min(math.Abs(d)/0.10, 1)
	light := int(235 - 150*s)
	if d >= 0 {
		return fmt.Sprintf("rgb(245,%d,%d)", light, light)
	}
	return fmt.Sprintf("rgb(%d,%d,245)", light, light)
}

func shareDelta(c, root *Node) float64 {
	base := math.Max(c.Base, 0)
	return (float64(c.Total) - base) / float64(root.Total)
}

func diffTitle(c, root *Node) string {
	if c.Base < 0 {
		return " (new)"
	}
	return fmt.Sprintf(" (%+.2f points against the baseline)", 100*shareDelta(c, root))
}
