package results

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden parses every CSV in testdata/ (results-*.csv as KPIs, the rest
// as tables) and compares with its .golden.json. Run with -update after a
// deliberate change, and read the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.csv")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			var got any
			name := filepath.Base(f)
			if strings.HasPrefix(name, "results") {
				kpis, notes := ParseKPIs(name, data)
				got = map[string]any{"kpis": kpis, "notes": notes}
			} else {
				table, notes := ParseTable(name, data)
				got = map[string]any{"table": table, "notes": notes}
			}
			out, err := json.MarshalIndent(got, "", "  ")
			require.NoError(t, err)
			golden := strings.TrimSuffix(f, ".csv") + ".golden.json"
			if *update {
				require.NoError(t, os.WriteFile(golden, append(out, '\n'), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "no golden file; run go test ./internal/results -run TestGolden -update")
			require.JSONEq(t, string(want), string(out))
		})
	}
}

func TestParseTableLarge(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("i,latency_ms,host\n")
	for i := range 100_000 {
		fmt.Fprintf(&b, "%d,%d.5,h%d\n", i, i%97, i%3)
	}
	table, notes := ParseTable("big.csv", []byte(b.String()))
	require.Empty(t, notes)
	require.Len(t, table.Rows, 100_000)
	require.Equal(t, []bool{true, true, false}, table.Numeric)
}

func FuzzParseTable(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n"))
	f.Add([]byte("\xef\xbb\xbfa,\"b,c\"\r\n1,\"x\"\"y\"\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		table, _ := ParseTable("f.csv", data)
		if len(table.Numeric) != len(table.Header) {
			t.Fatalf("numeric flags %d for %d columns", len(table.Numeric), len(table.Header))
		}
		for _, row := range table.Rows {
			if len(row) != len(table.Header) {
				t.Fatalf("row of %d fields kept under a header of %d", len(row), len(table.Header))
			}
		}
	})
}
