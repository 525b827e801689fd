package framework

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

const rolesBase = `name: mh
roles:
  - name: sut
    hosts: [db-1]
    serve: true
    script: "#!/bin/sh\nexec server\n"
    teardown: "#!/bin/sh\ntrue\n"
  - name: load
    count: 2
    labels: {kind: load}
    script: "#!/bin/sh\nload\n"
    setup: "#!/bin/sh\ntrue\n"
    merge:
      - {kpi: LatencyP99, how: histogram, file: latency.hlog, percentile: 99, unit: us}
      - {kpi: Throughput, how: sum}
`

// The roles section: a framework with roles needs no execution script,
// and each mistake is named by its field.
func TestRolesSection(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(rolesBase))
	require.NoError(t, err)
	require.Len(t, f.Roles, 2)
	require.Equal(t, 1, f.Roles[0].HostCount())
	require.Equal(t, 2, f.Roles[1].HostCount())
	require.Equal(t, map[string]string{"teardown": "#!/bin/sh\ntrue\n"}, f.Roles[0].RoleHooks())
	require.Equal(t, 99.0, f.Roles[1].Merge[0].Percentile)

	for _, c := range []struct{ yaml, field string }{
		{rolesBase + "execution: {script: x}\n", "roles"},
		{rolesBase + "repeat: 3\n", "roles"},
		{rolesBase + "hooks: {before_run: x}\n", "hooks"},
		{"name: mh\nroles: [{name: Bad, script: x}]\n", "roles[0].name"},
		{"name: mh\nroles: [{name: a, script: x}, {name: a, script: y}]\n", "roles[1].name"},
		{"name: mh\nroles: [{name: a}]\n", "roles[0].script"},
		{"name: mh\nroles: [{name: a, script: x, hosts: [h], count: 2}]\n", "roles[0].hosts"},
		{"name: mh\nroles: [{name: a, script: x, hosts: [h]}, {name: b, script: y, hosts: [h]}]\n", "roles[1].hosts[0]"},
		{"name: mh\nroles: [{name: a, script: x, count: 65}]\n", "roles[0]"},
		{"name: mh\nroles: [{name: a, script: x, merge: [{kpi: P99, how: histogram, file: ../x, percentile: 99}]}]\n", "roles[0].merge[0].file"},
		{"name: mh\nroles: [{name: a, script: x, merge: [{kpi: P99, how: histogram, file: h, percentile: 0}]}]\n", "roles[0].merge[0].percentile"},
		{"name: mh\nroles: [{name: a, script: x, merge: [{kpi: P99, how: median}]}]\n", "roles[0].merge[0].how"},
		{"name: mh\nroles: [{name: a, script: x, merge: [{kpi: P99@h, how: sum}]}]\n", "roles[0].merge[0].kpi"},
		{"name: mh\nroles: [{name: a, script: x, merge: [{kpi: P99, how: histogram, file: h, percentile: 99, abort_above: 5}]}]\n", "roles[0].merge[0].abort_for"},
		{"name: mh\nroles: [{name: a, script: x, merge: [{kpi: T, how: sum, abort_above: 5}]}]\n", "roles[0].merge[0].file"},
	} {
		_, err := Parse([]byte(c.yaml))
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", c.yaml, err)
		require.Equal(t, c.field, fe.Field, "%s: %v", c.yaml, err)
	}
}

// Profilers and generators of a multi-host test name the role on whose
// hosts they run; a test on one host names none.
func TestRolesPlaceProfilersAndInterference(t *testing.T) {
	t.Parallel()
	placed := rolesBase + `profilers:
  - {kind: perf, role: sut}
  - {kind: perf-stat, role: load}
interference:
  - {kind: cpu, role: sut}
  - {kind: memory, role: load}
  - {kind: io, role: sut, hosts: [db-1]}
`
	f, err := Parse([]byte(placed))
	require.NoError(t, err)
	require.Equal(t, []string{"perf"}, names(ProfilersFor(f.Profilers, "sut")))
	require.Equal(t, []string{"perf-stat"}, names(ProfilersFor(f.Profilers, "load")))
	kinds := func(gs []Interference) (out []string) {
		for _, g := range gs {
			out = append(out, g.Kind)
		}
		return out
	}
	require.Equal(t, []string{"cpu", "io"}, kinds(InterferenceOn(f.Interference, "sut", "db-1")))
	require.Equal(t, []string{"memory"}, kinds(InterferenceOn(f.Interference, "load", "load-7")))

	for _, c := range []struct{ yaml, field, msg string }{
		{rolesBase + "profilers: [{kind: perf}]\n", "profilers[0].role", "give role (one of sut, load)"},
		{rolesBase + "profilers: [{kind: perf, role: db}]\n", "profilers[0].role", `"db" names no role`},
		{rolesBase + "interference: [{kind: cpu}]\n", "interference[0].role", "give role"},
		{rolesBase + "interference: [{kind: cpu, role: sut, hosts: [load-1]}]\n", "interference[0].hosts[0]", "not a host of role sut"},
		{rolesBase + "interference: [{kind: cpu, role: load, hosts: [load-1]}]\n", "interference[0].hosts[0]", "not a host of role load"},
		{"name: one\nexecution: {script: x}\nprofilers: [{kind: perf, role: sut}]\n", "profilers[0].role", "only a multi-host test"},
		{"name: one\nexecution: {script: x}\ninterference: [{kind: cpu, role: sut}]\n", "interference[0].role", "only a multi-host test"},
	} {
		_, err := Parse([]byte(c.yaml))
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", c.yaml, err)
		require.Equal(t, c.field, fe.Field, "%s: %v", c.yaml, err)
		require.Contains(t, fe.Msg, c.msg)
	}
}

func names(ps []Profiler) (out []string) {
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}
