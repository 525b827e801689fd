package containers_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/containers"
)

func TestFromStatsCgroupV1AndV2(t *testing.T) {
	t.Parallel()
	const v1 = `{"read":"2026-11-26T06:00:01Z",
	 "cpu_stats":{"cpu_usage":{"total_usage":1500000000},"system_cpu_usage":12000000000,"online_cpus":2,
	   "throttling_data":{"periods":10,"throttled_periods":4,"throttled_time":250000000}},
	 "precpu_stats":{"cpu_usage":{"total_usage":1000000000},"system_cpu_usage":10000000000,"online_cpus":2},
	 "memory_stats":{"usage":10485760,"stats":{"cache":4194304,"total_inactive_file":3145728}},
	 "networks":{"eth0":{"rx_bytes":100,"tx_bytes":200},"eth1":{"rx_bytes":1,"tx_bytes":2}},
	 "blkio_stats":{"io_service_bytes_recursive":[{"op":"Read","value":4096},{"op":"Write","value":8192},{"op":"Total","value":12288}]}}`
	var s container.StatsResponse
	require.NoError(t, json.Unmarshal([]byte(v1), &s))
	got, ok := containers.FromStats("sut", &s)
	require.True(t, ok)
	require.Equal(t, containers.Sample{Container: "sut", Time: time.Date(2026, 11, 26, 6, 0, 1, 0, time.UTC),
		CPUPercent: 50, ThrottledNs: 250000000, MemoryBytes: 10485760 - 3145728,
		NetRxBytes: 101, NetTxBytes: 202, BlockRead: 4096, BlockWrite: 8192}, got)

	// cgroup v2: inactive_file, lower-case ops.
	s.MemoryStats = container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"inactive_file": 400}}
	s.BlkioStats.IoServiceBytesRecursive = []container.BlkioStatEntry{{Op: "read", Value: 5}, {Op: "write", Value: 6}}
	got, _ = containers.FromStats("sut", &s)
	require.Equal(t, uint64(600), got.MemoryBytes)
	require.Equal(t, [2]uint64{5, 6}, [2]uint64{got.BlockRead, got.BlockWrite})

	// The stream's first record has no previous CPU reading.
	s.PreCPUStats = container.CPUStats{}
	_, ok = containers.FromStats("sut", &s)
	require.False(t, ok)
}
