package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/internal/wire"
)

// tokenPage fetches a page with a token and returns status and body.
func tokenPage(t *testing.T, token, method, path, form string) (int, string) {
	t.Helper()
	ctype := ""
	if form != "" {
		ctype = "application/x-www-form-urlencoded"
	}
	return as(t, token, method, path, ctype, form)
}

// rowIDs lists the test IDs of a page's rows marked data-test, in order.
func rowIDs(html string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`data-test="(\d+)"`).FindAllStringSubmatch(html, -1) {
		out = append(out, m[1])
	}
	return out
}

// cmpFramework is a framework whose latency (or failure) comes from a file
// the test writes, with one parameter p.
func cmpFramework(t *testing.T, name, valueFile, team string) {
	t.Helper()
	teamLine := ""
	if team != "" {
		teamLine = "team: " + team + "\n"
	}
	st.Apply(t, fmt.Sprintf(`name: %s
%sexecution:
  script: |
    #!/bin/sh
    v=$(cat %s)
    [ "$v" = fail ] && exit 1
    echo "Latency-ms, ${v}ms" > results.csv
kpis:
  - {name: Latency-ms, unit: ms, better: lower, threshold: 5%%}
parameters: [{name: p, default: "1"}]
`, name, teamLine, valueFile))
}

// Filters narrow the search as the API's do; rows carry state and verdict
// badges; a page of results links to the next one.
func TestSearchPageFilters(t *testing.T) {
	t.Parallel()
	values := filepath.Join(testenv.ScriptDir(t), "values")
	cmpFramework(t, "cmp-search", values, "")
	setValues(t, values, "100")
	mainRun := st.Run(t, wire.RunRequest{Framework: "cmp-search", Branch: "main", Commit: "abc123"})
	feat := st.Run(t, wire.RunRequest{Framework: "cmp-search", Branch: "feat", Commit: "def456", Tags: map[string]string{"suite": "nightly"}})
	setValues(t, values, "fail")
	failed := st.Run(t, wire.RunRequest{Framework: "cmp-search", Branch: "main"})
	require.Equal(t, wire.StateFailed, failed.State)
	id := func(t *wire.Test) string { return fmt.Sprint(t.ID) }

	code, html := tokenPage(t, st.Token, "GET", "/tests?framework=cmp-search", "")
	require.Equal(t, 200, code)
	require.Equal(t, []string{id(failed), id(feat), id(mainRun)}, rowIDs(html), "newest first, only this framework")
	require.Contains(t, html, `<span class="state state-failed">failed</span>`)
	require.Contains(t, html, `<span class="badge verdict-no-baseline" title="verdict">no-baseline</span>`)

	for _, c := range []struct {
		query string
		want  []string
	}{
		{"&branch=feat", []string{id(feat)}},
		{"&state=failed", []string{id(failed)}},
		{"&state=finished&branch=main", []string{id(mainRun)}},
		{"&commit=def", []string{id(feat)}},
		{"&tag=suite=nightly", []string{id(feat)}},
		{"&tag=suite", []string{id(feat)}},
		{"&tag=suite=weekly", nil},
		{"&from=2000-01-01&to=2000-01-02", nil},
		{"&owner=" + url.QueryEscape(mainRun.Owner) + "&branch=main", []string{id(failed), id(mainRun)}},
		{"&owner=cmp-nobody", nil},
	} {
		code, html := tokenPage(t, st.Token, "GET", "/tests?framework=cmp-search"+c.query, "")
		require.Equal(t, 200, code, c.query)
		require.Equal(t, c.want, rowIDs(html), c.query)
	}

	// Cursor paging as the API does it.
	_, html = tokenPage(t, st.Token, "GET", "/tests?framework=cmp-search&limit=2", "")
	require.Equal(t, []string{id(failed), id(feat)}, rowIDs(html))
	next := regexp.MustCompile(`id="next-page" href="([^"]+)"`).FindStringSubmatch(html)
	require.NotNil(t, next, "a full page links to the next")
	_, html = tokenPage(t, st.Token, "GET", strings.ReplaceAll(next[1], "&amp;", "&"), "")
	require.Equal(t, []string{id(mainRun)}, rowIDs(html))

	code, html = tokenPage(t, st.Token, "GET", "/tests?state=bogus", "")
	require.Equal(t, 400, code)
	require.Contains(t, html, `state &#34;bogus&#34; is not one of`)
}

// cmpUser makes a user with a role in team cmp-team and returns a token.
func cmpUser(t *testing.T, name string, role auth.Role) string {
	t.Helper()
	ctx := context.Background()
	s := store.New(st.Pool)
	require.NoError(t, ignoreExists(s.TeamCreate(ctx, "cmp-team")))
	hash, err := auth.HashPassword("cmp test password")
	require.NoError(t, err)
	id, err := s.UserCreate(ctx, name, hash, false)
	require.NoError(t, err)
	require.NoError(t, s.MembershipSet(ctx, "cmp-team", id, role))
	plain, h := auth.NewToken(auth.UserTokenPrefix)
	_, err = s.TokenCreate(ctx, store.NewToken{Hash: h, Name: name, Kind: auth.KindUser, UserID: id, Team: "cmp-team", Role: role})
	require.NoError(t, err)
	return plain
}

// A batch delete deletes exactly the selected tests the user may delete;
// a viewer is refused and told why.
func TestSearchPageBatchDelete(t *testing.T) {
	t.Parallel()
	viewer := cmpUser(t, "cmp-viewer", auth.Viewer)
	values := filepath.Join(testenv.ScriptDir(t), "values")
	setValues(t, values, "100")
	cmpFramework(t, "cmp-delete", values, "cmp-team")
	var tests []*wire.Test
	for range 3 {
		tests = append(tests, st.Run(t, wire.RunRequest{Framework: "cmp-delete", Team: "cmp-team", Branch: "main"}))
	}
	a, b, c := tests[0].ID, tests[1].ID, tests[2].ID
	exists := func(id int64) bool {
		return st.Call(t, "GET", fmt.Sprintf("/api/v1/tests/%d", id), "", nil, nil) == 200
	}

	// The viewer sees the tests but may delete none of them.
	code, html := tokenPage(t, viewer, "GET", "/tests?framework=cmp-delete", "")
	require.Equal(t, 200, code)
	require.Len(t, rowIDs(html), 3)
	code, html = tokenPage(t, viewer, "GET", fmt.Sprintf("/tests/delete?ids=%d&ids=%d", a, b), "")
	require.Equal(t, 200, code)
	require.NotContains(t, html, `id="confirm-delete"`)
	require.Contains(t, html, "only the test&#39;s owner and the team&#39;s admins delete it")
	code, html = tokenPage(t, viewer, "POST", "/tests/delete", fmt.Sprintf("ids=%d&ids=%d", a, b))
	require.Equal(t, 403, code)
	require.Contains(t, html, `id="refused"`)
	require.Contains(t, html, "Nothing was deleted.")
	require.True(t, exists(a) && exists(b) && exists(c))

	// The admin confirms and deletes the two selected; the third stays.
	code, html = tokenPage(t, st.Token, "GET", fmt.Sprintf("/tests/delete?ids=%d&ids=%d", a, b), "")
	require.Equal(t, 200, code)
	require.Contains(t, html, `id="confirm-delete"`)
	require.Contains(t, html, "Delete 2 test(s)")
	code, html = tokenPage(t, st.Token, "POST", "/tests/delete", fmt.Sprintf("ids=%d&ids=%d&ids=999999999", a, b))
	require.Equal(t, 200, code)
	require.Contains(t, html, fmt.Sprintf("#%d", a))
	require.Contains(t, html, "test 999999999 not found", "what was refused is reported")
	require.False(t, exists(a))
	require.False(t, exists(b))
	require.True(t, exists(c), "only the selected tests are deleted")
}

// The compare page names what differs before anything else, puts the KPIs
// side by side with deltas coloured only where a verdict says so, and takes the
// search page's ids=1&ids=2 to the stable URL.
func TestComparePageDifferencesFirst(t *testing.T) {
	t.Parallel()
	values := filepath.Join(testenv.ScriptDir(t), "values")
	cmpFramework(t, "cmp-diff", values, "")
	setValues(t, values, "100")
	a := st.Run(t, wire.RunRequest{Framework: "cmp-diff", Params: map[string]string{"p": "1"}})
	setValues(t, values, "110")
	b := st.Run(t, wire.RunRequest{Framework: "cmp-diff", Params: map[string]string{"p": "2"}})
	setValues(t, values, "90")
	c := st.Run(t, wire.RunRequest{Framework: "cmp-diff", Params: map[string]string{"p": "1"}})

	code, html := tokenPage(t, st.Token, "GET", fmt.Sprintf("/compare?ids=%d,%d,%d", a.ID, b.ID, c.ID), "")
	require.Equal(t, 200, code)
	require.Contains(t, html, "different value of parameter p: 1 vs 2 vs 1")
	diffAt := strings.Index(html, `id="differences"`)
	require.Greater(t, diffAt, 0)
	require.Less(t, diffAt, strings.Index(html, `id="kpis-compared"`), "the differences come first")
	require.Less(t, diffAt, strings.Index(html, `id="compare-charts"`))
	// None of these tests was judged (no baseline): the deltas are
	// neutral, whichever way they point.
	require.Contains(t, html, `<span class="delta">+10%</span>`)
	require.Contains(t, html, `<span class="delta">-10%</span>`)
	require.NotContains(t, html, `delta worse`)
	require.NotContains(t, html, `delta better`)
	for _, tt := range []*wire.Test{a, b, c} {
		require.Contains(t, html, fmt.Sprintf(`href="/tests/%d"`, tt.ID))
	}
	require.Contains(t, html, `id="compare-data"`)

	// Same parameters: nothing differs but what the runs share.
	_, html = tokenPage(t, st.Token, "GET", fmt.Sprintf("/compare?ids=%d,%d", a.ID, c.ID), "")
	require.NotContains(t, html, "parameter p")

	// The trend of these tests mixes two parameter sets until filtered.
	_, html = tokenPage(t, st.Token, "GET", "/trends?framework=cmp-diff&kpi=Latency-ms", "")
	require.Contains(t, html, `id="mixed-params"`)
	_, html = tokenPage(t, st.Token, "GET", "/trends?framework=cmp-diff&kpi=Latency-ms&params=p%3D2", "")
	require.NotContains(t, html, `id="mixed-params"`)
	points := html[strings.Index(html, `id="points"`):]
	require.Contains(t, points, fmt.Sprintf(`href="/tests/%d"`, b.ID))
	require.NotContains(t, points, fmt.Sprintf(`href="/tests/%d"`, a.ID), "p=1 is filtered out")

	code, _ = tokenPage(t, st.Token, "GET", fmt.Sprintf("/compare?ids=%d&ids=%d", a.ID, b.ID), "")
	require.Equal(t, http.StatusSeeOther, code)
	code, html = tokenPage(t, st.Token, "GET", fmt.Sprintf("/compare?ids=%d", a.ID), "")
	require.Equal(t, 400, code)
	require.Contains(t, html, "give 2 to 10 test IDs")
	code, html = tokenPage(t, st.Token, "GET", "/compare", "")
	require.Equal(t, 200, code)
	require.Contains(t, html, `id="compare-form"`)
}

// stepped is a baseline history with a 20% step after ten runs on main,
// made once for the trends tests.
var stepped struct {
	once sync.Once
	ids  []int64
	err  error
}

func steppedTrend(t *testing.T) []int64 {
	t.Helper()
	stepped.once.Do(func() {
		dir, err := os.MkdirTemp("", "cmp-stepped-")
		if err != nil {
			stepped.err = err
			return
		}
		defer os.RemoveAll(dir)
		if stepped.err = os.Chmod(dir, 0o1777); stepped.err != nil { // for the scripts' users
			return
		}
		values := filepath.Join(dir, "values")
		verdictFramework(t, "cmp-stepped", values, 1)
		for _, v := range []string{"100", "101", "99", "100.5", "99.5", "100", "101", "99", "100", "100.5",
			"120", "121", "119", "120.5", "119.5", "120"} {
			setValues(t, values, v)
			got := st.Run(t, wire.RunRequest{Framework: "cmp-stepped", Branch: "main"})
			if got.State != wire.StateFinished {
				stepped.err = fmt.Errorf("test %d %s: %s", got.ID, got.State, got.Reason)
				return
			}
			stepped.ids = append(stepped.ids, got.ID)
		}
	})
	require.NoError(t, stepped.err)
	require.Len(t, stepped.ids, 16)
	return stepped.ids
}

// The trends page lists every point and the change point after the step;
// accepting it through the page's plain form marks it accepted.
func TestTrendsPageChangePointAccept(t *testing.T) {
	t.Parallel()
	ids := steppedTrend(t)
	code, html := tokenPage(t, st.Token, "GET", "/trends?framework=cmp-stepped&kpi=Latency-ms", "")
	require.Equal(t, 200, code)
	points := html[strings.Index(html, `id="points"`):]
	for _, id := range ids {
		require.Contains(t, points, fmt.Sprintf(`href="/tests/%d"`, id))
	}
	require.Contains(t, points, "<td class=\"num\">119 ms</td>", "in the KPI's unit, three significant digits")
	require.Contains(t, html, `id="trend-data"`)
	cps := regexp.MustCompile(`<tr data-cp="(\d+)"[^>]*><td><a href="/tests/(\d+)">`).FindAllStringSubmatch(html, -1)
	require.Len(t, cps, 1, "one change point")
	require.Equal(t, fmt.Sprint(ids[10]), cps[0][2], "the first test after the step")
	require.Regexp(t, `<td class="num">\+(19|20|21)(\.\d)?%</td>`, html)
	require.Contains(t, html, "Accept as intended")

	// Other branches only, and parameter filters, narrow the points.
	_, html = tokenPage(t, st.Token, "GET", "/trends?framework=cmp-stepped&kpi=Latency-ms&branch=nope", "")
	require.Contains(t, html, `id="no-points"`)
	_, html = tokenPage(t, st.Token, "GET", "/trends?framework=cmp-stepped&kpi=Latency-ms&params=p%3D1", "")
	require.Contains(t, html, `id="no-points"`, "the framework has no parameter p")
	code, _ = tokenPage(t, st.Token, "GET", "/trends?framework=cmp-nonesuch", "")
	require.Equal(t, 404, code)

	cp := cps[0][1]
	back := "/trends?framework=cmp-stepped&kpi=Latency-ms"
	code, _ = tokenPage(t, st.Token, "POST", "/trends/changepoints/"+cp+"/accept", "back="+url.QueryEscape(back))
	require.Equal(t, http.StatusSeeOther, code)
	code, html = tokenPage(t, st.Token, "GET", back+"&accepted="+cp, "")
	require.Equal(t, 200, code)
	require.Contains(t, html, `id="accepted-notice"`)
	require.NotContains(t, html, "Accept as intended", "accepted already")
	var list wire.List[struct {
		ID         int64  `json:"id"`
		AcceptedBy string `json:"accepted_by"`
	}]
	require.Equal(t, 200, st.Call(t, "GET", "/api/v1/frameworks/cmp-stepped/changepoints", "", nil, &list))
	require.Len(t, list.Items, 1)
	var first wire.Test
	require.Equal(t, 200, st.Call(t, "GET", fmt.Sprintf("/api/v1/tests/%d", ids[0]), "", nil, &first))
	require.Equal(t, first.Owner, list.Items[0].AcceptedBy, "accepted by the same principal that ran the tests")
}

// authzChangePoint stores a change point in the authorisation world's
// framework (team alpha) and returns a function giving its ID.
func authzChangePoint(t *testing.T, testID int64) func() string {
	t.Helper()
	ctx := context.Background()
	s := store.New(st.Pool)
	require.NoError(t, s.ChangePointsReplaceFrom(ctx, testID, "K", testID,
		[]store.ChangePoint{{TestID: testID, Before: 1, After: 2, DeltaPct: 100, PValue: 0.001}}))
	list, err := s.ChangePointList(ctx, "alpha", "authz-fw")
	require.NoError(t, err)
	require.NotEmpty(t, list)
	id := fmt.Sprint(list[0].ID)
	return func() string { return id }
}

// Markup in a branch, commit or parameter stays text on the search,
// compare and trends pages.
func TestSearchComparePagesEscapeUserText(t *testing.T) {
	t.Parallel()
	values := filepath.Join(testenv.ScriptDir(t), "values")
	cmpFramework(t, "cmp-escape", values, "")
	setValues(t, values, "100")
	const payload = `<script>window.__pwned=1</script>`
	a := st.Run(t, wire.RunRequest{Framework: "cmp-escape", Branch: payload, Commit: payload, Params: map[string]string{"p": payload}})
	b := st.Run(t, wire.RunRequest{Framework: "cmp-escape", Branch: "main"})
	for _, path := range []string{
		"/tests?framework=cmp-escape",
		"/tests?framework=cmp-escape&branch=" + url.QueryEscape(payload),
		fmt.Sprintf("/compare?ids=%d,%d", a.ID, b.ID),
		"/trends?framework=cmp-escape&kpi=Latency-ms&params=" + url.QueryEscape("p="+payload),
		"/trends?framework=cmp-escape&kpi=Latency-ms&branch=" + url.QueryEscape(payload),
	} {
		code, html := tokenPage(t, st.Token, "GET", path, "")
		require.Equal(t, 200, code, path)
		require.NotContains(t, html, "<script>window", path)
		require.Contains(t, html, "&lt;script&gt;window.__pwned=1&lt;/script&gt;", path)
	}
}
