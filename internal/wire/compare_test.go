package wire

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/framework"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	host := func(cpu string) Fingerprint {
		return Fingerprint{Hosts: map[string]HostFingerprint{"h": {Facts: Facts{CPUModel: cpu, Kernel: "6.1"}}}}
	}
	a := Test{ID: 1, Host: "h", Fingerprint: host("EPYC"), Params: []framework.Param{{Name: "n", Value: "1"}},
		KPIs: []KPI{{Name: "lat", Value: 10, Unit: "ms", Iteration: 1}, {Name: "lat", Value: 12, Unit: "ms", Iteration: 2}, {Name: "rps", Value: 100}}}
	b := Test{ID: 2, Host: "h", Fingerprint: host("Xeon"), Params: []framework.Param{{Name: "n", Value: "2"}},
		KPIs: []KPI{{Name: "lat", Value: 13.2, Unit: "ms"}}}
	c := Compare([]Test{a, b})
	require.Len(t, c.KPIs, 2)
	lat := c.KPIs[0]
	require.Equal(t, "lat", lat.Name)
	require.InDelta(t, 11, *lat.Values[0], 1e-9, "the mean over iterations")
	require.InDelta(t, 13.2, *lat.Values[1], 1e-9)
	require.InDelta(t, 0, *lat.DeltaPct[0], 1e-9)
	require.InDelta(t, 20, *lat.DeltaPct[1], 1e-9)
	require.Nil(t, c.KPIs[1].Values[1], "test 2 has no rps")
	require.Equal(t, []CompareDiff{
		{What: "CPU model", Values: []string{"EPYC", "Xeon"}},
		{What: "parameter n", Values: []string{"1", "2"}},
	}, c.Diffs)
}
