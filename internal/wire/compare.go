package wire

import (
	"fmt"
	"slices"
)

// Compare lines up the KPIs of tests (each KPI's mean over iterations),
// with deltas in percent against the first test, and lists the parameters
// and environment facts that differ between them.
func Compare(tests []Test) Comparison {
	c := Comparison{Tests: tests, KPIs: []CompareKPI{}, Diffs: []CompareDiff{}}
	index := map[string]int{}
	for i, t := range tests {
		for _, s := range Summarize(t.KPIs) {
			j, ok := index[s.Name]
			if !ok {
				j = len(c.KPIs)
				index[s.Name] = j
				c.KPIs = append(c.KPIs, CompareKPI{Name: s.Name, Unit: s.Unit,
					Values: make([]*float64, len(tests)), DeltaPct: make([]*float64, len(tests)), Verdicts: make([]string, len(tests))})
			}
			mean := s.Mean
			c.KPIs[j].Values[i] = &mean
			for _, v := range t.Verdicts {
				if v.Name == s.Name {
					c.KPIs[j].Verdicts[i] = v.Verdict
				}
			}
		}
	}
	for k := range c.KPIs {
		base := c.KPIs[k].Values[0]
		for i, v := range c.KPIs[k].Values {
			if base == nil || v == nil || *base == 0 {
				continue
			}
			d := (*v - *base) / *base * 100
			c.KPIs[k].DeltaPct[i] = &d
		}
	}
	c.Diffs = differences(tests)
	return c
}

// differences lists the facts whose values are not all the same, the
// environment first: a different CPU model explains more than a parameter.
func differences(tests []Test) []CompareDiff {
	facts := []struct {
		what string
		get  func(Test) string
	}{
		{"CPU model", func(t Test) string { return execHost(t).CPUModel }},
		{"cores", func(t Test) string { return fmt.Sprint(execHost(t).Cores) }},
		{"threads per core", func(t Test) string { return fmt.Sprint(execHost(t).ThreadsPerCore) }},
		{"frequency governor", func(t Test) string { return execHost(t).Governor }},
		{"turbo", func(t Test) string { return execHost(t).Turbo }},
		{"memory", func(t Test) string { return fmt.Sprint(execHost(t).MemoryBytes) }},
		{"kernel", func(t Test) string { return execHost(t).Kernel }},
		{"OS", func(t Test) string { return execHost(t).OS }},
		{"agent version", func(t Test) string { return execHost(t).AgentVersion }},
		{"execution host", func(t Test) string { return t.Host }},
		{"framework version", func(t Test) string { return fmt.Sprint(t.FrameworkVersion) }},
		{"script", func(t Test) string { return t.Fingerprint.ScriptSHA256 }},
		{"commit", func(t Test) string { return t.Commit }},
		{"branch", func(t Test) string { return t.Branch }},
	}
	var out []CompareDiff
	add := func(what string, get func(Test) string) {
		vals := make([]string, len(tests))
		for i, t := range tests {
			vals[i] = get(t)
		}
		if slices.ContainsFunc(vals, func(v string) bool { return v != vals[0] }) {
			out = append(out, CompareDiff{What: what, Values: vals})
		}
	}
	for _, f := range facts {
		add(f.what, f.get)
	}
	var names []string
	for _, t := range tests {
		for _, p := range t.Params {
			if !slices.Contains(names, p.Name) {
				names = append(names, p.Name)
			}
		}
	}
	for _, n := range names {
		add("parameter "+n, func(t Test) string {
			for _, p := range t.Params {
				if p.Name == n {
					return p.Value
				}
			}
			return ""
		})
	}
	if out == nil {
		out = []CompareDiff{}
	}
	return out
}

func execHost(t Test) HostFingerprint { return t.Fingerprint.Hosts[t.Host] }
