package units

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// Case is one value the Go formatter and its JavaScript twin must print alike.
type Case struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Want  string  `json:"want"`
}

func TestFormatSharedCases(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/cases.json")
	require.NoError(t, err)
	var cases []Case
	require.NoError(t, json.Unmarshal(b, &cases))
	require.NotEmpty(t, cases)
	for _, c := range cases {
		require.Equal(t, c.Want, Format(c.Value, c.Unit), "Format(%v, %q)", c.Value, c.Unit)
	}
}

func TestFormatNeverUsesExponents(t *testing.T) {
	t.Parallel()
	for _, unit := range []string{"", "ns", "ms", "s", "B", "%", "req/s"} {
		for e := -12; e <= 18; e++ {
			for _, m := range []float64{1, 2.5, 9.999} {
				s := Format(m*math.Pow(10, float64(e)), unit)
				require.NotContains(t, s, "e+", "%v %s", m*math.Pow(10, float64(e)), unit)
				require.NotContains(t, s, "e-", "%v %s", m*math.Pow(10, float64(e)), unit)
				require.LessOrEqual(t, len([]rune(s)), 22, s)
			}
		}
	}
}

func TestFormatSpecialValues(t *testing.T) {
	t.Parallel()
	require.Equal(t, "—", Format(math.NaN(), "ms"))
	require.Equal(t, "∞", Format(math.Inf(1), ""))
	require.Equal(t, "-1.5 ms", Format(-1500, "µs"))
}

func TestDelta(t *testing.T) {
	t.Parallel()
	require.Equal(t, "+51.2%", Delta(51.23))
	require.Equal(t, "-0.35%", Delta(-0.3512))
	require.Equal(t, "+0%", Delta(0))
	require.Equal(t, "+150%", Delta(149.7))
}

func TestParse(t *testing.T) {
	t.Parallel()
	k, f, per := Parse("MiB/s")
	require.Equal(t, Bytes, k)
	require.Equal(t, float64(1<<20), f)
	require.Equal(t, "/s", per)
	k, f, _ = Parse("us")
	require.Equal(t, Time, k)
	require.Equal(t, 1e3, f)
	k, _, _ = Parse("requests")
	require.Equal(t, Count, k)
}
