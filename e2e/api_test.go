package e2e

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

func TestFrameworkApplyIsIdempotentAndVersioned(t *testing.T) {
	t.Parallel()
	const v1 = "name: versioned\nexecution: {script: \"#!/bin/sh\\necho v1\\n\"}\n"
	first := st.Apply(t, v1)
	require.True(t, first.Changed)
	require.Equal(t, 1, first.Framework.Version)
	again := st.Apply(t, v1)
	require.False(t, again.Changed, "the same file twice changes nothing")
	require.Equal(t, 1, again.Framework.Version)
	second := st.Apply(t, "name: versioned\nexecution: {script: \"#!/bin/sh\\necho v2\\n\"}\n")
	require.True(t, second.Changed)
	require.Equal(t, 2, second.Framework.Version)

	var got wire.FrameworkInfo
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/frameworks/versioned", "", nil, &got))
	require.Equal(t, 2, got.Version)
	require.Contains(t, got.Execution.Script, "echo v2")

	var list wire.List[wire.FrameworkInfo]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/frameworks", "", nil, &list))
	names := map[string]bool{}
	for _, f := range list.Items {
		names[f.Name] = true
	}
	require.True(t, names["versioned"])
}

func TestBadInputGetsClearErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, path, ctype, body string
		code                            int
		msg, field                      string
	}{
		{"unknown key", "POST", "/api/v1/frameworks", "application/yaml",
			"name: x\nexecution:\n  script: x\n  timout: 5m\n", 400, "line 4: field timout not found", ""},
		{"invalid name", "POST", "/api/v1/frameworks", "application/yaml",
			"name: Not Valid\nexecution: {script: x}\n", 400, "must be 1-64 characters", "name"},
		{"unknown framework", "POST", "/api/v1/tests", "application/json",
			`{"framework":"no-such-framework"}`, 404, `framework "no-such-framework" not found`, "framework"},
		{"unknown parameter", "POST", "/api/v1/tests", "application/json",
			`{"framework":"sample-for-errors","params":{"nope":"1"}}`, 400, `has no parameter "nope"`, "params.nope"},
		{"unknown field", "POST", "/api/v1/tests", "application/json",
			`{"framework":"x","colour":"red"}`, 400, `unknown field "colour"`, ""},
		{"bad test id", "GET", "/api/v1/tests/abc", "", "", 400, "not a positive number", "id"},
		{"missing test", "GET", "/api/v1/tests/999999", "", "", 404, "test 999999 not found", "id"},
		{"no endpoint", "GET", "/api/v1/nothing", "", "", 404, "no such endpoint", ""},
	}
	st.Apply(t, "name: sample-for-errors\nexecution: {script: \"#!/bin/sh\\n\"}\nparameters: [{name: n}]\n")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var e wire.Error
			code := st.Call(t, c.method, c.path, c.ctype, []byte(c.body), &e)
			require.Equal(t, c.code, code)
			require.Contains(t, e.Error, c.msg)
			require.Equal(t, c.field, e.Field)
		})
	}
}

func TestAgentsAndHealth(t *testing.T) {
	t.Parallel()
	var agents wire.List[wire.Agent]
	require.Equal(t, http.StatusOK, st.Call(t, http.MethodGet, "/api/v1/agents", "", nil, &agents))
	var me *wire.Agent
	for i := range agents.Items {
		if agents.Items[i].Name == agentName {
			me = &agents.Items[i]
		}
	}
	require.NotNil(t, me)
	require.True(t, me.Online)
	require.Equal(t, "e2e", me.Labels["pool"])
	require.Positive(t, me.Facts.Cores)
	require.Positive(t, me.Facts.MemoryBytes)
	require.NotEmpty(t, me.Facts.Kernel)
	require.True(t, me.Facts.Isolated(), "a root agent runs each test as a user of its own: %q", me.Facts.Isolation)
	require.Equal(t, "uid 1900000000-1900099999", me.Facts.Isolation)

	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/"} {
		resp := get(t, st.URL+path)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
}
