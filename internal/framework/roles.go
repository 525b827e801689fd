package framework

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Role is one group of hosts of a multi-host test (docs/multihost.md): a
// system under test, the load generators, and so on. Every host of every
// role is leased, set up, started at the same instant and torn down.
type Role struct {
	Name string `yaml:"name" json:"name"`
	// Hosts names the role's hosts; else Count online agents with Labels
	// are chosen (1 when Count is not given).
	Hosts  []string          `yaml:"hosts,omitempty" json:"hosts,omitempty"`
	Count  int               `yaml:"count,omitempty" json:"count,omitempty"`
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	// Script (inline) or ScriptPath (a file on the agent) is what each of
	// the role's hosts runs once the barrier is passed.
	Script     string `yaml:"script,omitempty" json:"script,omitempty"`
	ScriptPath string `yaml:"script_path,omitempty" json:"script_path,omitempty"`
	// Serve says the script is a service (the SUT): it starts before the
	// barrier, the barrier waits until it writes "ready" in its results
	// directory, and it is stopped once the other roles' scripts end.
	Serve bool `yaml:"serve,omitempty" json:"serve,omitempty"`
	// Setup runs on each of the role's hosts before the barrier; Teardown
	// once on each host at the end, whatever the ending.
	Setup    string `yaml:"setup,omitempty" json:"setup,omitempty"`
	Teardown string `yaml:"teardown,omitempty" json:"teardown,omitempty"`
	// Merge says how the role's hosts' results become the test's KPIs.
	Merge []MergeRule `yaml:"merge,omitempty" json:"merge,omitempty"`
}

// How a KPI of several hosts is merged (MergeRule.How).
const (
	MergeHistogram = "histogram"
	MergeSum       = "sum"
	MergeMean      = "mean"
	MergeMax       = "max"
	MergeMin       = "min"
)

// MergeRule makes one test KPI out of the role's hosts' results: a sum,
// mean, max or min of a results.csv KPI, or a percentile of the merged
// HdrHistograms that each host wrote to File.
type MergeRule struct {
	KPI string `yaml:"kpi" json:"kpi"`
	How string `yaml:"how" json:"how"`
	// From is the results.csv key read on each host; empty: KPI.
	From string `yaml:"from,omitempty" json:"from,omitempty"`
	// File (a file in each host's results directory) holds an HdrHistogram
	// log or one base64 V2 histogram; Percentile is the one reported, and
	// Unit the unit of the recorded values.
	File       string  `yaml:"file,omitempty" json:"file,omitempty"`
	Percentile float64 `yaml:"percentile,omitempty" json:"percentile,omitempty"`
	Unit       string  `yaml:"unit,omitempty" json:"unit,omitempty"`
	// AbortAbove (in Unit), when set, aborts the test once the percentile
	// of the hosts' merged live histograms has stayed above it for
	// AbortFor; File must then be an HdrHistogram log the hosts append an
	// interval to as they run.
	AbortAbove float64  `yaml:"abort_above,omitempty" json:"abort_above,omitempty"`
	AbortFor   Duration `yaml:"abort_for,omitempty" json:"abort_for,omitempty"`
}

// Aborts says whether the rule can abort a running test.
func (m MergeRule) Aborts() bool { return m.AbortAbove > 0 }

// MaxRoleHosts bounds the hosts of one multi-host test.
const MaxRoleHosts = 64

var fileRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// RoleHooks are the role's hooks by the name the agent runs them under.
func (r Role) RoleHooks() map[string]string {
	h := map[string]string{}
	if r.Setup != "" {
		h["setup"] = r.Setup
	}
	if r.Teardown != "" {
		h["teardown"] = r.Teardown
	}
	return h
}

// roleNames are the names of the framework's roles, in order.
func (f *Framework) roleNames() []string {
	names := make([]string, len(f.Roles))
	for i, r := range f.Roles {
		names[i] = r.Name
	}
	return names
}

// HostCount is how many hosts the role needs.
func (r Role) HostCount() int {
	if len(r.Hosts) > 0 {
		return len(r.Hosts)
	}
	return max(r.Count, 1)
}

// validateRoles checks the roles: names, hosts, scripts and merge rules.
// A framework with roles runs their scripts instead of execution.script,
// once (no repeat or warm-up) and without containers.
func (f *Framework) validateRoles() error {
	if len(f.Roles) == 0 {
		return nil
	}
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case f.Execution.Script != "" || f.Execution.ScriptPath != "":
		return bad("roles", "give the roles' scripts or execution.script, not both")
	case f.Load != nil || len(f.Services) > 0:
		return bad("roles", "a multi-host test runs no containers (services, load) yet")
	case f.Repeat != 1 || f.Warmup != 0:
		return bad("roles", "a multi-host test runs once: give no repeat or warmup")
	case f.Hooks != Hooks{}:
		return bad("hooks", "a multi-host test has each role's setup and teardown instead of hooks")
	case len(f.Execution.Hosts) > 0 || len(f.Execution.Labels) > 0:
		return bad("execution.hosts", "a multi-host test chooses its hosts by role (roles[].hosts or labels)")
	}
	names, hosts, total := map[string]bool{}, map[string]string{}, 0
	for i, r := range f.Roles {
		field := fmt.Sprintf("roles[%d]", i)
		if !nameRE.MatchString(r.Name) {
			return bad(field+".name", "%q must be 1-64 characters of a-z, 0-9 and '-'", r.Name)
		}
		if names[r.Name] {
			return bad(field+".name", "%q is given twice", r.Name)
		}
		names[r.Name] = true
		switch {
		case r.Script == "" && r.ScriptPath == "":
			return bad(field+".script", "give the role's script inline (script) or as a path on the agent (script_path)")
		case r.Script != "" && r.ScriptPath != "":
			return bad(field+".script", "give script or script_path, not both")
		case len(r.Script)+len(r.Setup)+len(r.Teardown) > MaxScriptBytes:
			return bad(field+".script", "the role's scripts are larger than %d bytes", MaxScriptBytes)
		case r.ScriptPath != "" && !strings.HasPrefix(r.ScriptPath, "/"):
			return bad(field+".script_path", "%q must be an absolute path on the agent", r.ScriptPath)
		case len(r.Hosts) > 0 && (r.Count != 0 || len(r.Labels) > 0):
			return bad(field+".hosts", "name the hosts, or give count and labels, not both")
		case r.Count < 0:
			return bad(field+".count", "%d must be at least 1", r.Count)
		}
		for j, h := range r.Hosts {
			if h == "" || strings.ContainsAny(h, " \t\n/,") {
				return bad(fmt.Sprintf("%s.hosts[%d]", field, j), "%q is not a valid agent name", h)
			}
			if other, ok := hosts[h]; ok {
				return bad(fmt.Sprintf("%s.hosts[%d]", field, j), "host %q is already in role %s: a host plays one role", h, other)
			}
			hosts[h] = r.Name
		}
		if total += r.HostCount(); total > MaxRoleHosts {
			return bad(field, "the roles need more than %d hosts", MaxRoleHosts)
		}
		if err := validateMerge(field, r.Merge); err != nil {
			return err
		}
	}
	return nil
}

func validateMerge(field string, rules []MergeRule) error {
	seen := map[string]bool{}
	for i, m := range rules {
		f := fmt.Sprintf("%s.merge[%d]", field, i)
		bad := func(key, format string, args ...any) error {
			return &FieldError{Field: f + "." + key, Msg: fmt.Sprintf(format, args...)}
		}
		if strings.TrimSpace(m.KPI) == "" || strings.Contains(m.KPI, "@") {
			return bad("kpi", "%q must be a KPI name without '@' (per-host values are NAME@host)", m.KPI)
		}
		if seen[m.KPI] {
			return bad("kpi", "%q is merged twice", m.KPI)
		}
		seen[m.KPI] = true
		switch m.How {
		case MergeHistogram:
			if !fileRE.MatchString(m.File) {
				return bad("file", "%q must name a file in the results directory", m.File)
			}
			if m.Percentile <= 0 || m.Percentile > 100 {
				return bad("percentile", "%g must be above 0 and at most 100", m.Percentile)
			}
			if m.AbortAbove < 0 {
				return bad("abort_above", "%g must be positive", m.AbortAbove)
			}
			if m.AbortAbove > 0 && m.AbortFor < Duration(time.Second) {
				return bad("abort_for", "give how long the percentile must stay above abort_above, at least 1s")
			}
		case MergeSum, MergeMean, MergeMax, MergeMin:
			if m.File != "" || m.Percentile != 0 || m.AbortAbove != 0 {
				return bad("file", "only a histogram merge reads a file and a percentile, and aborts")
			}
		default:
			return bad("how", "%q must be histogram, sum, mean, max or min", m.How)
		}
	}
	return nil
}

// RoleStartDelay is how far in the future a multi-host test's common start
// instant is set, so every host has its Execute before it.
const RoleStartDelay = 2 * time.Second
