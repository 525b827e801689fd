package store

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChunkEncodeDecode(t *testing.T) {
	t.Parallel()
	t0 := int64(1_790_000_000_123)
	ts := []int64{t0, t0 + 1000, t0 + 1999, t0 + 1999, t0 + 3000}
	vals := []float64{1.5, 2, 0.1, -7, 1e9}
	dts, v, n := chunkEncode(ts, vals, nil, nil)
	require.Equal(t, 5, n)
	require.Equal(t, []int32{0, 1000, 999, 0, 1001}, dts)
	require.Equal(t, []float32{1.5, 2, 0.1, -7, 1e9}, v, "values as real")
	require.Equal(t, ts, chunkDecode(t0, dts))

	// A gap no integer holds ends the chunk before it.
	gap := []int64{t0, t0 + 5, t0 + 5 + math.MaxInt32 + 1, t0 + 6 + math.MaxInt32 + 1}
	dts, _, n = chunkEncode(gap, make([]float64, 4), dts, v)
	require.Equal(t, 2, n)
	require.Equal(t, []int32{0, 5}, dts)
	_, _, n = chunkEncode(gap[2:], make([]float64, 2), dts, v)
	require.Equal(t, 2, n)

	// At most maxChunk points a chunk.
	long := make([]int64, maxChunk+10)
	for i := range long {
		long[i] = t0 + int64(i)*1000
	}
	_, _, n = chunkEncode(long, make([]float64, len(long)), nil, nil)
	require.Equal(t, maxChunk, n)
}
