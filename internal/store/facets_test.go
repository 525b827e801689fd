package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// The test list's dropdowns hold the framework names and branches of the
// teams' tests only, sorted; a name used in two teams once; a framework
// or branch without tests of those teams not at all.
func TestTestFacetsOfTheTeams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fw := func(team, name string) {
		t.Helper()
		_, err := testPool.Exec(ctx, `WITH f AS (INSERT INTO frameworks (team, name, current_version) VALUES ($1, $2, 1) RETURNING id)
			INSERT INTO framework_versions (framework_id, version, spec, digest) SELECT id, 1, '{}', '' FROM f`, team, name)
		require.NoError(t, err)
	}
	test := func(team, name, branch string) {
		t.Helper()
		_, err := testPool.Exec(ctx, `INSERT INTO tests (framework_id, framework_version, state, branch)
			SELECT id, 1, 'finished', $3 FROM frameworks WHERE team = $1 AND name = $2`, team, name, branch)
		require.NoError(t, err)
	}
	fw("facets-a", "facet-zeta")
	fw("facets-a", "facet-alpha")
	fw("facets-b", "facet-alpha")
	fw("facets-b", "facet-beta")
	fw("facets-a", "facet-unused")
	test("facets-a", "facet-zeta", "facet-main")
	test("facets-a", "facet-alpha", "facet-feature")
	test("facets-a", "facet-alpha", "")
	test("facets-b", "facet-alpha", "facet-b-only")
	test("facets-b", "facet-beta", "facet-main")
	s := New(testPool)

	frameworks, branches, err := s.TestFacets(ctx, []string{"facets-a"}, false)
	require.NoError(t, err)
	require.Equal(t, []string{"facet-alpha", "facet-zeta"}, frameworks)
	require.Equal(t, []string{"facet-feature", "facet-main"}, branches)

	frameworks, branches, err = s.TestFacets(ctx, []string{"facets-a", "facets-b"}, false)
	require.NoError(t, err)
	require.Equal(t, []string{"facet-alpha", "facet-beta", "facet-zeta"}, frameworks)
	require.Equal(t, []string{"facet-b-only", "facet-feature", "facet-main"}, branches)

	frameworks, branches, err = s.TestFacets(ctx, nil, true)
	require.NoError(t, err)
	require.Subset(t, frameworks, []string{"facet-alpha", "facet-beta", "facet-zeta"})
	require.NotContains(t, frameworks, "facet-unused")
	require.Subset(t, branches, []string{"facet-b-only", "facet-feature", "facet-main"})
	require.NotContains(t, branches, "")
	require.IsIncreasing(t, frameworks)
	require.IsIncreasing(t, branches)
}
