package wire

import (
	"fmt"
	"math"
)

// Hardware is the host's hardware fingerprint: what it runs on, not the
// software that changes under it (kernel, OS, governor, agent version are
// left out, so an upgrade keeps a host's baselines). It is the CPU model,
// the CPUs the agent may use, the hardware threads per core and the
// memory rounded to GiB (MemTotal moves by a few MiB between kernels), as
// "AMD EPYC 7B13 · 2 CPUs · 2 threads/core · 8 GiB"; "" for an agent that
// reported no facts. Migration 00027 computes the same string in SQL for
// the tests collated before it: keep the two in step.
func (f Facts) Hardware() string {
	if f.Cores <= 0 {
		return ""
	}
	gib := int64(math.Round(float64(f.MemoryBytes) / (1 << 30)))
	return fmt.Sprintf("%s · %d CPUs · %d threads/core · %d GiB", f.CPUModel, f.Cores, f.ThreadsPerCore, gib)
}

// CPUMigrations is how often the scheduler moved the processes of a
// test's script from one CPU to another while it ran: a run whose
// threads keep moving loses its caches and measures noisier.
type CPUMigrations struct {
	// Host is the execution host the script ran on.
	Host string `json:"host"`
	// Count sums the migrations of every thread of the script's process
	// tree over the kept runs (warm-ups left out); Seconds is how long
	// those runs took, and PerSecond is Count over Seconds.
	Count     int64   `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// Usual is the median rate of the framework's earlier tests on the
	// same hardware that recorded it (0: fewer than MigrationsHistoryMin
	// of them); High says this test's rate is unusually high against it
	// (see MigrationsHigh).
	Usual float64 `json:"usual,omitempty"`
	High  bool    `json:"high,omitempty"`
}

// The rule that calls a test's CPU migrations unusually high
// (docs/noise.md): against at least MigrationsHistoryMin earlier tests of
// the framework on the same hardware, a rate at least MigrationsFactor
// times their median and at least MigrationsMinExcess per second above it.
const (
	MigrationsHistoryMin = 3
	MigrationsFactor     = 3.0
	MigrationsMinExcess  = 10.0
)

// MigrationsHigh applies the rule to a test's rate and the median of the
// earlier tests' rates, given how many there were.
func MigrationsHigh(rate, usual float64, history int) bool {
	return history >= MigrationsHistoryMin && rate >= MigrationsFactor*usual && rate-usual >= MigrationsMinExcess
}

// HardwareOf is the hardware fingerprint of a test that ran on host: the
// one recorded, else the one its host's facts give (a test exported
// before fingerprints had it).
func (fp Fingerprint) HardwareOf(host string) string {
	if fp.Hardware != "" {
		return fp.Hardware
	}
	if h, ok := fp.Hosts[host]; ok {
		return h.Hardware()
	}
	return ""
}
