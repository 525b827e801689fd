package framework

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../examples/sample/framework.yaml")
	require.NoError(t, err)
	f, err := Parse(data)
	require.NoError(t, err)
	require.Equal(t, "sample", f.Name)
	require.Equal(t, ArgsPositional, f.Execution.Args)
	require.Equal(t, Duration(5*time.Minute), f.Execution.Timeout)
	require.Equal(t, Duration(time.Second), f.Statistics.Interval, "interval defaults to 1s")
	require.Len(t, f.KPIs, 4)
	require.Equal(t, BetterHigher, f.KPIs[1].Better)
	require.True(t, strings.HasPrefix(f.Execution.Script, "#!/bin/sh\n"))
}

func TestParseUnknownKeyNamesKeyAndLine(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("name: x\nexecution:\n  script: echo\n  timout: 5m\n"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "line 4")
	require.Contains(t, err.Error(), "timout")
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ yaml, want string }{
		"empty":          {"", "empty"},
		"bad name":       {"name: Bad_Name\nexecution: {script: x}", "name:"},
		"no script":      {"name: x\nexecution: {args: named}", "execution.script"},
		"both scripts":   {"name: x\nexecution: {script: x, script_path: /bin/true}", "not both"},
		"relative path":  {"name: x\nexecution: {script_path: run.sh}", "absolute"},
		"bad args":       {"name: x\nexecution: {script: x, args: keyword}", "execution.args"},
		"bad timeout":    {"name: x\nexecution: {script: x, timeout: soon}", "not a duration"},
		"short timeout":  {"name: x\nexecution: {script: x, timeout: 10ms}", "too short"},
		"two hosts":      {"name: x\nexecution: {script: x, hosts: [a, b]}", "one execution host"},
		"dup param":      {"name: x\nexecution: {script: x}\nparameters: [{name: a}, {name: A}]", "twice"},
		"bad param name": {"name: x\nexecution: {script: x}\nparameters: [{name: 'a b'}]", "parameters[0].name"},
		"bad better":     {"name: x\nexecution: {script: x}\nkpis: [{name: k, better: up}]", "kpis[0].better"},
		"bad threshold":  {"name: x\nexecution: {script: x}\nkpis: [{name: k, threshold: lots}]", "kpis[0].threshold"},
		"repeat zero":    {"name: x\nexecution: {script: x}\nrepeat: -1", "repeat"},
		"two documents":  {"name: x\nexecution: {script: x}\n---\nname: y\n", "more than one"},
		"hook both":      {"name: x\nexecution: {script: x}\nhooks: {before_run: x, before_run_path: /x}", "hooks.before_run"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.yaml))
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

func TestDigestStableAcrossDefaults(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte("name: x\nexecution: {script: x}\n"))
	require.NoError(t, err)
	b, err := Parse([]byte("name: x\nteam: default\nexecution: {script: x, args: positional, timeout: 30m}\nrepeat: 1\n"))
	require.NoError(t, err)
	require.Equal(t, a.Digest(), b.Digest(), "spelling out the defaults is the same framework")
	c, err := Parse([]byte("name: x\nexecution: {script: y}\n"))
	require.NoError(t, err)
	require.NotEqual(t, a.Digest(), c.Digest())
}

func TestResolveParams(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte("name: x\nexecution: {script: x}\nparameters: [{name: b, default: '2'}, {name: a, default: '1'}]\n"))
	require.NoError(t, err)
	got, err := f.ResolveParams(map[string]string{"a": "; rm -rf /"})
	require.NoError(t, err)
	require.Equal(t, []Param{{"b", "2"}, {"a", "; rm -rf /"}}, got, "framework order, defaults filled in")
	_, err = f.ResolveParams(map[string]string{"c": "1"})
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "params.c", fe.Field)
}

func TestYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../examples/sample/framework.yaml")
	require.NoError(t, err)
	f, err := Parse(data)
	require.NoError(t, err)
	out, err := f.YAML()
	require.NoError(t, err)
	g, err := Parse(out)
	require.NoError(t, err, string(out))
	require.Equal(t, f.Digest(), g.Digest())
}
