package framework

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatisticsOff(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte("name: x\nexecution: {script: x}\nstatistics: {off: true}\n"))
	require.NoError(t, err)
	require.True(t, f.Statistics.Off)
	require.Zero(t, f.Statistics.Interval, "no interval is defaulted when nothing is sampled")

	out, err := f.YAML()
	require.NoError(t, err)
	g, err := Parse(out)
	require.NoError(t, err, string(out))
	require.True(t, g.Statistics.Off, "off survives the round trip")
	require.Equal(t, f.Digest(), g.Digest())

	on, err := Parse([]byte("name: x\nexecution: {script: x}\n"))
	require.NoError(t, err)
	require.NotEqual(t, on.Digest(), f.Digest(), "monitoring off is another framework")
	require.NotContains(t, string(mustJSON(t, on)), `"off"`, "frameworks without the switch keep their JSON (and digest)")
}

func TestStatisticsOffRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ yaml, field, want string }{
		"with hosts":    {"name: x\nexecution: {script: x}\nstatistics: {off: true, hosts: [a]}\n", "statistics.off", "hosts or off, not both"},
		"with interval": {"name: x\nexecution: {script: x}\nstatistics: {off: true, interval: 1s}\n", "statistics.off", "interval or off, not both"},
		"not a bool":    {"name: x\nexecution: {script: x}\nstatistics: {off: maybe}\n", "", "cannot unmarshal"},
		"short":         {"name: x\nexecution: {script: x}\nstatistics: {interval: 10ms}\n", "statistics.interval", "too short"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.yaml))
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			if c.field != "" {
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				require.Equal(t, c.field, fe.Field)
			}
		})
	}
}

func mustJSON(t *testing.T, f *Framework) []byte {
	t.Helper()
	b, err := json.Marshal(f)
	require.NoError(t, err)
	return b
}
