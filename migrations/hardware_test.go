package migrations

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// TestHardwareMigration applies 00027 to tests collated before it: each
// gets the hardware fingerprint of its execution host's facts, the very
// string wire.Facts.Hardware gives for them (the collation of later tests
// computes it in Go), and a test with no facts gets none.
func TestHardwareMigration(t *testing.T) {
	ctx := context.Background()
	db, p, _ := migratedWithFramework(t, 26)
	facts := wire.Facts{CPUModel: "AMD EPYC 7B13 (50% off, 'quoted')", Cores: 2, ThreadsPerCore: 2, MemoryBytes: 8<<30 - 300<<20}
	fp, err := json.Marshal(wire.Fingerprint{Hosts: map[string]wire.HostFingerprint{"h1": {Facts: facts}, "h2": {}}})
	require.NoError(t, err)
	for id, host := range map[int]string{1: "h1", 2: "h2", 3: ""} {
		_, err := db.ExecContext(ctx, `INSERT INTO tests (id, framework_id, framework_version, state, host, fingerprint)
			VALUES ($1, 1, 1, 'finished', $2, $3)`, id, host, fp)
		require.NoError(t, err)
	}
	_, err = p.UpTo(ctx, 27)
	require.NoError(t, err)
	got := map[int]string{}
	rows, err := db.QueryContext(ctx, `SELECT id, hardware FROM tests ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var id int
		var hw string
		require.NoError(t, rows.Scan(&id, &hw))
		got[id] = hw
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[int]string{1: facts.Hardware(), 2: "", 3: ""}, got)
	require.Equal(t, "AMD EPYC 7B13 (50% off, 'quoted') · 2 CPUs · 2 threads/core · 8 GiB", got[1])

	_, err = p.DownTo(ctx, 26)
	require.NoError(t, err)
}
