package framework

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked where no zoneinfo is installed
)

// The values of baseline_hardware.
const (
	// HardwareSame draws baselines from tests whose execution host had
	// the same hardware fingerprint as the test's (the default).
	HardwareSame = "same"
	// HardwareAny draws them from tests on any hardware.
	HardwareAny = "any"
)

// SameHardware reports whether the framework's baselines are limited to
// tests on the same hardware: unless baseline_hardware says any.
func (f *Framework) SameHardware() bool { return f.BaselineHardware != HardwareAny }

// Noise is a framework's scheduled A/A measurement (docs/noise.md): on
// each firing of Schedule, every host it names (or, when it names none,
// the framework's execution host, or every online agent the framework
// may run on) runs the framework Runs times, and the KPIs' CVs become
// the hosts' noise floors.
type Noise struct {
	// Schedule is a cron expression (5 fields, 6 with the year, 7 with
	// seconds first, or @daily, @weekly...) in TimeZone.
	Schedule string `yaml:"schedule" json:"schedule"`
	// TimeZone is an IANA name; UTC when left out.
	TimeZone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// Runs is how many runs each host makes (2-50; 10 when left out).
	Runs int `yaml:"runs,omitempty" json:"runs,omitempty"`
	// Hosts are the hosts measured; see Noise.
	Hosts []string `yaml:"hosts,omitempty" json:"hosts,omitempty"`
	// Commit reaches the script as PITWALL_COMMIT; Params set the
	// framework's parameters as a test's do.
	Commit string            `yaml:"commit,omitempty" json:"commit,omitempty"`
	Params map[string]string `yaml:"params,omitempty" json:"params,omitempty"`
}

// Bounds of a noise measurement's runs.
const (
	DefaultNoiseRuns = 10
	MaxNoiseRuns     = 50
)

var (
	cronFieldRE = regexp.MustCompile(`^[0-9A-Za-z*/,?-]{1,100}$`)
	cronNamedRE = regexp.MustCompile(`^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$`)
)

// NoiseRuns is how many runs each host makes.
func (n *Noise) NoiseRuns() int {
	if n.Runs == 0 {
		return DefaultNoiseRuns
	}
	return n.Runs
}

// Zone is the schedule's time zone.
func (n *Noise) Zone() string {
	if n.TimeZone == "" {
		return "UTC"
	}
	return n.TimeZone
}

func (f *Framework) validateNoise() error {
	if f.BaselineHardware != "" && f.BaselineHardware != HardwareSame && f.BaselineHardware != HardwareAny {
		return &FieldError{Field: "baseline_hardware", Msg: fmt.Sprintf(
			"%q must be same (baselines from tests on the same hardware, the default) or any", f.BaselineHardware)}
	}
	n := f.Noise
	if n == nil {
		return nil
	}
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: "noise." + field, Msg: fmt.Sprintf(format, args...)}
	}
	if err := checkCron(n.Schedule); err != "" {
		return bad("schedule", "%q %s; write 5 fields (minute hour day-of-month month day-of-week, such as \"0 3 * * 0\"), "+
			"6 (and year), 7 (second first) or @daily, @weekly...", n.Schedule, err)
	}
	if n.TimeZone == "Local" || len(n.TimeZone) > 100 {
		return bad("timezone", "%q must be an IANA name such as Europe/Paris or UTC", n.TimeZone)
	}
	if _, err := time.LoadLocation(n.Zone()); err != nil {
		return bad("timezone", "unknown time zone %q: give an IANA name such as Europe/Paris or UTC", n.TimeZone)
	}
	if n.Runs != 0 && (n.Runs < 2 || n.Runs > MaxNoiseRuns) {
		return bad("runs", "%d runs; give 2-%d (10 when left out)", n.Runs, MaxNoiseRuns)
	}
	for i, h := range n.Hosts {
		if h == "" || strings.ContainsAny(h, " \t\n/") {
			return bad("hosts", "host %d (%q) is not a valid agent name", i, h)
		}
	}
	if len(n.Commit) > 255 || strings.ContainsAny(n.Commit, "\x00\n\r") {
		return bad("commit", "must be one line of at most 255 bytes")
	}
	for name := range n.Params {
		if !f.hasParam(name) {
			return bad("params", "%q is not a parameter of the framework", name)
		}
	}
	if len(f.Roles) > 0 {
		return bad("schedule", "measuring the noise of a multi-host framework is not supported yet")
	}
	return nil
}

// hasParam says whether the framework declares a parameter of that name.
func (f *Framework) hasParam(name string) bool {
	for _, p := range f.Parameters {
		if p.Name == name {
			return true
		}
	}
	return false
}

// checkCron says what is wrong with a cron expression's shape, "" when
// nothing; Temporal checks the rest when it is given the schedule.
func checkCron(cron string) string {
	switch {
	case cron == "":
		return "is empty"
	case len(cron) > 200 || strings.ContainsAny(cron, "\x00\n\r"):
		return "is not one short line"
	case strings.Contains(cron, "TZ="):
		return "names a time zone: give it as noise.timezone instead"
	case strings.HasPrefix(cron, "@"):
		if !cronNamedRE.MatchString(cron) {
			return "is not a known shorthand"
		}
		return ""
	}
	fields := strings.Fields(cron)
	if len(fields) < 5 || len(fields) > 7 {
		return fmt.Sprintf("has %d fields", len(fields))
	}
	for _, fl := range fields {
		if !cronFieldRE.MatchString(fl) {
			return fmt.Sprintf("has a field %q that is not numbers, names, *, /, - and commas", fl)
		}
	}
	return ""
}
