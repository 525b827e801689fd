package framework

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// baseline_hardware is same (also when left out) or any; nothing else.
func TestBaselineHardware(t *testing.T) {
	t.Parallel()
	for yaml, same := range map[string]bool{"": true, "baseline_hardware: same\n": true, "baseline_hardware: any\n": false} {
		f, err := Parse([]byte("name: x\nexecution: {script: x}\n" + yaml))
		require.NoError(t, err, yaml)
		require.Equal(t, same, f.SameHardware(), yaml)
	}
	_, err := Parse([]byte("name: x\nexecution: {script: x}\nbaseline_hardware: similar\n"))
	require.EqualError(t, err, `baseline_hardware: "similar" must be same (baselines from tests on the same hardware, the default) or any`)
}

// A noise schedule with its defaults, and what it refuses, by field.
func TestNoiseSchedule(t *testing.T) {
	t.Parallel()
	f, err := Parse([]byte("name: x\nexecution: {script: x}\nparameters: [{name: n}]\n" +
		"noise: {schedule: \"0 3 * * 0\", hosts: [bench-01], params: {n: \"5\"}}\n"))
	require.NoError(t, err)
	require.Equal(t, "0 3 * * 0", f.Noise.Schedule)
	require.Equal(t, 10, f.Noise.NoiseRuns())
	require.Equal(t, "UTC", f.Noise.Zone())
	require.Equal(t, []string{"bench-01"}, f.Noise.Hosts)

	f, err = Parse([]byte("name: x\nexecution: {script: x}\nnoise: {schedule: \"@weekly\", runs: 5, timezone: Europe/Paris}\n"))
	require.NoError(t, err)
	require.Equal(t, 5, f.Noise.NoiseRuns())
	require.Equal(t, "Europe/Paris", f.Noise.Zone())

	cases := map[string]struct{ noise, want string }{
		"no schedule":     {`{runs: 5}`, `noise.schedule: "" is empty`},
		"four fields":     {`{schedule: "0 3 * *"}`, "has 4 fields"},
		"bad shorthand":   {`{schedule: "@sometimes"}`, "not a known shorthand"},
		"zone in cron":    {`{schedule: "TZ=UTC 0 3 * * *"}`, "give it as noise.timezone"},
		"shell in cron":   {`{schedule: "0 3 * * $(id)"}`, "is not numbers, names"},
		"unknown zone":    {`{schedule: "@daily", timezone: Mars/Olympus}`, "noise.timezone: unknown time zone"},
		"local zone":      {`{schedule: "@daily", timezone: Local}`, "noise.timezone"},
		"one run":         {`{schedule: "@daily", runs: 1}`, "noise.runs: 1 runs; give 2-50"},
		"too many runs":   {`{schedule: "@daily", runs: 51}`, "noise.runs: 51 runs"},
		"bad host":        {`{schedule: "@daily", hosts: ["a b"]}`, "noise.hosts"},
		"unknown param":   {`{schedule: "@daily", params: {m: "1"}}`, `noise.params: "m" is not a parameter`},
		"two-line commit": {`{schedule: "@daily", commit: "a\nb"}`, "noise.commit"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte("name: x\nexecution: {script: x}\nparameters: [{name: n}]\nnoise: " + c.noise + "\n"))
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}
