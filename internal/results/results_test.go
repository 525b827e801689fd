package results

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		value float64
		unit  string
	}{
		{"12.5ms", 12.5, "ms"},
		{"3.2k", 3200, ""},
		{"99%", 99, "%"},
		{"1.5GB", 1.5, "GB"},
		{"42", 42, ""},
		{"-0.5", -0.5, ""},
		{"1e3", 1000, ""},
		{"2.5E-3 s", 0.0025, "s"},
		{" 7 req/s ", 7, "req/s"},
		{".5", 0.5, ""},
		{"1_000", 1000, ""},
		{"4M", 4e6, ""},
	}
	for _, c := range cases {
		v, u, err := ParseValue(c.in)
		require.NoError(t, err, c.in)
		require.InDelta(t, c.value, v, 1e-9, c.in)
		require.Equal(t, c.unit, u, c.in)
	}
	for _, bad := range []string{"", "abc", "ms12", "NaN", "Inf", "-", "."} {
		_, _, err := ParseValue(bad)
		require.Error(t, err, bad)
	}
}

func TestParseKPIs(t *testing.T) {
	t.Parallel()
	in := "\xef\xbb\xbfKey, Value\r\nLatency-ms, 12.5ms\r\n\r\nThroughput,3.2k\nbroken line\nErrors, lots\n\"Quoted, key\", 99%\nLatency-ms, 13ms\n, 5\n"
	kpis, notes := ParseKPIs("results.csv", []byte(in))
	require.Equal(t, []KPI{
		{Name: "Latency-ms", Value: 13, Unit: "ms", Raw: "13ms", Line: 8},
		{Name: "Throughput", Value: 3200, Raw: "3.2k", Line: 4},
		{Name: "Quoted, key", Value: 99, Unit: "%", Raw: "99%", Line: 7},
	}, kpis)
	var got []string
	for _, n := range notes {
		got = append(got, n.String())
	}
	require.Equal(t, []string{
		`results.csv:5: want "Key, Value", got "broken line"`,
		`results.csv:6: Errors: "lots" is not a number`,
		`results.csv:8: Latency-ms: repeated key; this value replaces the earlier one`,
		`results.csv:9: empty key`,
	}, got)
}

func TestParseKPIsWithoutHeader(t *testing.T) {
	t.Parallel()
	kpis, notes := ParseKPIs("results.csv", []byte("a,1\nb,2\n"))
	require.Empty(t, notes)
	require.Len(t, kpis, 2)
}

func TestParseKPIsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range MaxKPIs + 5 {
		fmt.Fprintf(&b, "k%d, %d\n", i, i)
	}
	kpis, notes := ParseKPIs("results.csv", []byte(b.String()))
	require.Len(t, kpis, MaxKPIs)
	require.Len(t, notes, 1)
	require.Contains(t, notes[0].Msg, "the rest are ignored")
}

func FuzzParseKPIs(f *testing.F) {
	f.Add([]byte("Key, Value\nLatency, 12.5ms\n"))
	f.Add([]byte("\"a,b\",\"1\"\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kpis, _ := ParseKPIs("results.csv", data)
		for _, k := range kpis {
			if k.Name == "" {
				t.Fatalf("empty KPI name from %q", data)
			}
		}
	})
}

func BenchmarkParseKPIs(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("Key, Value\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "Latency-p%d, %d.5ms\n", i, i)
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ParseKPIs("results.csv", data)
	}
}
