package framework

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const containersYAML = `name: web
execution:
  args: named
  timeout: 5m
parameters:
  - {name: rate, default: "50"}
services:
  - name: app
    build:
      repo: /srv/git/app.git
      args: {GOFLAGS: -trimpath}
    env: {APP_MODE: bench}
    ports: [8080, 9090]
    cpuset: "0"
    memory: 512MiB
    ready: {http: /healthz}
    metrics: /metrics
  - name: cache-db
    image: redis:7
    ready: {command: [redis-cli, ping], timeout: 30s}
load:
  image: loadgen:1
  command: [/loadgen, -duration, 10s]
  env: {GOMAXPROCS: "1"}
`

func TestParseContainers(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(containersYAML))
	require.NoError(t, err)
	require.Len(t, f.Services, 2)
	app := f.Services[0]
	require.Equal(t, "Dockerfile", app.Build.Dockerfile, "dockerfile defaults")
	require.Equal(t, ".", app.Build.Context, "context defaults")
	require.Empty(t, app.Build.Ref, "an empty ref means the test's commit")
	require.Equal(t, Duration(DefaultReadyTimeout), app.Ready.Timeout)
	require.Equal(t, Duration(30*time.Second), f.Services[1].Ready.Timeout)
	require.Equal(t, []string{"/loadgen", "-duration", "10s"}, f.Load.Command)

	out, err := f.YAML()
	require.NoError(t, err)
	g, err := Parse(out)
	require.NoError(t, err, string(out))
	require.Equal(t, f.Digest(), g.Digest(), "YAML round trip keeps the framework")
}

func TestParseHTTPServiceExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../examples/http-service/framework.yaml")
	require.NoError(t, err)
	f, err := Parse(data)
	require.NoError(t, err)
	require.Empty(t, f.Execution.Script)
	require.Equal(t, "app", f.Services[0].Build.Context)
	require.Equal(t, "/metrics", f.Services[0].Metrics)
	require.Equal(t, []string{"/loadgen", "-path", "/work", "--rate", "100", "--duration", "20s"},
		LoadArgv(f.Load.Command, f.Execution.Args, mustResolve(t, f)))
}

func mustResolve(t *testing.T, f *Framework) []Param {
	t.Helper()
	p, err := f.ResolveParams(nil)
	require.NoError(t, err)
	return p
}

func TestContainerKeysLeaveOldDigestsAlone(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte("name: x\nexecution: {script: x}\n"))
	require.NoError(t, err)
	// The JSON form, hence the digest, is what it was before services and
	// load existed.
	b, err := json.Marshal(f)
	require.NoError(t, err)
	require.NotContains(t, string(b), `"services"`)
	require.NotContains(t, string(b), `"load"`)
	require.Equal(t, "7a01775d48274af0cb6e03e8e92a0a579661672517f21e55284b3b31e46cad12", f.Digest(),
		"the digest computed before the container keys existed")
	out, err := f.YAML()
	require.NoError(t, err)
	require.NotContains(t, string(out), "services")
}

func TestParseContainersRejects(t *testing.T) {
	t.Parallel()
	svc := func(s string) string { return "name: x\nexecution: {script: x}\nservices:\n  - " + s + "\n" }
	load := func(s string) string { return "name: x\nload: " + s + "\n" }
	cases := map[string]struct{ yaml, want string }{
		"no script, no load":  {"name: x\nexecution: {args: named}", "or a load-generator container"},
		"script and load":     {"name: x\nexecution: {script: x}\nload: {image: a}", "load: give execution.script"},
		"path and load":       {"name: x\nexecution: {script_path: /x}\nload: {image: a}", "only one"},
		"unknown service key": {svc("{name: a, image: b, cpus: 2}"), "cpus"},
		"service name":        {svc("{name: App_1, image: b}"), "services[0].name"},
		"service name dash":   {svc("{name: -a, image: b}"), "DNS name"},
		"service twice":       {"name: x\nexecution: {script: x}\nservices: [{name: a, image: b}, {name: a, image: b}]", "services[1].name"},
		"no image or build":   {svc("{name: a}"), "services[0].image: give an image or a build"},
		"image and build":     {svc("{name: a, image: b, build: {repo: /r}}"), "not both"},
		"bad image":           {svc("{name: a, image: 'B c'}"), "services[0].image"},
		"no repo":             {svc("{name: a, build: {ref: main}}"), "services[0].build.repo"},
		"repo is a flag":      {svc("{name: a, build: {repo: --upload-pack=x}}"), "services[0].build.repo"},
		"repo relative":       {svc("{name: a, build: {repo: app.git}}"), "services[0].build.repo"},
		"repo ext helper":     {svc("{name: a, build: {repo: 'ext::sh -c touch% /tmp/x'}}"), "services[0].build.repo"},
		"repo helper in url":  {svc("{name: a, build: {repo: 'https://x/::y'}}"), "services[0].build.repo"},
		"repo scp form":       {svc("{name: a, build: {repo: 'git@host:app.git'}}"), "services[0].build.repo"},
		"ref is a flag":       {svc("{name: a, build: {repo: /r, ref: --output=x}}"), "services[0].build.ref"},
		"dockerfile escapes":  {svc("{name: a, build: {repo: /r, dockerfile: ../../etc/x}}"), "services[0].build.dockerfile"},
		"absolute context":    {svc("{name: a, build: {repo: /r, context: /etc}}"), "services[0].build.context"},
		"build arg name":      {svc("{name: a, build: {repo: /r, args: {'a b': x}}}"), "services[0].build.args.a b"},
		"env PITWALL_":        {svc("{name: a, image: b, env: {PITWALL_X: y}}"), "services[0].env.PITWALL_X"},
		"port zero":           {svc("{name: a, image: b, ports: [0]}"), "services[0].ports[0]"},
		"port too big":        {svc("{name: a, image: b, ports: [70000]}"), "services[0].ports[0]"},
		"port twice":          {svc("{name: a, image: b, ports: [80, 80]}"), "services[0].ports[1]"},
		"port not a number":   {svc("{name: a, image: b, ports: [http]}"), "http"},
		"cpuset":              {svc("{name: a, image: b, cpuset: 'all'}"), "services[0].cpuset"},
		"memory unit":         {svc("{name: a, image: b, memory: 512 parsecs}"), "services[0].memory"},
		"memory tiny":         {svc("{name: a, image: b, memory: 1MiB}"), "minimum"},
		"ready empty":         {svc("{name: a, image: b, ports: [80], ready: {timeout: 5s}}"), "services[0].ready: give an http path"},
		"ready both":          {svc("{name: a, image: b, ports: [80], ready: {http: /, command: [x]}}"), "not both"},
		"ready http no port":  {svc("{name: a, image: b, ready: {http: /healthz}}"), "services[0].ready.http: needs a port"},
		"ready http path":     {svc("{name: a, image: b, ports: [80], ready: {http: healthz}}"), "services[0].ready.http"},
		"ready short":         {svc("{name: a, image: b, ports: [80], ready: {http: /, timeout: 10ms}}"), "services[0].ready.timeout"},
		"ready command empty": {svc("{name: a, image: b, ready: {command: ['']}}"), "services[0].ready.command[0]"},
		"metrics path":        {svc("{name: a, image: b, ports: [80], metrics: metrics}"), "services[0].metrics"},
		"metrics no port":     {svc("{name: a, image: b, metrics: /metrics}"), "services[0].metrics: needs a port"},
		"load no source":      {load("{command: [x]}"), "load.image"},
		"load bad build":      {load("{build: {repo: /r, context: ../x}}"), "load.build.context"},
		"load env":            {load("{image: a, env: {PITWALL_PARAM_X: y}}"), "load.env.PITWALL_PARAM_X"},
		"load command string": {load("{image: a, command: /loadgen -x}"), "line"},
		"load unknown key":    {load("{image: a, entrypoint: [x]}"), "entrypoint"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.yaml))
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
	many := "name: x\nexecution: {script: x}\nservices:\n"
	for i := 0; i <= MaxServices; i++ {
		many += "  - {name: s" + string(rune('a'+i)) + ", image: b}\n"
	}
	_, err := Parse([]byte(many))
	require.ErrorContains(t, err, "services: 17 services")
}

func TestRepoForms(t *testing.T) {
	t.Parallel()
	for _, repo := range []string{"/srv/git/app.git", "https://git.example/app.git", "http://10.0.0.1/app",
		"ssh://git@git.example/app.git", "git://git.example/app", "file:///srv/git/app.git"} {
		_, err := Parse([]byte("name: x\nexecution: {script: x}\nservices: [{name: a, build: {repo: '" + repo + "'}}]\n"))
		require.NoError(t, err, repo)
	}
}

func TestParseBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "1GiB": 1 << 30, "1.5GB": 1.5e9, "256m": 256 << 20,
		"1048576": 1 << 20, "64 KiB": 64 << 10, "2g": 2 << 30, "100b": 100,
	} {
		got, err := ParseBytes(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "MiB", "-1MiB", "0", "12 cubits", "1e3", "1..2MiB"} {
		_, err := ParseBytes(in)
		require.Error(t, err, in)
	}
}

func TestLoadArgvKeepsHostileValuesLiteral(t *testing.T) {
	t.Parallel()
	params := []Param{{"rate", "50"}, {"target", "$(rm -rf /); `id` 'x"}}
	require.Equal(t,
		[]string{"/loadgen", "-v", "50", "$(rm -rf /); `id` 'x"},
		LoadArgv([]string{"/loadgen", "-v"}, ArgsPositional, params))
	require.Equal(t,
		[]string{"/loadgen", "--rate", "50", "--target", "$(rm -rf /); `id` 'x"},
		LoadArgv([]string{"/loadgen"}, ArgsNamed, params))
	require.Equal(t,
		[]string{"PITWALL_PARAM_RATE=50", "PITWALL_PARAM_TARGET=$(rm -rf /); `id` 'x"},
		ParamEnv(params))
}

func TestServiceEnv(t *testing.T) {
	t.Parallel()
	services := []Service{
		{Name: "app", Ports: []int{8080, 9090}},
		{Name: "cache-db", Ports: []int{6379}},
		{Name: "sidecar"}, // no ports: nothing to reach
	}
	onNetwork := NetworkEndpoints(services)
	require.Equal(t, map[string]Endpoint{"app": {"app", 8080}, "cache-db": {"cache-db", 6379}}, onNetwork)
	require.Equal(t, []string{
		"PITWALL_SERVICE_APP_HOST=app",
		"PITWALL_SERVICE_APP_PORT=8080",
		"PITWALL_SERVICE_APP_URL=http://app:8080",
		"PITWALL_SERVICE_CACHE_DB_HOST=cache-db",
		"PITWALL_SERVICE_CACHE_DB_PORT=6379",
		"PITWALL_SERVICE_CACHE_DB_URL=http://cache-db:6379",
	}, ServiceEnv(services, onNetwork))

	// A script on the host reaches the published ports instead.
	published := map[string]Endpoint{"app": {"127.0.0.1", 32768}, "cache-db": {"::1", 32769}}
	require.Equal(t, []string{
		"PITWALL_SERVICE_APP_HOST=127.0.0.1",
		"PITWALL_SERVICE_APP_PORT=32768",
		"PITWALL_SERVICE_APP_URL=http://127.0.0.1:32768",
		"PITWALL_SERVICE_CACHE_DB_HOST=::1",
		"PITWALL_SERVICE_CACHE_DB_PORT=32769",
		"PITWALL_SERVICE_CACHE_DB_URL=http://[::1]:32769",
	}, ServiceEnv(services, published))
	require.Equal(t, "PITWALL_SERVICE_API_V2", ServiceEnvName("api-v2"))
}
