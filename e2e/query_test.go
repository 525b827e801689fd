package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

func TestSeriesAreDownsampled(t *testing.T) {
	t.Parallel()
	st.Apply(t, fmt.Sprintf(`
name: sampled
execution: {script: "#!/bin/sh\nsleep 1.5\n", hosts: [%s]}
statistics: {interval: 100ms}
`, agent3))
	got := st.Run(t, wire.RunRequest{Framework: "sampled"})
	require.Equal(t, wire.StateFinished, got.State, got.Reason)
	path := fmt.Sprintf("/api/v1/tests/%d/series", got.ID)

	var all wire.List[wire.Series]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, path+"?metric=cpu.user", "", nil, &all))
	require.Len(t, all.Items, 1)
	full := len(all.Items[0].TS)
	require.GreaterOrEqual(t, full, 10)
	require.Equal(t, agent3, all.Items[0].Host)

	var few wire.List[wire.Series]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, path+"?metric=cpu.user&points=3", "", nil, &few))
	require.LessOrEqual(t, len(few.Items[0].TS), 3, "at most points per series")
	require.Positive(t, len(few.Items[0].TS))

	var prefix wire.List[wire.Series]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, path+"?metric=mem.*&host="+agent3, "", nil, &prefix))
	var names []string
	for _, s := range prefix.Items {
		names = append(names, s.Metric)
	}
	require.ElementsMatch(t, []string{"mem.used", "mem.cached", "mem.available", "mem.swap_used"}, names)

	var none wire.List[wire.Series]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, path+"?metric="+url.QueryEscape("x'; DROP TABLE sample_chunks; --"), "", nil, &none))
	require.Empty(t, none.Items)
	var e wire.Error
	require.Equal(t, http.StatusBadRequest, st.Call(t, http.MethodGet, path+"?points=0", "", nil, &e))
	require.Equal(t, "points", e.Field)
}

func TestCompareCloneRerunDelete(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: comparable
execution: {script: "#!/bin/sh\necho \"Latency, ${1}ms\" > results.csv\n"}
parameters: [{name: latency, default: "10"}]
`)
	a := st.Run(t, wire.RunRequest{Framework: "comparable", Branch: "main"})
	require.Equal(t, wire.StateFinished, a.State, a.Reason)

	// A clone may change parameters; a rerun is the same test again.
	var b wire.Test
	require.Equal(t, http.StatusCreated, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/clone", a.ID),
		"application/json", []byte(`{"params":{"latency":"12"},"branch":"feature"}`), &b))
	bt := st.Wait(t, b.ID)
	require.Equal(t, "feature", bt.Branch)
	var c wire.Test
	require.Equal(t, http.StatusCreated, st.Call(t, http.MethodPost, fmt.Sprintf("/api/v1/tests/%d/rerun", a.ID), "", nil, &c))
	ct := st.Wait(t, c.ID)
	require.Equal(t, a.Params, ct.Params)
	require.Equal(t, a.FrameworkVersion, ct.FrameworkVersion)

	var cmp wire.Comparison
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/compare?ids=%d,%d,%d", a.ID, b.ID, c.ID), "", nil, &cmp))
	require.Len(t, cmp.Tests, 3)
	require.Len(t, cmp.KPIs, 1)
	k := cmp.KPIs[0]
	require.Equal(t, "Latency", k.Name)
	require.Equal(t, 10.0, *k.Values[0])
	require.Equal(t, 12.0, *k.Values[1])
	require.InDelta(t, 20, *k.DeltaPct[1], 1e-9)
	require.InDelta(t, 0, *k.DeltaPct[2], 1e-9)
	var diffs []string
	for _, d := range cmp.Diffs {
		diffs = append(diffs, d.What)
	}
	require.Contains(t, diffs, "parameter latency")
	require.Contains(t, diffs, "branch")

	var e wire.Error
	require.Equal(t, http.StatusBadRequest, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/compare?ids=%d", a.ID), "", nil, &e))
	require.Equal(t, http.StatusNotFound, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/compare?ids=%d,99999", a.ID), "", nil, &e))

	// Filters.
	var list wire.List[wire.Test]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/tests?framework=comparable&branch=feature", "", nil, &list))
	require.Len(t, list.Items, 1)
	require.Equal(t, b.ID, list.Items[0].ID)
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/tests?framework=comparable&limit=1", "", nil, &list))
	require.Len(t, list.Items, 1)
	require.NotEmpty(t, list.Next)
	var page2 wire.List[wire.Test]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/tests?framework=comparable&limit=1&cursor="+list.Next, "", nil, &page2))
	require.Less(t, page2.Items[0].ID, list.Items[0].ID)
	require.Equal(t, http.StatusBadRequest, st.Call(t, http.MethodGet, "/api/v1/tests?state=sleeping", "", nil, &e))
	require.Equal(t, "state", e.Field)
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/tests?commit="+url.QueryEscape("%' OR 1=1 --"), "", nil, &list))
	require.Empty(t, list.Items)

	// Delete.
	require.Equal(t, http.StatusNoContent, st.Call(t, http.MethodDelete, fmt.Sprintf("/api/v1/tests/%d", c.ID), "", nil, nil))
	require.Equal(t, http.StatusNotFound, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/tests/%d", c.ID), "", nil, &e))
}

func TestFrameworkVersionsAndClone(t *testing.T) {
	t.Parallel()
	st.Apply(t, "name: evolving\nexecution: {script: \"#!/bin/sh\\necho 1\\n\"}\n")
	st.Apply(t, "name: evolving\nexecution: {script: \"#!/bin/sh\\necho 2\\n\"}\n")
	var versions wire.List[struct {
		Version int `json:"version"`
	}]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/frameworks/evolving/versions", "", nil, &versions))
	require.Len(t, versions.Items, 2)
	require.Equal(t, 2, versions.Items[0].Version)
	var v1 wire.FrameworkInfo
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/frameworks/evolving/versions/1", "", nil, &v1))
	require.Contains(t, v1.Execution.Script, "echo 1")

	var cloned wire.ApplyResult
	require.Equal(t, http.StatusCreated, st.Call(t, http.MethodPost, "/api/v1/frameworks/evolving/clone", "application/json",
		[]byte(`{"name":"evolved"}`), &cloned))
	require.Equal(t, "evolved", cloned.Framework.Name)
	require.Contains(t, cloned.Framework.Execution.Script, "echo 2")
	var e wire.Error
	require.Equal(t, http.StatusConflict, st.Call(t, http.MethodPost, "/api/v1/frameworks/evolving/clone", "application/json",
		[]byte(`{"name":"evolved"}`), &e))
	require.Equal(t, http.StatusBadRequest, st.Call(t, http.MethodPost, "/api/v1/frameworks/evolving/clone", "application/json",
		[]byte(`{"name":"Bad Name"}`), &e))
	require.Equal(t, "name", e.Field)
}
