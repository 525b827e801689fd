package central

import (
	"context"
	"fmt"
	"slices"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/workflows/contract"
)

// migrationsHistory is how many earlier tests' rates the usual rate of
// CPU migrations is the median of.
const migrationsHistory = 20

// migrations is a test's CPU migrations for its fingerprint, with the
// usual rate of the framework's earlier tests (same parameters, same
// hardware) and whether this one is unusually high (wire.MigrationsHigh);
// a high one gets a note. Nil when the agent counted none.
func (a *Activities) migrations(ctx context.Context, in contract.CollateInput, hardware string) (*wire.CPUMigrations, error) {
	m := in.Migrations
	if m == nil {
		return nil, nil
	}
	out := &wire.CPUMigrations{Host: m.Host, Count: m.Count, Seconds: m.Seconds}
	if m.Seconds > 0 {
		out.PerSecond = float64(m.Count) / m.Seconds
	}
	rates, err := a.Store.MigrationRates(ctx, in.TestID, hardware, migrationsHistory)
	if err != nil {
		return nil, fmt.Errorf("CPU migrations of earlier tests: %w", err)
	}
	if len(rates) >= wire.MigrationsHistoryMin {
		out.Usual = median(rates)
		out.High = wire.MigrationsHigh(out.PerSecond, out.Usual, len(rates))
	}
	var flags []string // replaced even when empty: a retried collation says it once
	if out.High {
		flags = append(flags, fmt.Sprintf("CPU migrations: the script's threads moved between CPUs %d times on %s (%.1f/s), "+
			"%.1f× the usual %.1f/s of the framework's last %d tests on this hardware: its figures may be noisy",
			out.Count, out.Host, out.PerSecond, out.PerSecond/max(out.Usual, 1e-9), out.Usual, len(rates)))
	}
	if err := a.Store.NotesReplace(ctx, in.TestID, "migrations", flags); err != nil {
		return nil, fmt.Errorf("store CPU migration notes of test %d: %w", in.TestID, err)
	}
	return out, nil
}

// median is the middle of xs (the mean of the two middle ones).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
