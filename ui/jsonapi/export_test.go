package jsonapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service/tests"
)

// seq2 yields values with no error, then err if it is not nil.
func seq2[T any](vs []T, err error) func(func(T, error) bool) {
	return func(yield func(T, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
		if err != nil {
			var zero T
			yield(zero, err)
		}
	}
}

// The export written a piece at a time is the document wire.Export
// describes, every field of it; a failure partway is reported, not hidden.
func TestWriteExportIsTheWholeDocument(t *testing.T) {
	t.Parallel()
	table := results.Table{Name: "t.csv", Header: []string{"a"}, Rows: [][]string{{"1"}, {"2"}}, Numeric: []bool{true}}
	raw, err := json.Marshal(table)
	require.NoError(t, err)
	want := wire.Export{Format: wire.ExportFormat,
		Framework: wire.FrameworkInfo{Version: 3},
		Test:      wire.Test{ID: 7, State: "finished", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		Tables:    []results.Table{table, table},
		Series:    []wire.Series{{Host: "h", Metric: "cpu", TS: []int64{1, 2}, Values: []float64{0.5, 1}}, {Host: "h", Metric: "mem", TS: []int64{}, Values: []float64{}}}}
	ex := &tests.Export{Head: wire.Export{Format: want.Format, Framework: want.Framework, Test: want.Test},
		Tables: seq2([]json.RawMessage{raw, raw}, nil), Series: seq2(want.Series, nil)}
	var buf bytes.Buffer
	require.NoError(t, writeExport(&buf, ex))
	var got wire.Export
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&got))
	require.Equal(t, want, got)

	// The same keys as the document marshalled whole: a field added to
	// wire.Export must be written here too.
	keys := func(b []byte) []string {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(b, &m))
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	whole, err := json.Marshal(want)
	require.NoError(t, err)
	buf.Reset()
	ex.Tables, ex.Series = seq2([]json.RawMessage{}, nil), seq2([]wire.Series{}, nil)
	require.NoError(t, writeExport(&buf, ex))
	require.Equal(t, keys(whole), keys(buf.Bytes()))

	boom := errors.New("database went away")
	ex.Series = seq2(want.Series[:1], boom)
	require.ErrorIs(t, writeExport(&bytes.Buffer{}, ex), boom)
}
