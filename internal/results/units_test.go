package results

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApplyUnits(t *testing.T) {
	t.Parallel()
	in := "Key, Value\nThroughput, 1200\nLatency, 1.5s\nErrors, 0\nMemory, 3.2k\nCPU, 80%\nDisk, 5 MB\n"
	kpis, notes := ParseKPIs("results.2.csv", []byte(in))
	require.Empty(t, notes)
	declared := map[string]string{
		"Throughput": "tx/s", // no unit given: the declared one
		"Latency":    "ms",   // another unit given: kept, and noted
		"Memory":     " KiB", // a bare multiplier is no unit
		"CPU":        "%",    // the same unit: nothing to say
		"Disk":       "",     // declared without a unit: as given
		"Missing":    "ms",   // declared but not reported: nothing here
	}
	notes = ApplyUnits("results.2.csv", kpis, declared)
	require.Equal(t, []KPI{
		{Name: "Throughput", Value: 1200, Unit: "tx/s", Raw: "1200", Line: 2},
		{Name: "Latency", Value: 1.5, Unit: "s", Raw: "1.5s", Line: 3},
		{Name: "Errors", Value: 0, Raw: "0", Line: 4},
		{Name: "Memory", Value: 3200, Unit: "KiB", Raw: "3.2k", Line: 5},
		{Name: "CPU", Value: 80, Unit: "%", Raw: "80%", Line: 6},
		{Name: "Disk", Value: 5, Unit: "MB", Raw: "5 MB", Line: 7},
	}, kpis)
	require.Len(t, notes, 1)
	require.Equal(t, `results.2.csv:3: Latency: unit "s" differs from the declared "ms"; kept as written, not converted`, notes[0].String())
}

// Units are compared exactly: "MB" and "mb" may be bytes and bits, and
// guessing either way would hide a change in the script.
func TestApplyUnitsComparesExactly(t *testing.T) {
	t.Parallel()
	kpis := []KPI{{Name: "Size", Value: 5, Unit: "mb", Raw: "5mb"}}
	notes := ApplyUnits("results.csv", kpis, map[string]string{"Size": "MB", "size": "kB"})
	require.Equal(t, "mb", kpis[0].Unit)
	require.Len(t, notes, 1)
	require.Equal(t, `results.csv: Size: unit "mb" differs from the declared "MB"; kept as written, not converted`, notes[0].String(),
		"a KPI with no known line is noted against its file")
	require.Empty(t, ApplyUnits("results.csv", nil, map[string]string{"Size": "MB"}))
}
