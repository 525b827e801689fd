package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/results"
)

// putTable stores a table of n rows (as the CSV artifact it came from).
func putTable(t testing.TB, s *Store, id int64, name string, n int) results.Table {
	t.Helper()
	tb := results.Table{Name: name, Header: []string{"i", "label"}, Numeric: []bool{true, false}, Rows: [][]string{}}
	for i := range n {
		tb.Rows = append(tb.Rows, []string{fmt.Sprint(i), fmt.Sprintf("row %d", i)})
	}
	require.NoError(t, s.ArtifactPut(context.Background(), id, Artifact{Path: name, SHA256: "x", ContentType: "text/csv"},
		nil, &tb, nil))
	return tb
}

// A page asks for the first rows of each table: it gets them and the
// count, never the rest.
func TestTableHeads(t *testing.T) {
	t.Parallel()
	s, id := setup(t)
	ctx := context.Background()
	big := putTable(t, s, id, "big.csv", 120)
	putTable(t, s, id, "empty.csv", 0)
	small := putTable(t, s, id, "small.csv", 3)

	heads, err := s.TableHeads(ctx, id, 50)
	require.NoError(t, err)
	require.Len(t, heads, 3)
	require.Equal(t, "big.csv", heads[0].Name)
	require.Equal(t, 120, heads[0].RowCount)
	require.Equal(t, big.Rows[:50], heads[0].Rows)
	require.Equal(t, big.Header, heads[0].Header)
	require.Equal(t, big.Numeric, heads[0].Numeric)
	require.Equal(t, 0, heads[1].RowCount)
	require.Empty(t, heads[1].Rows)
	require.Equal(t, small.Rows, heads[2].Rows)
	require.Equal(t, 3, heads[2].RowCount)

	heads, err = s.TableHeads(ctx, id, 0)
	require.NoError(t, err)
	require.Empty(t, heads[0].Rows)
	require.Equal(t, 120, heads[0].RowCount)

	// The export's form of a table is the table.
	names, err := s.TableNames(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"big.csv", "empty.csv", "small.csv"}, names)
	raw, err := s.TableJSON(ctx, id, "big.csv")
	require.NoError(t, err)
	var back results.Table
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Equal(t, big, back)
	_, err = s.TableJSON(ctx, id, "none.csv")
	require.ErrorIs(t, err, ErrNotFound)
}
