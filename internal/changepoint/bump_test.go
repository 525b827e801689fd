package changepoint

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A level that lasts 8 runs and then ends: the change that began it is
// reported from its 5th run on and is not withdrawn while the runs after
// it are still too few to be a level of their own.
func TestAChangeStaysWhileTheLevelItBeganEnds(t *testing.T) {
	t.Parallel()
	var x []float64
	for i := range 30 {
		v := 100 + float64(i%3) - 1
		if i >= 10 && i < 18 {
			v += 20
		}
		x = append(x, v)
	}
	o := Defaults
	o.MinDeltaPct = 5
	var known []Point
	for n := 2 * o.MinSize; n <= len(x); n++ {
		known = Append(x[:n], known, o)
		if n >= 15 {
			require.NotEmpty(t, known, "%d runs", n)
			require.Equal(t, 10, known[0].Index, "%d runs", n)
		}
	}
	require.Len(t, known, 2)
	require.Equal(t, 18, known[1].Index)
	require.Equal(t, Detect(x, o), known)
}
