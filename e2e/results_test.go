package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/wire"
)

const collectScript = `#!/bin/sh
echo "Key, Value" > results.csv
echo "Latency-ms, 12.5ms" >> results.csv
printf 'Metric,Run1,Run2\nLatency,12ms,13ms\nbroken\nErrors,0,1\n' > multicol.csv
mkdir -p data
echo '{"ok": true}' > data/nested.json
echo '<html><script>alert(1)</script></html>' > report.html
head -c 2097152 /dev/zero > big.bin
ln -s /etc/passwd passwd-link
`

// Every file the script leaves becomes an artifact (regular files only,
// within the caps, refusals noted); CSV files become tables; the test
// carries its environment fingerprint.
func TestArtifactsTablesAndFingerprint(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: collects
execution:
  script: %q
parameters: [{name: size, default: "m"}]
`, collectScript))
	got := st.Run(t, wire.RunRequest{Framework: "collects", Commit: "abc", Branch: "main", Tags: map[string]string{"ci": "1"}})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	stageAt(t, got, "artifacts collected")

	var arts wire.List[wire.Artifact]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/artifacts", got.ID), "", nil, &arts))
	paths := map[string]wire.Artifact{}
	for _, a := range arts.Items {
		paths[a.Path] = a
	}
	for _, p := range []string{"results.csv", "multicol.csv", "data/nested.json", "report.html"} {
		require.Contains(t, paths, p)
	}
	require.NotContains(t, paths, "big.bin", "over the per-file cap")
	require.NotContains(t, paths, "passwd-link", "links are never followed")
	require.Contains(t, got.Notes, "artifact big.bin (2 MiB) refused: over the per-file cap of 1 MiB")
	require.Contains(t, got.Notes, "artifact passwd-link: is a symbolic link; not kept")
	require.Contains(t, got.Notes, "multicol.csv:3: 1 fields where the header has 3; row left out")

	resp := get(t, fmt.Sprintf("%s/api/v1/tests/%d/artifacts/data/nested.json", st.URL, got.ID))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "{\"ok\": true}\n", string(body))
	require.Equal(t, `attachment; filename=nested.json`, resp.Header.Get("Content-Disposition"))
	sum := sha256.Sum256(body)
	require.Equal(t, hex.EncodeToString(sum[:]), paths["data/nested.json"].SHA256)

	resp = get(t, fmt.Sprintf("%s/api/v1/tests/%d/artifacts/report.html", st.URL, got.ID))
	resp.Body.Close()
	require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"), "a test's HTML is never served as a page")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	for _, bad := range []string{"../../etc/passwd", "data/../../x", "%2e%2e/x"} {
		resp = get(t, fmt.Sprintf("%s/api/v1/tests/%d/artifacts/%s", st.URL, got.ID, bad))
		resp.Body.Close()
		require.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, resp.StatusCode, bad)
	}

	var tables wire.List[results.Table]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d/tables", got.ID), "", nil, &tables))
	require.Len(t, tables.Items, 1)
	require.Equal(t, results.Table{Name: "multicol.csv", Header: []string{"Metric", "Run1", "Run2"},
		Rows: [][]string{{"Latency", "12ms", "13ms"}, {"Errors", "0", "1"}}, Numeric: []bool{false, true, true}}, tables.Items[0])

	fp := got.Fingerprint
	require.Contains(t, fp.Hosts, got.Host)
	h := fp.Hosts[got.Host]
	require.Positive(t, h.Cores)
	require.Positive(t, h.MemoryBytes)
	require.NotEmpty(t, h.Kernel)
	require.NotEmpty(t, h.Governor)
	require.Equal(t, "dev", h.AgentVersion)
	script := sha256.Sum256([]byte(collectScript))
	require.Equal(t, hex.EncodeToString(script[:]), fp.ScriptSHA256)
	require.Equal(t, map[string]string{"size": "m"}, fp.Params)
	require.Equal(t, "abc", fp.Commit)
	require.Equal(t, "main", fp.Branch)
	require.Equal(t, map[string]string{"ci": "1"}, fp.Tags)
}

// The framework declares each KPI's unit: a results.csv line without one
// takes it (in the API, the starter and the test page); a line with
// another unit keeps it, not converted, and the test says so in a note.
func TestDeclaredUnitsApply(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: declared-units
execution:
  script: |
    #!/bin/sh
    echo "Key, Value" > results.csv
    echo "Throughput, 1200" >> results.csv
    echo "Latency, 0.012s" >> results.csv
kpis:
  - {name: Throughput, unit: tx/s, better: higher, threshold: 3%}
  - {name: Latency, unit: ms, better: lower}
`)
	got := st.Run(t, wire.RunRequest{Framework: "declared-units", Branch: "main"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)

	units, values := map[string]string{}, map[string]float64{}
	for _, k := range got.KPIs {
		units[k.Name], values[k.Name] = k.Unit, k.Value
	}
	require.Equal(t, map[string]string{"Throughput": "tx/s", "Latency": "s"}, units)
	require.Equal(t, map[string]float64{"Throughput": 1200, "Latency": 0.012}, values, "no value is converted")
	note := `results.csv:3: Latency: unit "s" differs from the declared "ms"; kept as written, not converted`
	require.Contains(t, got.Notes, note)

	r := starter(t, "results", itoa(got.ID))
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Regexp(t, `Throughput\s+1200\s+tx/s\s`, r.Stdout)
	require.Contains(t, r.Stdout, "note: "+note)

	resp, body := page(t, fmt.Sprintf("/tests/%d", got.ID))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "tx/s")
	require.Contains(t, body, `differs from the declared &#34;ms&#34;`)
}
