package e2e

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/wire"
)

// pageResp is a page's answer: status, redirect target and HTML.
type pageResp struct {
	Code     int
	Location string
	Body     string
}

// formPage requests a page as the package's admin without following redirects;
// form, when set, is posted as application/x-www-form-urlencoded.
func formPage(t *testing.T, method, path string, form url.Values) pageResp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, st.URL+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", "Bearer "+st.Token)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return pageResp{resp.StatusCode, resp.Header.Get("Location"), string(b)}
}

// near asserts that msg appears in the page shortly after the marker (the
// field's markup): the error is shown next to its field.
func near(t *testing.T, body, marker, msg string) {
	t.Helper()
	i := strings.Index(body, marker)
	require.GreaterOrEqual(t, i, 0, "no %q in the page", marker)
	j := strings.Index(body[i:], html.EscapeString(msg))
	require.GreaterOrEqual(t, j, 0, "no %q after %q", msg, marker)
	require.Less(t, j, 700, "%q is not next to %q", msg, marker)
}

// formValues is the create form filled in as a person would: two
// parameters, two KPIs, chosen hosts, and a blank row of each.
func formValues(name string) url.Values {
	return url.Values{
		"mode": {"form"}, "name": {name}, "title": {"Form-made"}, "team": {"default"},
		"script_kind": {"inline"}, "script": {"#!/bin/sh\r\necho 'Latency-ms, 5' > results.csv\r\n"}, "script_path": {""},
		"args": {"named"}, "timeout": {"5m"}, "exec_host": {agentName}, "stat_hosts": {agentName, agent2},
		"interval":   {"2s"},
		"param_name": {"iterations", "delay", ""}, "param_default": {"3", "1", ""}, "param_description": {"Loop count", "", ""},
		"kpi_name": {"Latency-ms", "Throughput", ""}, "kpi_unit": {"ms", "req/s", ""},
		"kpi_better": {"lower", "higher", ""}, "kpi_threshold": {"5", "3%", ""},
		"repeat": {"2"}, "warmup": {"1"}, "baseline_branch": {"main"},
	}
}

const handWritten = `
name: %s
title: Form-made
team: default
execution:
  script: "#!/bin/sh\necho 'Latency-ms, 5' > results.csv\n"
  args: named
  timeout: 5m
  hosts: [e2e-agent-1]
statistics:
  hosts: [e2e-agent-1, e2e-agent-2]
  interval: 2s
parameters:
  - {name: iterations, default: "3", description: Loop count}
  - {name: delay, default: "1"}
kpis:
  - {name: Latency-ms, unit: ms, better: lower, threshold: 5%%}
  - {name: Throughput, unit: req/s, better: higher, threshold: 3%%}
repeat: 2
warmup: 1
baseline_branch: main
`

var locationVersion = regexp.MustCompile(`[?&](created|unchanged)=(\d+)`)

// The form writes the same framework as the hand-written file: preview
// shows the YAML, confirming creates version 1, and applying the
// hand-written file afterwards changes nothing (same content digest).
func TestFrameworksUIFormMatchesHandWrittenFile(t *testing.T) {
	t.Parallel()
	const name = "fw-ui-form"
	v := formValues(name)
	v.Set("action", "preview")
	got := formPage(t, "POST", "/frameworks/new", v)
	require.Equal(t, http.StatusOK, got.Code, got.Body)
	require.Contains(t, got.Body, `id="preview-yaml"`)
	require.Contains(t, got.Body, html.EscapeString("name: fw-ui-form"))
	require.Contains(t, got.Body, "threshold: 5%")
	require.Contains(t, got.Body, `id="apply"`, "the preview offers the confirm button")

	v.Set("action", "apply")
	got = formPage(t, "POST", "/frameworks/new", v)
	require.Equal(t, http.StatusSeeOther, got.Code, got.Body)
	require.Equal(t, "/frameworks/fw-ui-form?team=default&created=1", got.Location)

	res := st.Apply(t, fmt.Sprintf(handWritten, name))
	require.False(t, res.Changed, "the hand-written file differs from what the form made")
	require.Equal(t, 1, res.Framework.Version)
	require.Equal(t, []string{agentName}, res.Framework.Execution.Hosts)
	require.Equal(t, "higher", res.Framework.KPIs[1].Better)

	// Applying the same answers again says so.
	got = formPage(t, "POST", "/frameworks/new", v)
	require.Equal(t, "/frameworks/fw-ui-form?team=default&unchanged=1", got.Location)
	got = formPage(t, "GET", got.Location, nil)
	require.Equal(t, http.StatusOK, got.Code)
	require.Contains(t, got.Body, "unchanged: the file matches version 1")

	// The pasted-YAML path takes the hand-written file too.
	y := url.Values{"mode": {"yaml"}, "action": {"apply"}, "yaml": {fmt.Sprintf(handWritten, "fw-ui-pasted")}}
	got = formPage(t, "POST", "/frameworks/new", y)
	require.Equal(t, http.StatusSeeOther, got.Code, got.Body)
	require.Equal(t, "/frameworks/fw-ui-pasted?team=default&created=1", got.Location)
}

// Bad answers come back with the error next to the field and everything
// the user typed still in the form.
func TestFrameworksUIBadInputKeepsValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		change        func(url.Values)
		marker, error string
	}{
		{"bad name", func(v url.Values) { v.Set("name", "Bad_Name") }, `id="name"`, "must be 1-64 characters of a-z"},
		{"duplicate parameter", func(v url.Values) { v["param_name"] = []string{"iterations", "ITERATIONS", ""} },
			`value="ITERATIONS"`, "is given twice"},
		{"missing KPI direction", func(v url.Values) { v["kpi_better"] = []string{"lower", "", ""} },
			`value="Throughput"`, "choose whether lower or higher is better"},
		{"bad timeout", func(v url.Values) { v.Set("timeout", "soon") }, `id="timeout"`, `"soon" is not a duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := formValues("fw-ui-bad")
			tc.change(v)
			for _, action := range []string{"preview", "apply"} {
				v.Set("action", action)
				got := formPage(t, "POST", "/frameworks/new", v)
				require.Equal(t, http.StatusBadRequest, got.Code, got.Body)
				near(t, got.Body, tc.marker, tc.error)
				for _, typed := range []string{`value="Form-made"`, `value="Loop count"`, `value="req/s"`, "echo &#39;Latency-ms, 5&#39; &gt; results.csv", `value="5m"`} {
					if !strings.Contains(got.Body, typed) && tc.name == "bad timeout" && typed == `value="5m"` {
						continue
					}
					require.Contains(t, got.Body, typed, "the form lost what the user typed")
				}
				require.NotContains(t, got.Body, `id="apply"`, "no confirm button for a bad form")
			}
		})
	}
	code := st.Call(t, "GET", "/api/v1/frameworks/fw-ui-bad", "", nil, nil)
	require.Equal(t, http.StatusNotFound, code, "a refused form created nothing")

	// Without JavaScript, rows are added and removed by the server.
	v := formValues("fw-ui-rows")
	v.Set("action", "remove_param_0")
	got := formPage(t, "POST", "/frameworks/new", v)
	require.Equal(t, http.StatusOK, got.Code)
	require.NotContains(t, got.Body, `value="iterations"`)
	require.Contains(t, got.Body, `value="delay"`)
}

// Editing through the form makes version 2 (keeping the hooks the form
// does not show); saving the same again is "unchanged".
func TestFrameworksUIEditCreatesVersion(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: fw-ui-edit
execution: {script: "#!/bin/sh\necho 'K, 1' > results.csv\n", timeout: 1m}
parameters: [{name: n, default: "3"}]
kpis: [{name: K, better: higher}]
hooks: {before_run: "#!/bin/sh\necho before\n"}
`)
	got := formPage(t, "GET", "/frameworks/fw-ui-edit/edit?team=default", nil)
	require.Equal(t, http.StatusOK, got.Code, got.Body)
	require.Contains(t, got.Body, `value="1m0s"`)
	require.Contains(t, got.Body, `<option value="higher" selected>`)

	v := url.Values{"mode": {"form"}, "action": {"apply"}, "script_kind": {"inline"},
		"script": {"#!/bin/sh\necho 'K, 1' > results.csv\n"}, "args": {"positional"}, "timeout": {"2m"},
		"param_name": {"n", "m"}, "param_default": {"3", "x"}, "param_description": {"", ""},
		"kpi_name": {"K"}, "kpi_unit": {""}, "kpi_better": {"higher"}, "kpi_threshold": {""}}
	got = formPage(t, "POST", "/frameworks/fw-ui-edit/edit?team=default", v)
	require.Equal(t, http.StatusSeeOther, got.Code, got.Body)
	m := locationVersion.FindStringSubmatch(got.Location)
	require.Equal(t, []string{"&created=2", "created", "2"}, m)
	got = formPage(t, "GET", got.Location, nil)
	require.Contains(t, got.Body, "version 2 created")

	var info wire.FrameworkInfo
	require.Equal(t, http.StatusOK, st.Call(t, "GET", "/api/v1/frameworks/fw-ui-edit", "", nil, &info))
	require.Equal(t, 2, info.Version)
	require.Equal(t, "#!/bin/sh\necho before\n", info.Hooks.BeforeRun, "the hook survived the form")
	require.Len(t, info.Parameters, 2)

	got = formPage(t, "POST", "/frameworks/fw-ui-edit/edit?team=default", v)
	require.Contains(t, got.Location, "unchanged=2")

	// Version 1 is still there to read.
	got = formPage(t, "GET", "/frameworks/fw-ui-edit/versions/1?team=default", nil)
	require.Equal(t, http.StatusOK, got.Code)
	require.Contains(t, got.Body, "timeout: 1m0s")
	got = formPage(t, "GET", "/frameworks/fw-ui-edit?team=default", nil)
	require.Contains(t, got.Body, `href="/frameworks/fw-ui-edit/versions/1?team=default"`)
	require.Contains(t, got.Body, `href="/trends?framework=fw-ui-edit"`)
}

func TestFrameworksUIClone(t *testing.T) {
	t.Parallel()
	st.Apply(t, "name: fw-ui-orig\nexecution: {script: \"#!/bin/sh\\n\"}\nparameters: [{name: p, default: \"7\"}]\n")
	got := formPage(t, "POST", "/frameworks/fw-ui-orig/clone?team=default", url.Values{"new_name": {"fw-ui-copy"}})
	require.Equal(t, http.StatusSeeOther, got.Code, got.Body)
	require.Equal(t, "/frameworks/fw-ui-copy?team=default&cloned=fw-ui-orig", got.Location)
	var info wire.FrameworkInfo
	require.Equal(t, http.StatusOK, st.Call(t, "GET", "/api/v1/frameworks/fw-ui-copy", "", nil, &info))
	require.Equal(t, "7", info.Parameters[0].Default)

	got = formPage(t, "POST", "/frameworks/fw-ui-orig/clone?team=default", url.Values{"new_name": {"fw-ui-copy"}})
	require.Equal(t, http.StatusConflict, got.Code)
	near(t, got.Body, `id="new_name"`, `framework "fw-ui-copy" already exists`)
	require.Contains(t, got.Body, `value="fw-ui-copy"`)
}

// New test: defaults pre-filled, a missing required parameter and an
// unknown one refused next to their fields, a good one started and shown;
// a clone pre-fills from the old test; rerun starts the same again.
func TestNewTestPageValidatesStartsClonesReruns(t *testing.T) {
	t.Parallel()
	st.Apply(t, `
name: fw-ui-run
execution: {script: "#!/bin/sh\necho \"K, $PITWALL_PARAM_n\" > results.csv\n"}
parameters: [{name: n, default: "3"}, {name: need, description: Must be given}]
`)
	got := formPage(t, "GET", "/tests/new?framework=fw-ui-run", nil)
	require.Equal(t, http.StatusOK, got.Code, got.Body)
	require.Contains(t, got.Body, `name="param.n" value="3"`)
	require.Contains(t, got.Body, `name="param.need" value=""`)

	form := url.Values{"framework": {"fw-ui-run"}, "team": {"default"}, "param.n": {"4"}, "param.need": {""},
		"branch": {"feature/x"}, "commit": {"abc123"}, "tags": {"ci=yes\r\nrun=ui"}}
	got = formPage(t, "POST", "/tests/new", form)
	require.Equal(t, http.StatusBadRequest, got.Code, got.Body)
	near(t, got.Body, `id="param-need"`, "required: this parameter has no default")
	require.Contains(t, got.Body, `value="feature/x"`)
	require.Contains(t, got.Body, `name="param.n" value="4"`)

	form.Set("param.need", "yes")
	form.Set("param.bogus", "1")
	got = formPage(t, "POST", "/tests/new", form)
	require.Equal(t, http.StatusBadRequest, got.Code, got.Body)
	near(t, got.Body, `id="param-bogus"`, `has no parameter "bogus"`)

	form.Del("param.bogus")
	got = formPage(t, "POST", "/tests/new", form)
	require.Equal(t, http.StatusSeeOther, got.Code, got.Body)
	id, err := strconv.ParseInt(strings.TrimPrefix(got.Location, "/tests/"), 10, 64)
	require.NoError(t, err, got.Location)
	done := st.Wait(t, id)
	require.Equal(t, wire.StateFinished, done.State, done.Reason)
	require.Equal(t, []string{"n=4", "need=yes"}, paramStrings(done))
	require.Equal(t, map[string]string{"ci": "yes", "run": "ui"}, done.Tags)
	require.Equal(t, "feature/x", done.Branch)

	got = formPage(t, "GET", fmt.Sprintf("/tests/new?clone=%d", id), nil)
	require.Equal(t, http.StatusOK, got.Code, got.Body)
	require.Contains(t, got.Body, `name="param.n" value="4"`)
	require.Contains(t, got.Body, `name="param.need" value="yes"`)
	require.Contains(t, got.Body, `value="feature/x"`)
	require.Contains(t, got.Body, "ci=yes\nrun=ui")

	got = formPage(t, "POST", fmt.Sprintf("/tests/%d/rerun", id), url.Values{})
	require.Equal(t, http.StatusSeeOther, got.Code, got.Body)
	again, err := strconv.ParseInt(strings.TrimPrefix(got.Location, "/tests/"), 10, 64)
	require.NoError(t, err)
	require.Greater(t, again, id)
	rerun := st.Wait(t, again)
	require.Equal(t, paramStrings(done), paramStrings(rerun))

	// The list and the framework page show the tests.
	got = formPage(t, "GET", "/frameworks", nil)
	require.Equal(t, http.StatusOK, got.Code)
	require.Contains(t, got.Body, `href="/frameworks/fw-ui-run?team=default"`)
	require.Contains(t, got.Body, fmt.Sprintf(`href="/tests/%d"`, again), "the list shows the last test")
	got = formPage(t, "GET", "/frameworks/fw-ui-run", nil)
	require.Contains(t, got.Body, fmt.Sprintf(`href="/tests/%d"`, id))
}

func paramStrings(t *wire.Test) []string {
	var out []string
	for _, p := range t.Params {
		out = append(out, p.Name+"="+p.Value)
	}
	return out
}
