package hostinfo

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadThisHost(t *testing.T) {
	t.Parallel()
	f := Read()
	require.Equal(t, runtime.NumCPU(), f.Cores)
	require.Positive(t, f.MemoryBytes)
	require.NotEqual(t, "unknown", f.Kernel)
	require.NotEmpty(t, f.CPUModel)
	require.GreaterOrEqual(t, f.ThreadsPerCore, 1)
	require.NotEmpty(t, f.Governor)
	require.NotEmpty(t, f.OS)
}
