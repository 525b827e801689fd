package hostinfo

import (
	"os"
	"path/filepath"
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

// Turbo is read from intel_pstate's no_turbo (1 means off) or cpufreq's
// boost (1 means on), whichever the host has; neither says nothing.
func TestTurbo(t *testing.T) {
	t.Parallel()
	dir := func(files map[string]string) string {
		d := t.TempDir()
		for name, body := range files {
			require.NoError(t, os.MkdirAll(filepath.Join(d, filepath.Dir(name)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(d, name), []byte(body), 0o644))
		}
		return d
	}
	require.Equal(t, "off", turbo(dir(map[string]string{"intel_pstate/no_turbo": "1\n"})))
	require.Equal(t, "on", turbo(dir(map[string]string{"intel_pstate/no_turbo": "0\n", "cpufreq/boost": "0\n"})))
	require.Equal(t, "on", turbo(dir(map[string]string{"cpufreq/boost": "1\n"})))
	require.Equal(t, "off", turbo(dir(map[string]string{"cpufreq/boost": "0\n"})))
	require.Equal(t, "", turbo(dir(nil)))
}
