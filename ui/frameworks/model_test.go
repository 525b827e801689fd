package frameworks

import (
	"net/url"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/framework"
)

// post is what a browser sends for the form as shown.
func post(f *form) url.Values {
	v := url.Values{"mode": {"form"}, "name": {f.Name}, "team": {f.Team}, "title": {f.Title},
		"purpose": {f.Purpose}, "script_kind": {f.ScriptKind}, "script": {f.Script},
		"script_path": {f.ScriptPath}, "args": {f.Args}, "timeout": {f.Timeout},
		"interval": {f.Interval}, "repeat": {f.Repeat}, "warmup": {f.Warmup},
		"baseline_branch": {f.Baseline}, "load_image": {f.LoadImage}, "load_repo": {f.LoadRepo},
		"load_context": {f.LoadContext}, "load_command": {f.LoadCommand}}
	for _, p := range f.Params {
		v.Add("param_name", p.Name)
		v.Add("param_default", p.Default)
		v.Add("param_description", p.Description)
	}
	for _, k := range f.KPIs {
		v.Add("kpi_name", k.Name)
		v.Add("kpi_unit", k.Unit)
		v.Add("kpi_better", k.Better)
		v.Add("kpi_threshold", k.Threshold)
	}
	for _, s := range f.Services {
		for key, val := range map[string]string{"svc_name": s.Name, "svc_image": s.Image, "svc_repo": s.Repo,
			"svc_context": s.Context, "svc_ports": s.Ports, "svc_ready": s.Ready, "svc_metrics": s.Metrics,
			"svc_memory": s.Memory, "svc_cpuset": s.Cpuset} {
			v.Add(key, val)
		}
	}
	return v
}

func example(t *testing.T) *framework.Framework {
	t.Helper()
	data, err := os.ReadFile("../../examples/http-service/framework.yaml")
	require.NoError(t, err)
	fw, err := framework.Parse(data)
	require.NoError(t, err)
	fw.Services[0].Env = map[string]string{"APP_MODE": "bench"}
	fw.Services[0].Build.Ref = "main"
	fw.Load.Env = map[string]string{"GOMAXPROCS": "1"}
	return fw
}

// build is what the handler does with a posted form.
func build(t *testing.T, f *form, base *framework.Framework) (*framework.Framework, error) {
	t.Helper()
	fw, params, kpis, services := f.framework(base)
	require.Empty(t, f.Errors)
	y, err := fw.YAML()
	require.NoError(t, err)
	got, err := framework.Parse(y)
	if err != nil {
		f.placeError(fieldOf(err), err.Error(), params, kpis, services)
	}
	return got, err
}

func TestFormKeepsServicesAndLoad(t *testing.T) {
	t.Parallel()
	base := example(t)
	shown := formFrom(base)
	shown.pad()
	require.Equal(t, "load", shown.ScriptKind)
	require.Equal(t, "/loadgen\n-path\n/work", shown.LoadCommand)
	require.Equal(t, serviceRow{Name: "app", Repo: "/var/lib/pitwall/examples/http-service.git", Context: "app",
		Ports: "8080", Ready: "/healthz", Metrics: "/metrics", Memory: "128MiB", Cpuset: "0"}, shown.Services[0])
	require.Equal(t, serviceRow{}, shown.Services[len(shown.Services)-1], "a blank row to add a service")

	got, err := build(t, parseForm(post(shown)), base)
	require.NoError(t, err)
	require.Equal(t, base.Digest(), got.Digest(), "saving the form unchanged keeps the framework, env and ref included")
}

func TestFormAddsAndRemovesServices(t *testing.T) {
	t.Parallel()
	base := example(t)
	shown := formFrom(base)
	shown.pad()
	shown.Services[len(shown.Services)-1] = serviceRow{Name: "cache", Image: "redis:7", Ports: "6379, 6380"}
	got, err := build(t, parseForm(post(shown)), base)
	require.NoError(t, err)
	require.Len(t, got.Services, 2)
	require.Equal(t, []int{6379, 6380}, got.Services[1].Ports)
	require.Equal(t, "bench", got.Services[0].Env["APP_MODE"])

	shown.Services[0] = serviceRow{}
	got, err = build(t, parseForm(post(shown)), base)
	require.NoError(t, err)
	require.Equal(t, []string{"cache"}, []string{got.Services[0].Name}, "a cleared row removes its service")

	shown.ScriptKind, shown.Script = "inline", "#!/bin/sh\necho hi\n"
	got, err = build(t, parseForm(post(shown)), base)
	require.NoError(t, err)
	require.Nil(t, got.Load, "choosing a script drops the load container")
}

func TestFormPlacesServiceErrorsOnTheirRow(t *testing.T) {
	t.Parallel()
	f := &form{Mode: "form", Name: "x", Team: "default", ScriptKind: "inline", Script: "x",
		Services: []serviceRow{{}, {Name: "web", Image: "web:1", Ready: "/healthz"}}}
	_, err := build(t, f, nil)
	require.ErrorContains(t, err, "services[0].ready.http")
	require.Contains(t, f.err("svc.1"), "needs a port", "the error sits under the row the user filled")

	f = &form{Mode: "form", Name: "x", Team: "default", ScriptKind: "load", LoadCommand: "/loadgen"}
	_, err = build(t, f, nil)
	require.ErrorContains(t, err, "load.image")
	require.NotEmpty(t, f.err("load"))

	f = &form{Mode: "form", Name: "x", Team: "default", ScriptKind: "inline", Script: "x",
		Services: []serviceRow{{Name: "web", Image: "web:1", Ports: "http"}}}
	f.framework(nil)
	require.Contains(t, f.err("svc.0"), `port "http" is not a number`)
}
