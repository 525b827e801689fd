package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// User-supplied text is escaped wherever a page shows it.
func TestPagesEscapeUserText(t *testing.T) {
	t.Parallel()
	const evil = `<script>alert("pwned")</script>`
	st.Apply(t, `
name: escapes
execution:
  script: "#!/bin/sh\necho 'K, 1' > results.csv\necho '<img src=x onerror=alert(1)>' >&2\nexit 3\n"
parameters: [{name: p, default: "x"}]
`)
	got := st.Run(t, wire.RunRequest{Framework: "escapes", Params: map[string]string{"p": evil}, Branch: evil, Commit: evil[:20]})
	require.Equal(t, wire.StateFailed, got.State)
	resp := get(t, got.URL)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, string(body), "<script>alert", "a parameter must not become markup")
	require.NotContains(t, string(body), "<img src=x", "the script's stderr in the reason must not become markup")
	require.Contains(t, string(body), "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;")
	require.Contains(t, string(body), "&lt;img src=x onerror=alert(1)&gt;")

	dash := get(t, stackURL("/"))
	body, _ = io.ReadAll(dash.Body)
	dash.Body.Close()
	require.NotContains(t, string(body), "<script>alert")
}

// SQL metacharacters in every filter are data, never SQL.
func TestFiltersAreNotSQL(t *testing.T) {
	t.Parallel()
	for _, field := range []string{"framework", "branch", "commit", "owner"} {
		for _, v := range []string{"' OR '1'='1", "x'; DROP TABLE tests; --", `\`, "%", "_"} {
			var list wire.List[wire.Test]
			code := st.Call(t, http.MethodGet, "/api/v1/tests?"+field+"="+url.QueryEscape(v), "", nil, &list)
			require.Equal(t, http.StatusOK, code, "%s=%q", field, v)
			for _, it := range list.Items {
				switch field {
				case "framework":
					require.Equal(t, v, it.Framework)
				case "branch":
					require.Equal(t, v, it.Branch)
				}
			}
		}
	}
	var n int
	require.NoError(t, st.Pool.QueryRow(t.Context(), `SELECT count(*) FROM tests`).Scan(&n))
	require.Positive(t, n, "the tests table is still there")
	var e wire.Error
	require.Equal(t, http.StatusNotFound, st.Call(t, http.MethodGet, fmt.Sprintf("/api/v1/frameworks/%s", url.PathEscape("x' OR 1=1 --")), "", nil, &e))
}

func stackURL(path string) string { return st.URL + path }
