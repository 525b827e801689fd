package framework

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const intfBase = `name: i
execution: {script: "#!/bin/sh\ntrue\n", hosts: [bench-01], timeout: 1m}
`

// The interference section: defaults, and each mistake named by its field.
func TestInterferenceSection(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte(intfBase + `interference:
  - {kind: cpu, start: 5s, duration: 10s, workers: 2, load: 80%}
  - {kind: memory, hosts: [bench-01]}
  - {kind: memory-bandwidth, size: 4MiB}
  - {kind: io}
  - {kind: network, bandwidth: 100M}
  - {kind: network, target: '10.0.0.5:5201', workers: 4}
`))
	require.NoError(t, err)
	g := f.Interference
	require.Len(t, g, 6)
	require.Equal(t, Duration(5*time.Second), g[0].Start)
	require.Equal(t, Duration(10*time.Second), g[0].Duration)
	require.Equal(t, 80, g[0].LoadPercent())
	require.Equal(t, DefaultInterferenceMemory, g[1].Size, "memory keeps 256MiB dirty unless told")
	require.Equal(t, []string{"bench-01"}, g[1].Hosts)
	require.Equal(t, DefaultInterferenceIO, g[3].Size)
	require.Zero(t, g[3].Duration, "no duration: until the script ends")
	require.Equal(t, 100, g[4].LoadPercent())
	require.Equal(t, "interference network", g[5].Label())

	// Applying the same file again is the same version.
	again, err := Parse([]byte(intfBase + `interference:
  - {kind: cpu, start: 5s, duration: 10s, workers: 2, load: 80%}
  - {kind: memory, hosts: [bench-01]}
  - {kind: memory-bandwidth, size: 4MiB}
  - {kind: io}
  - {kind: network, bandwidth: 100M}
  - {kind: network, target: '10.0.0.5:5201', workers: 4}
`))
	require.NoError(t, err)
	require.Equal(t, f.Digest(), again.Digest())

	for yaml, field := range map[string]string{
		"interference: [{kind: gpu}]":                            "interference[0].kind",
		"interference: [{}]":                                     "interference[0].kind",
		"interference: [{kind: cpu, hosts: [db-01]}]":            "interference[0].hosts[0]",
		"interference: [{kind: cpu, start: 2m}]":                 "interference[0].start",
		"interference: [{kind: cpu, duration: 10ms}]":            "interference[0].duration",
		"interference: [{kind: cpu, workers: -1}]":               "interference[0].workers",
		"interference: [{kind: cpu, workers: 5000}]":             "interference[0].workers",
		"interference: [{kind: cpu, load: 80}]":                  "interference[0].load",
		"interference: [{kind: cpu, load: 0%}]":                  "interference[0].load",
		"interference: [{kind: cpu, load: 101%}]":                "interference[0].load",
		"interference: [{kind: cpu, size: 1GiB}]":                "interference[0].size",
		"interference: [{kind: memory, load: 50%}]":              "interference[0].load",
		"interference: [{kind: memory, size: lots}]":             "interference[0].size",
		"interference: [{kind: memory, size: 1KiB}]":             "interference[0].size",
		"interference: [{kind: io, bandwidth: 1G}]":              "interference[0].bandwidth",
		"interference: [{kind: network, bandwidth: fast}]":       "interference[0].bandwidth",
		"interference: [{kind: network, bandwidth: '1e9'}]":      "interference[0].bandwidth",
		"interference: [{kind: network, target: '10.0.0.5'}]":    "interference[0].target",
		"interference: [{kind: network, target: '-x:5201'}]":     "interference[0].target",
		"interference: [{kind: network, target: 'h:70000'}]":     "interference[0].target",
		"interference: [{kind: cpu}, {kind: io, target: 'h:1'}]": "interference[1].target",
	} {
		_, err := Parse([]byte(intfBase + yaml + "\n"))
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", yaml, err)
		require.Equal(t, field, fe.Field, "%s: %v", yaml, err)
	}

	_, err = Parse([]byte(intfBase + "interference: [{kind: cpu, nope: 1}]\n"))
	require.ErrorContains(t, err, "nope", "an unknown key is named")

	// Without a named execution host there is no host to name.
	_, err = Parse([]byte("name: i\nexecution: {script: x}\ninterference: [{kind: cpu, hosts: [a]}]\n"))
	require.ErrorContains(t, err, "execution host")
	_, err = Parse([]byte("name: i\nexecution: {script: x}\ninterference: [{kind: cpu}]\n"))
	require.NoError(t, err, "omitted hosts: the execution host, whichever it is")
}
