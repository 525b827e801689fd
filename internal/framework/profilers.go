package framework

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Profiler kinds (docs/profilers.md).
const (
	// ProfilerPerf samples call graphs with perf record at a frequency.
	ProfilerPerf = "perf"
	// ProfilerPerfStat counts hardware and software events with perf stat.
	ProfilerPerfStat = "perf-stat"
	// ProfilerStrace summarises system calls with strace -c.
	ProfilerStrace = "strace"
	// ProfilerPprof fetches a Go service's CPU profile from its pprof
	// endpoint.
	ProfilerPprof = "pprof"
)

// ProfilerKinds lists the kinds of profiler a framework may name.
var ProfilerKinds = []string{ProfilerPerf, ProfilerPerfStat, ProfilerStrace, ProfilerPprof}

// Profiler targets besides service:<name>.
const (
	// TargetPIDs profiles the processes the script lists in its pids file
	// (those of its own process tree).
	TargetPIDs = "pids"
	// TargetHost profiles the whole host.
	TargetHost = "host"
	// TargetServicePrefix names a service container: "service:app".
	TargetServicePrefix = "service:"
)

// Profiler defaults and bounds.
const (
	DefaultPerfFrequency = 99
	MaxPerfFrequency     = 10000
	DefaultPprofPath     = "/debug/pprof/profile"
	DefaultPprofDuration = 10 * time.Second
	MaxProfilers         = 16
	MaxProfilerEvents    = 32
)

// DefaultPerfStatEvents are the counters perf-stat counts when a framework
// names none: software counters every host has, then hardware counters
// that a virtual machine may not (they are then noted as unsupported).
var DefaultPerfStatEvents = []string{"task-clock", "context-switches", "cpu-migrations", "page-faults",
	"cycles", "instructions", "branches", "branch-misses", "cache-misses"}

// Profiler is one profiler run while the script runs, on the execution
// host or, in a multi-host test, on each host of a role: what it profiles,
// when, and for how long.
type Profiler struct {
	// Name names the profiler's artifacts and KPIs; default: its kind, with
	// its position when the kind repeats (perf, perf-2).
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	Kind string `yaml:"kind" json:"kind"`
	// Role, in a multi-host test (which must give it), is the role on each
	// of whose hosts the profiler runs beside the role's script.
	Role string `yaml:"role,omitempty" json:"role,omitempty"`
	// Target is pids (default), host, or service:<name>: a service
	// container's processes (pprof: its endpoint; always a service).
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
	// Delay is how long after the script starts the profiler starts.
	Delay Duration `yaml:"delay,omitempty" json:"delay,omitempty"`
	// Duration is how long it runs; 0: until the script ends (pprof: 10s).
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	// Frequency is perf's sampling rate in Hz (default 99).
	Frequency int `yaml:"frequency,omitempty" json:"frequency,omitempty"`
	// Events are perf-stat's counters (default DefaultPerfStatEvents) or
	// the event perf samples (default cpu-clock).
	Events []string `yaml:"events,omitempty" json:"events,omitempty"`
	// Path is the pprof endpoint's path on the service (default
	// /debug/pprof/profile).
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
}

// Service returns the service a service:<name> target names.
func (p Profiler) Service() (string, bool) {
	return strings.CutPrefix(p.Target, TargetServicePrefix)
}

var (
	eventRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/=,@-]{0,127}$`)
	pathRE  = regexp.MustCompile(`^/[A-Za-z0-9_./-]{0,255}$`)
)

func (f *Framework) normalizeProfilers() {
	count := map[string]int{}
	for i := range f.Profilers {
		p := &f.Profilers[i]
		if p.Target == "" {
			p.Target = TargetPIDs
		}
		switch p.Kind {
		case ProfilerPerf:
			if p.Frequency == 0 {
				p.Frequency = DefaultPerfFrequency
			}
		case ProfilerPprof:
			if p.Path == "" {
				p.Path = DefaultPprofPath
			}
			if p.Duration == 0 {
				p.Duration = Duration(DefaultPprofDuration)
			}
		}
		count[p.Kind]++
		if p.Name == "" {
			p.Name = p.Kind
			if count[p.Kind] > 1 {
				p.Name = fmt.Sprintf("%s-%d", p.Kind, count[p.Kind])
			}
		}
	}
}

func (f *Framework) validateProfilers() error {
	if len(f.Profilers) > MaxProfilers {
		return &FieldError{Field: "profilers", Msg: fmt.Sprintf("%d profilers; the limit is %d", len(f.Profilers), MaxProfilers)}
	}
	names := map[string]bool{}
	for i, p := range f.Profilers {
		bad := func(field, format string, args ...any) error {
			return &FieldError{Field: fmt.Sprintf("profilers[%d].%s", i, field), Msg: fmt.Sprintf(format, args...)}
		}
		if !slices.Contains(ProfilerKinds, p.Kind) {
			return bad("kind", "%q must be one of %s", p.Kind, strings.Join(ProfilerKinds, ", "))
		}
		if !nameRE.MatchString(p.Name) {
			return bad("name", "%q must be 1-64 characters of a-z, 0-9 and '-'", p.Name)
		}
		if names[p.Name] {
			return bad("name", "%q is given twice", p.Name)
		}
		names[p.Name] = true
		if err := f.validateRole(p.Role, bad); err != nil {
			return err
		}
		if err := f.validateTarget(p, bad); err != nil {
			return err
		}
		timeout := time.Duration(f.Execution.Timeout)
		if p.Delay < 0 || time.Duration(p.Delay) >= timeout {
			return bad("delay", "%s must be shorter than the execution timeout (%s)", time.Duration(p.Delay), timeout)
		}
		if p.Duration != 0 && p.Duration < Duration(time.Second) {
			return bad("duration", "%s is too short; give at least 1s", time.Duration(p.Duration))
		}
		if p.Frequency != 0 && (p.Kind != ProfilerPerf || p.Frequency < 1 || p.Frequency > MaxPerfFrequency) {
			return bad("frequency", "is perf's sampling rate, 1-%d Hz", MaxPerfFrequency)
		}
		if err := validateEvents(p, bad); err != nil {
			return err
		}
		if p.Path != "" && (p.Kind != ProfilerPprof || !pathRE.MatchString(p.Path) || strings.Contains(p.Path, "..")) {
			return bad("path", "%q is a pprof endpoint's path, such as %s", p.Path, DefaultPprofPath)
		}
	}
	return nil
}

// validateRole checks the role a profiler or generator names: one of the
// framework's roles in a multi-host test, none otherwise.
func (f *Framework) validateRole(role string, bad func(string, string, ...any) error) error {
	switch {
	case len(f.Roles) == 0 && role != "":
		return bad("role", "%q: only a multi-host test (one with roles) places profilers and generators by role", role)
	case len(f.Roles) > 0 && role == "":
		return bad("role", "a multi-host test runs each on the hosts of one role: give role (one of %s)", strings.Join(f.roleNames(), ", "))
	case len(f.Roles) > 0 && !slices.Contains(f.roleNames(), role):
		return bad("role", "%q names no role; give one of %s", role, strings.Join(f.roleNames(), ", "))
	}
	return nil
}

// ProfilersFor are the profilers that run beside a role's script (all of
// them when role is "": a test on one host).
func ProfilersFor(all []Profiler, role string) []Profiler {
	var out []Profiler
	for _, p := range all {
		if p.Role == role {
			out = append(out, p)
		}
	}
	return out
}

func (f *Framework) validateTarget(p Profiler, bad func(string, string, ...any) error) error {
	svc, isService := p.Service()
	switch {
	case isService:
		if !slices.ContainsFunc(f.Services, func(s Service) bool { return s.Name == svc }) {
			return bad("target", "%q names no service of the framework", p.Target)
		}
	case p.Kind == ProfilerPprof:
		return bad("target", "pprof fetches a service's profile: give service:<name>")
	case p.Target == TargetHost && p.Kind == ProfilerStrace:
		return bad("target", "strace traces processes: give pids")
	case p.Target != TargetPIDs && p.Target != TargetHost:
		return bad("target", "%q must be pids, host or service:<name>", p.Target)
	}
	return nil
}

func validateEvents(p Profiler, bad func(string, string, ...any) error) error {
	switch {
	case len(p.Events) == 0:
		return nil
	case p.Kind != ProfilerPerf && p.Kind != ProfilerPerfStat:
		return bad("events", "only perf and perf-stat take events")
	case p.Kind == ProfilerPerf && len(p.Events) > 1:
		return bad("events", "perf samples one event")
	case len(p.Events) > MaxProfilerEvents:
		return bad("events", "%d events; the limit is %d", len(p.Events), MaxProfilerEvents)
	}
	for _, e := range p.Events {
		if !eventRE.MatchString(e) {
			return bad("events", "%q is not a perf event name", e)
		}
	}
	return nil
}
