package framework

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Interference kinds: what a generator loads (docs/interference.md).
const (
	InterferenceCPU             = "cpu"
	InterferenceMemory          = "memory"
	InterferenceMemoryBandwidth = "memory-bandwidth"
	InterferenceIO              = "io"
	InterferenceNetwork         = "network"
)

// InterferenceKinds are the values Interference.Kind may take.
var InterferenceKinds = []string{InterferenceCPU, InterferenceMemory, InterferenceMemoryBandwidth,
	InterferenceIO, InterferenceNetwork}

// Limits of the interference section.
const (
	MaxInterference        = 16
	MaxInterferenceWorkers = 1024
	// MinInterferenceSize is the smallest memory or file size a generator takes.
	MinInterferenceSize = 1 << 20
)

// Defaults of the interference section.
const (
	DefaultInterferenceMemory = "256MiB"
	DefaultInterferenceIO     = "1GiB"
)

// Interference is one generator of load beside the script: started Start
// after the script starts on each of Hosts, for Duration (or until the
// script ends), and always stopped, so that a run with and without it can
// be compared. Its parameters never pass through a shell.
type Interference struct {
	// Kind is cpu, memory, memory-bandwidth, io or network.
	Kind string `yaml:"kind" json:"kind"`
	// Role, in a multi-host test (which must give it), is the role on
	// whose hosts it runs beside the role's script.
	Role string `yaml:"role,omitempty" json:"role,omitempty"`
	// Hosts are where it runs: omitted, the execution host (or every host
	// of Role); given, the execution host or some of the hosts Role names.
	Hosts []string `yaml:"hosts,omitempty" json:"hosts,omitempty"`
	// Start is how long after the script starts the generator starts.
	Start Duration `yaml:"start,omitempty" json:"start,omitempty"`
	// Duration is how long it runs; 0: until the script ends.
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	// Workers is how many processes load the host: 0 is one per CPU for
	// cpu and memory-bandwidth, one for the others (parallel streams for
	// network).
	Workers int `yaml:"workers,omitempty" json:"workers,omitempty"`
	// Load is the share of each CPU a cpu worker keeps busy, "1%" to
	// "100%" (default 100%).
	Load string `yaml:"load,omitempty" json:"load,omitempty"`
	// Size is the memory each memory worker keeps dirty (default 256MiB),
	// the array size of each memory-bandwidth worker (default: stress-ng's
	// choice from the CPU's cache), or the bytes each io worker writes
	// over and over (default 1GiB).
	Size string `yaml:"size,omitempty" json:"size,omitempty"`
	// Bandwidth caps a network generator's rate in bits per second, such
	// as 100M or 1G (iperf3's --bitrate); omitted: as fast as it goes.
	Bandwidth string `yaml:"bandwidth,omitempty" json:"bandwidth,omitempty"`
	// Target is the iperf3 server a network generator sends to, host:port;
	// omitted: a server the agent starts on its own loopback.
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
}

// Label names the generator on the timeline and the charts.
func (g Interference) Label() string { return "interference " + g.Kind }

// LoadPercent is Load as a number, 100 when not set.
func (g Interference) LoadPercent() int {
	if g.Load == "" {
		return 100
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(g.Load), "%"))
	return n
}

func (f *Framework) normalizeInterference() {
	for i := range f.Interference {
		g := &f.Interference[i]
		switch g.Kind {
		case InterferenceMemory:
			if g.Size == "" {
				g.Size = DefaultInterferenceMemory
			}
		case InterferenceIO:
			if g.Size == "" {
				g.Size = DefaultInterferenceIO
			}
		}
		if len(g.Hosts) == 0 {
			g.Hosts = nil
		}
	}
}

// validBandwidth says whether s is a rate such as 500M: a number with an
// optional K, M or G.
func validBandwidth(s string) bool {
	t := strings.TrimSpace(s)
	if t == "" {
		return false
	}
	if c := t[len(t)-1]; c == 'K' || c == 'M' || c == 'G' || c == 'k' || c == 'm' || c == 'g' {
		t = t[:len(t)-1]
	}
	v, err := strconv.ParseFloat(t, 64)
	return err == nil && v > 0 && !strings.ContainsAny(t, "eE+-")
}

func (f *Framework) validateInterference() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(f.Interference) == 0 {
		return nil
	}
	if len(f.Interference) > MaxInterference {
		return bad("interference", "%d generators; the limit is %d", len(f.Interference), MaxInterference)
	}
	if f.Load != nil {
		return bad("interference", "generators run beside execution.script; a load container has none yet")
	}
	timeout := time.Duration(f.Execution.Timeout)
	for i, g := range f.Interference {
		at := fmt.Sprintf("interference[%d]", i)
		if !slices.Contains(InterferenceKinds, g.Kind) {
			return bad(at+".kind", "%q must be one of %s", g.Kind, strings.Join(InterferenceKinds, ", "))
		}
		if err := f.validateRole(g.Role, func(field, format string, args ...any) error {
			return bad(at+"."+field, format, args...)
		}); err != nil {
			return err
		}
		if err := f.validateGeneratorHosts(at, g); err != nil {
			return err
		}
		if g.Start < 0 || time.Duration(g.Start) >= timeout {
			return bad(at+".start", "%s must be at least 0 and below execution.timeout (%s)", time.Duration(g.Start), timeout)
		}
		if g.Duration < 0 {
			return bad(at+".duration", "must not be negative")
		}
		if g.Duration > 0 && g.Duration < Duration(time.Second) {
			return bad(at+".duration", "%s is too short; give at least 1s, or omit it to run until the script ends", time.Duration(g.Duration))
		}
		if g.Workers < 0 || g.Workers > MaxInterferenceWorkers {
			return bad(at+".workers", "%d must be between 0 (the default) and %d", g.Workers, MaxInterferenceWorkers)
		}
		if err := g.validateKind(at); err != nil {
			return err
		}
	}
	return nil
}

// validateGeneratorHosts checks that a generator's hosts are hosts of
// the test: the execution host, or hosts its role names.
func (f *Framework) validateGeneratorHosts(at string, g Interference) error {
	hosts, what := f.Execution.Hosts, "the execution host (name it in execution.hosts, or omit hosts)"
	if g.Role != "" {
		i := slices.IndexFunc(f.Roles, func(r Role) bool { return r.Name == g.Role })
		hosts, what = f.Roles[i].Hosts, fmt.Sprintf("a host of role %s (in roles[%d].hosts; or omit hosts for all of them)", g.Role, i)
	}
	for j, h := range g.Hosts {
		if !slices.Contains(hosts, h) {
			return &FieldError{Field: fmt.Sprintf("%s.hosts[%d]", at, j), Msg: fmt.Sprintf("%q is not %s", h, what)}
		}
	}
	return nil
}

// InterferenceOn are the generators that run beside a script on host,
// which plays role in a multi-host test ("" on one host).
func InterferenceOn(all []Interference, role, host string) []Interference {
	var out []Interference
	for _, g := range all {
		if g.Role == role && (role == "" || len(g.Hosts) == 0 || slices.Contains(g.Hosts, host)) {
			out = append(out, g)
		}
	}
	return out
}

// validateKind checks the keys that belong to one kind, and refuses the
// others, so that a misplaced key is not silently ignored.
func (g Interference) validateKind(at string) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: at + "." + field, Msg: fmt.Sprintf(format, args...)}
	}
	only := func(field, value string, kinds ...string) error {
		if value != "" && !slices.Contains(kinds, g.Kind) {
			return bad(field, "is for %s generators only", strings.Join(kinds, " and "))
		}
		return nil
	}
	for _, c := range []struct{ field, value string }{{"load", g.Load}, {"size", g.Size}, {"bandwidth", g.Bandwidth}, {"target", g.Target}} {
		kinds := map[string][]string{
			"load":      {InterferenceCPU},
			"size":      {InterferenceMemory, InterferenceMemoryBandwidth, InterferenceIO},
			"bandwidth": {InterferenceNetwork},
			"target":    {InterferenceNetwork},
		}[c.field]
		if err := only(c.field, c.value, kinds...); err != nil {
			return err
		}
	}
	if g.Load != "" {
		t := strings.TrimSpace(g.Load)
		n, err := strconv.Atoi(strings.TrimSuffix(t, "%"))
		if !strings.HasSuffix(t, "%") || err != nil || n < 1 || n > 100 {
			return bad("load", "%q must be a percentage from 1%% to 100%%", g.Load)
		}
	}
	if g.Size != "" {
		n, err := ParseBytes(g.Size)
		if err != nil {
			return bad("size", "%v", err)
		}
		if n < MinInterferenceSize {
			return bad("size", "%s is too small; give at least 1MiB", g.Size)
		}
	}
	if g.Bandwidth != "" && !validBandwidth(g.Bandwidth) {
		return bad("bandwidth", "%q must be bits per second such as 500M or 1G", g.Bandwidth)
	}
	if g.Target != "" {
		host, port, err := net.SplitHostPort(g.Target)
		p, perr := strconv.Atoi(port)
		if err != nil || host == "" || strings.HasPrefix(host, "-") || strings.ContainsAny(host, " \t\n/") || perr != nil || p < 1 || p > 65535 {
			return bad("target", "%q must be host:port of an iperf3 server", g.Target)
		}
	}
	return nil
}
