package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A test list filtered by framework name lists the tests of every
// framework of that name the teams may see (two teams may each have one),
// newest first, paged by the cursor; a name no framework has lists none.
func TestTestListByFrameworkName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fw := func(team, name string) {
		t.Helper()
		_, err := testPool.Exec(ctx, `WITH f AS (INSERT INTO frameworks (team, name, current_version) VALUES ($1, $2, 1) RETURNING id)
			INSERT INTO framework_versions (framework_id, version, spec, digest) SELECT id, 1, '{}', '' FROM f`, team, name)
		require.NoError(t, err)
	}
	test := func(team, name string) int64 {
		t.Helper()
		var id int64
		require.NoError(t, testPool.QueryRow(ctx, `INSERT INTO tests (framework_id, framework_version, state)
			SELECT id, 1, 'finished' FROM frameworks WHERE team = $1 AND name = $2 RETURNING id`, team, name).Scan(&id))
		return id
	}
	fw("list-a", "list-shared")
	fw("list-b", "list-shared")
	fw("list-a", "list-other")
	a1 := test("list-a", "list-shared")
	test("list-a", "list-other")
	b1 := test("list-b", "list-shared")
	a2 := test("list-a", "list-shared")
	s := New(testPool)
	ids := func(f TestFilter) []int64 {
		t.Helper()
		list, err := s.TestList(ctx, f)
		require.NoError(t, err)
		out := []int64{}
		for _, x := range list {
			require.Equal(t, f.Framework, x.Framework)
			out = append(out, x.ID)
		}
		return out
	}
	require.Equal(t, []int64{a2, b1, a1}, ids(TestFilter{Framework: "list-shared", AllTeams: true}), "both teams' frameworks, newest first")
	require.Equal(t, []int64{a2, a1}, ids(TestFilter{Framework: "list-shared", Teams: []string{"list-a"}}), "the team's only")
	require.Equal(t, []int64{b1}, ids(TestFilter{Framework: "list-shared", Teams: []string{"list-b"}}))
	require.Equal(t, []int64{a2, b1}, ids(TestFilter{Framework: "list-shared", AllTeams: true, Limit: 2}))
	require.Equal(t, []int64{a1}, ids(TestFilter{Framework: "list-shared", AllTeams: true, Before: b1}), "the next page")
	require.Equal(t, []int64{}, ids(TestFilter{Framework: "list-none", AllTeams: true}), "no framework of that name")
}
