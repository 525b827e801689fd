package trends

import (
	"slices"
	"testing"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/store"
)

// TestOnLines places each point on the line of its branch and exact
// parameter set, and no point on a line of another set.
func TestOnLines(t *testing.T) {
	t.Parallel()
	a := []framework.Param{{Name: "n", Value: "1"}, {Name: "mode", Value: "fast"}}
	b := []framework.Param{{Name: "n", Value: "1"}}
	lines := []line{{Key: lineKey("main", a)}, {Key: lineKey("main", b)}, {Key: lineKey("", nil)}}
	points := []store.TrendPoint{
		{Branch: "main", Params: slices.Clone(a)},
		{Branch: "main", Params: b},
		{Branch: "dev", Params: a}, // a branch not drawn
		{Branch: ""},               // no branch, no parameters
		{Branch: "main", Params: []framework.Param{{Name: "n", Value: "1, mode=fast"}}}, // not set a
	}
	if got, want := onLines(points, lines), []int{0, 1, -1, 2, -1}; !slices.Equal(got, want) {
		t.Fatalf("onLines = %v, want %v", got, want)
	}
}
