package framework

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const profBase = `name: p
execution: {script: "#!/bin/sh\ntrue\n", timeout: 1m}
services: [{name: app, image: "app:1", ports: [8080]}]
`

// The profilers section: defaults, and each mistake named by its field.
func TestProfilersSection(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(profBase + `profilers:
  - {kind: perf, delay: 2s, duration: 10s}
  - {kind: perf, target: host, frequency: 999, events: [task-clock]}
  - {kind: perf-stat}
  - {kind: strace, name: syscalls}
  - {kind: pprof, target: "service:app"}
  - {kind: perf, target: "service:app"}
`))
	require.NoError(t, err)
	p := f.Profilers
	require.Equal(t, Profiler{Name: "perf", Kind: ProfilerPerf, Target: TargetPIDs, Delay: Duration(2 * time.Second),
		Duration: Duration(10 * time.Second), Frequency: DefaultPerfFrequency}, p[0])
	require.Equal(t, "perf-2", p[1].Name, "a repeated kind is numbered")
	require.Equal(t, 999, p[1].Frequency)
	require.Equal(t, "perf-stat", p[2].Name)
	require.Zero(t, p[2].Duration, "until the script ends")
	require.Equal(t, "syscalls", p[3].Name)
	require.Equal(t, DefaultPprofPath, p[4].Path)
	require.Equal(t, Duration(DefaultPprofDuration), p[4].Duration)
	svc, ok := p[4].Service()
	require.True(t, ok)
	require.Equal(t, "app", svc)

	for yaml, field := range map[string]string{
		`[{kind: gdb}]`:                                         "profilers[0].kind",
		`[{kind: perf, target: everything}]`:                    "profilers[0].target",
		`[{kind: strace, target: host}]`:                        "profilers[0].target",
		`[{kind: pprof}]`:                                       "profilers[0].target",
		`[{kind: pprof, target: "service:nope"}]`:               "profilers[0].target",
		`[{kind: strace, target: "service:db"}]`:                "profilers[0].target",
		`[{kind: perf, frequency: 100000}]`:                     "profilers[0].frequency",
		`[{kind: strace, frequency: 99}]`:                       "profilers[0].frequency",
		`[{kind: perf-stat, events: ["-o/etc/passwd"]}]`:        "profilers[0].events",
		`[{kind: perf-stat, events: ["cycles; rm -rf"]}]`:       "profilers[0].events",
		`[{kind: perf, events: [cycles, instructions]}]`:        "profilers[0].events",
		`[{kind: pprof, target: "service:app", path: "/../x"}]`: "profilers[0].path",
		`[{kind: perf, delay: 2m}]`:                             "profilers[0].delay",
		`[{kind: perf, duration: 10ms}]`:                        "profilers[0].duration",
		`[{kind: perf}, {kind: perf, name: perf}]`:              "profilers[1].name",
		`[{kind: perf, name: "Bad Name"}]`:                      "profilers[0].name",
	} {
		_, err := Parse([]byte(profBase + "profilers: " + yaml + "\n"))
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", yaml, err)
		require.Equal(t, field, fe.Field, "%s: %v", yaml, err)
	}
	_, err = Parse([]byte(profBase + "profilers: [{kind: perf, colour: red}]\n"))
	require.ErrorContains(t, err, "colour", "unknown keys are refused")
}
