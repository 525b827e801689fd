// Package framework parses and validates framework files: the YAML document
// that describes a test harness (see DESIGN.md, "Framework file").
package framework

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Argument passing modes for the execution script.
const (
	ArgsPositional = "positional"
	ArgsNamed      = "named"
)

// KPI directions: which way is better.
const (
	BetterLower  = "lower"
	BetterHigher = "higher"
)

// DefaultTimeout applies when a framework names no execution timeout.
const DefaultTimeout = 30 * time.Minute

// MaxScriptBytes bounds an inline script or hook so it fits comfortably in
// workflow payloads (Temporal caps one at 2 MB).
const MaxScriptBytes = 512 << 10

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
	paramRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// Framework is the harness for one application, exactly as a framework file
// spells it. Its JSON form is what the API returns.
type Framework struct {
	Name           string      `yaml:"name" json:"name"`
	Title          string      `yaml:"title,omitempty" json:"title,omitempty"`
	Purpose        string      `yaml:"purpose,omitempty" json:"purpose,omitempty"`
	Owner          string      `yaml:"owner,omitempty" json:"owner,omitempty"`
	Team           string      `yaml:"team,omitempty" json:"team"`
	Execution      Execution   `yaml:"execution" json:"execution"`
	Statistics     Statistics  `yaml:"statistics,omitempty" json:"statistics"`
	Parameters     []Parameter `yaml:"parameters,omitempty" json:"parameters"`
	KPIs           []KPI       `yaml:"kpis,omitempty" json:"kpis"`
	Repeat         int         `yaml:"repeat,omitempty" json:"repeat"`
	Warmup         int         `yaml:"warmup,omitempty" json:"warmup"`
	BaselineBranch string      `yaml:"baseline_branch,omitempty" json:"baseline_branch"`
	// BaselineHardware says which tests may be a test's baseline: those
	// whose execution host had the same hardware fingerprint (same, the
	// default when left out) or any (docs/noise.md).
	BaselineHardware string `yaml:"baseline_hardware,omitempty" json:"baseline_hardware,omitempty"`
	Hooks            Hooks  `yaml:"hooks,omitempty" json:"hooks"`
	// Services are containers started before the run and removed after it.
	Services []Service `yaml:"services,omitempty" json:"services,omitempty"`
	// Load is a load-generator container run instead of execution.script.
	Load *Load `yaml:"load,omitempty" json:"load,omitempty"`
	// Prometheus holds PromQL queries over the test's window, which give
	// KPIs and series.
	Prometheus *Prometheus `yaml:"prometheus,omitempty" json:"prometheus,omitempty"`
	// GitHub runs the framework on pushes and pull requests of a repository.
	GitHub *GitHub `yaml:"github,omitempty" json:"github,omitempty"`
	// Notify is who else hears of the framework's alerts and endings
	// (docs/alerts.md).
	Notify *Notify `yaml:"notify,omitempty" json:"notify,omitempty"`
	// Roles make a multi-host test: each role's hosts run its script, all
	// started at once (docs/multihost.md).
	Roles []Role `yaml:"roles,omitempty" json:"roles,omitempty"`
	// Interference are load generators started beside the script
	// (docs/interference.md).
	Interference []Interference `yaml:"interference,omitempty" json:"interference,omitempty"`
	// Profilers run on the execution host while the script runs
	// (docs/profilers.md).
	Profilers []Profiler `yaml:"profilers,omitempty" json:"profilers,omitempty"`
	// Confirm says whether and how regressions are confirmed and bisected
	// by running commits again (docs/confirmation.md).
	Confirm *Confirm `yaml:"confirm,omitempty" json:"confirm,omitempty"`
	// Noise measures the noise floors of the framework's hosts on a
	// schedule (docs/noise.md).
	Noise *Noise `yaml:"noise,omitempty" json:"noise,omitempty"`
}

// Execution says what runs, where, and for how long at most.
type Execution struct {
	Script     string            `yaml:"script,omitempty" json:"script,omitempty"`
	ScriptPath string            `yaml:"script_path,omitempty" json:"script_path,omitempty"`
	Args       string            `yaml:"args,omitempty" json:"args"`
	Timeout    Duration          `yaml:"timeout,omitempty" json:"timeout"`
	Hosts      []string          `yaml:"hosts,omitempty" json:"hosts,omitempty"`
	Labels     map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	// Env holds variables the script and hooks get besides the agent's
	// allowlist (PATH, HOME, LANG, TZ) and the test's PITWALL_ values.
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
}

// Statistics names the hosts monitored while the script runs.
type Statistics struct {
	Hosts    []string `yaml:"hosts,omitempty" json:"hosts,omitempty"`
	Interval Duration `yaml:"interval,omitempty" json:"interval"`
	// Off turns host monitoring off: no host is sampled and no samples
	// are shipped (docs/monitoring.md). It excludes hosts and interval.
	Off bool `yaml:"off,omitempty" json:"off,omitempty"`
}

// Parameter is one named input of the execution script.
type Parameter struct {
	Name        string `yaml:"name" json:"name"`
	Default     string `yaml:"default,omitempty" json:"default"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

// The tests a KPI's samples may be judged with (KPI.Test).
const (
	TestWelch       = "welch"
	TestMannWhitney = "mann-whitney"
)

// KPI declares a key performance indicator the script reports in results.csv.
type KPI struct {
	Name      string `yaml:"name" json:"name"`
	Unit      string `yaml:"unit,omitempty" json:"unit,omitempty"`
	Better    string `yaml:"better,omitempty" json:"better"`
	Threshold string `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	// Test is how iterations are compared with the baseline's: welch (the
	// t-test, the default) or mann-whitney (a rank test, for samples that
	// are not normal).
	Test string `yaml:"test,omitempty" json:"test,omitempty"`
}

// Hooks are optional lifecycle scripts, each inline or a path on the agent.
type Hooks struct {
	BeforeSetup       string `yaml:"before_setup,omitempty" json:"before_setup,omitempty"`
	BeforeSetupPath   string `yaml:"before_setup_path,omitempty" json:"before_setup_path,omitempty"`
	AfterSetup        string `yaml:"after_setup,omitempty" json:"after_setup,omitempty"`
	AfterSetupPath    string `yaml:"after_setup_path,omitempty" json:"after_setup_path,omitempty"`
	BeforeRun         string `yaml:"before_run,omitempty" json:"before_run,omitempty"`
	BeforeRunPath     string `yaml:"before_run_path,omitempty" json:"before_run_path,omitempty"`
	AfterRun          string `yaml:"after_run,omitempty" json:"after_run,omitempty"`
	AfterRunPath      string `yaml:"after_run_path,omitempty" json:"after_run_path,omitempty"`
	BeforeCleanup     string `yaml:"before_cleanup,omitempty" json:"before_cleanup,omitempty"`
	BeforeCleanupPath string `yaml:"before_cleanup_path,omitempty" json:"before_cleanup_path,omitempty"`
}

// Duration is a time.Duration written as "10m" or "1s" in YAML and JSON.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration must be a string such as 10m", n.Line)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (use forms such as 90s, 10m, 1h)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as 10m")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration", s)
	}
	*d = Duration(v)
	return nil
}

// FieldError is a validation error tied to one key of the framework file.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Parse decodes a framework file strictly (unknown keys are an error naming
// the key and its line), applies defaults and validates it.
func Parse(data []byte) (*Framework, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("framework file is empty")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f Framework
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("framework file: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, errors.New("framework file holds more than one YAML document")
	}
	f.Normalize()
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Normalize fills in defaults so that equal frameworks compare equal.
func (f *Framework) Normalize() {
	if f.Team == "" {
		f.Team = "default"
	}
	if f.Execution.Args == "" {
		f.Execution.Args = ArgsPositional
	}
	if f.Execution.Timeout == 0 {
		f.Execution.Timeout = Duration(DefaultTimeout)
	}
	if f.Statistics.Interval == 0 && !f.Statistics.Off {
		f.Statistics.Interval = Duration(time.Second)
	}
	if f.Repeat == 0 {
		f.Repeat = 1
	}
	if f.BaselineBranch == "" {
		f.BaselineBranch = "main"
	}
	for i := range f.KPIs {
		if f.KPIs[i].Better == "" {
			f.KPIs[i].Better = BetterLower
		}
	}
	if f.Parameters == nil {
		f.Parameters = []Parameter{}
	}
	if f.KPIs == nil {
		f.KPIs = []KPI{}
	}
	f.normalizeContainers()
	f.normalizePrometheus()
	f.normalizeGitHub()
	f.normalizeInterference()
	f.normalizeProfilers()
}

// Validate reports the first problem with the framework, naming its field.
func (f *Framework) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if !nameRE.MatchString(f.Name) {
		return bad("name", "%q must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-'", f.Name)
	}
	if !nameRE.MatchString(f.Team) {
		return bad("team", "%q must be 1-64 characters of a-z, 0-9 and '-'", f.Team)
	}
	ex := f.Execution
	switch {
	case ex.Script == "" && ex.ScriptPath == "" && f.Load == nil && len(f.Roles) == 0:
		return bad("execution.script", "give the script inline (script), as a path on the agent (script_path), or a load-generator container (load)")
	case ex.Script != "" && ex.ScriptPath != "":
		return bad("execution.script", "give script or script_path, not both")
	case f.Load != nil && (ex.Script != "" || ex.ScriptPath != ""):
		return bad("load", "give execution.script, execution.script_path or load, only one")
	case len(ex.Script) > MaxScriptBytes:
		return bad("execution.script", "inline script is %d bytes; the limit is %d", len(ex.Script), MaxScriptBytes)
	case ex.ScriptPath != "" && !strings.HasPrefix(ex.ScriptPath, "/"):
		return bad("execution.script_path", "%q must be an absolute path on the agent", ex.ScriptPath)
	}
	if ex.Args != ArgsPositional && ex.Args != ArgsNamed {
		return bad("execution.args", "%q must be positional or named", ex.Args)
	}
	if ex.Timeout < Duration(time.Second) {
		return bad("execution.timeout", "%s is too short; give at least 1s", time.Duration(ex.Timeout))
	}
	if err := validateEnv("execution.env", ex.Env); err != nil {
		return err
	}
	if len(ex.Hosts) > 1 {
		return bad("execution.hosts", "name one execution host, not %d", len(ex.Hosts))
	}
	for i, h := range append(append([]string{}, ex.Hosts...), f.Statistics.Hosts...) {
		if h == "" || strings.ContainsAny(h, " \t\n/") {
			return bad("hosts", "host %d (%q) is not a valid agent name", i, h)
		}
	}
	switch st := f.Statistics; {
	case st.Off && len(st.Hosts) > 0:
		return bad("statistics.off", "monitoring is off, so no host is sampled; give hosts or off, not both")
	case st.Off && st.Interval != 0:
		return bad("statistics.off", "monitoring is off, so nothing is sampled; give interval or off, not both")
	case !st.Off && st.Interval < Duration(100*time.Millisecond):
		return bad("statistics.interval", "%s is too short; give at least 100ms", time.Duration(f.Statistics.Interval))
	}
	seen := map[string]bool{}
	for i, p := range f.Parameters {
		field := fmt.Sprintf("parameters[%d].name", i)
		if !paramRE.MatchString(p.Name) {
			return bad(field, "%q must start with a letter or '_' and hold only letters, digits and '_'", p.Name)
		}
		key := strings.ToUpper(p.Name)
		if seen[key] {
			return bad(field, "%q is given twice (names are compared ignoring case)", p.Name)
		}
		seen[key] = true
	}
	kseen := map[string]bool{}
	for i, k := range f.KPIs {
		if strings.TrimSpace(k.Name) == "" {
			return bad(fmt.Sprintf("kpis[%d].name", i), "is empty")
		}
		if kseen[k.Name] {
			return bad(fmt.Sprintf("kpis[%d].name", i), "%q is given twice", k.Name)
		}
		kseen[k.Name] = true
		if k.Better != BetterLower && k.Better != BetterHigher {
			return bad(fmt.Sprintf("kpis[%d].better", i), "%q must be lower or higher", k.Better)
		}
		if k.Test != "" && k.Test != TestWelch && k.Test != TestMannWhitney {
			return bad(fmt.Sprintf("kpis[%d].test", i), "%q must be welch or mann-whitney", k.Test)
		}
		if k.Threshold != "" {
			if _, err := ParseThreshold(k.Threshold); err != nil {
				return bad(fmt.Sprintf("kpis[%d].threshold", i), "%v", err)
			}
		}
	}
	if f.Repeat < 1 || f.Repeat > 1000 {
		return bad("repeat", "%d must be between 1 and 1000", f.Repeat)
	}
	if f.Warmup < 0 || f.Warmup > 100 {
		return bad("warmup", "%d must be between 0 and 100", f.Warmup)
	}
	for _, h := range f.Hooks.List() {
		if h.Script != "" && h.Path != "" {
			return bad("hooks."+h.Name, "give %s or %s_path, not both", h.Name, h.Name)
		}
		if len(h.Script) > MaxScriptBytes {
			return bad("hooks."+h.Name, "inline hook is larger than %d bytes", MaxScriptBytes)
		}
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			return bad("hooks."+h.Name+"_path", "%q must be an absolute path on the agent", h.Path)
		}
	}
	if err := f.validateContainers(); err != nil {
		return err
	}
	if err := f.validatePrometheus(); err != nil {
		return err
	}
	if err := f.validateGitHub(); err != nil {
		return err
	}
	if err := f.validateRoles(); err != nil {
		return err
	}
	if err := f.validateInterference(); err != nil {
		return err
	}
	if err := f.validateProfilers(); err != nil {
		return err
	}
	if err := f.validateConfirm(); err != nil {
		return err
	}
	if err := f.validateNoise(); err != nil {
		return err
	}
	return f.validateNotify()
}

// MaxEnv bounds the variables a framework declares, and their total size.
const (
	MaxEnv      = 64
	MaxEnvBytes = 32 << 10
)

// validateEnv checks the variables a framework declares for its script:
// names a shell accepts, none that Pitwall sets itself, no NUL byte.
func validateEnv(prefix string, env map[string]string) error {
	if len(env) > MaxEnv {
		return &FieldError{Field: prefix, Msg: fmt.Sprintf("%d variables; the limit is %d", len(env), MaxEnv)}
	}
	size := 0
	for name, v := range env {
		field := prefix + "." + name
		switch {
		case !paramRE.MatchString(name):
			return &FieldError{Field: field, Msg: fmt.Sprintf("%q must start with a letter or '_' and hold only letters, digits and '_'", name)}
		case strings.HasPrefix(strings.ToUpper(name), "PITWALL_"):
			return &FieldError{Field: field, Msg: "PITWALL_ variables are set by Pitwall from the test"}
		case name == "HOME":
			return &FieldError{Field: field, Msg: "HOME is the test's own home directory on the agent"}
		case strings.ContainsRune(v, 0):
			return &FieldError{Field: field, Msg: "the value holds a NUL byte"}
		}
		size += len(name) + len(v)
	}
	if size > MaxEnvBytes {
		return &FieldError{Field: prefix, Msg: fmt.Sprintf("%d bytes of variables; the limit is %d", size, MaxEnvBytes)}
	}
	return nil
}

// ParseThreshold reads a regression threshold such as "5%" into a fraction.
func ParseThreshold(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	t = strings.TrimSuffix(t, "%")
	var v float64
	if _, err := fmt.Sscanf(t, "%g", &v); err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a threshold such as 5%%", s)
	}
	if pct {
		v /= 100
	}
	return v, nil
}

// Hook is one lifecycle hook with its stage name.
type Hook struct {
	Name   string
	Script string
	Path   string
}

// List returns the hooks in lifecycle order, set or not.
func (h Hooks) List() []Hook {
	return []Hook{
		{"before_setup", h.BeforeSetup, h.BeforeSetupPath},
		{"after_setup", h.AfterSetup, h.AfterSetupPath},
		{"before_run", h.BeforeRun, h.BeforeRunPath},
		{"after_run", h.AfterRun, h.AfterRunPath},
		{"before_cleanup", h.BeforeCleanup, h.BeforeCleanupPath},
	}
}

// Digest is a stable SHA-256 of the framework's JSON form; equal frameworks
// have equal digests, so applying the same file twice makes no new version.
func (f *Framework) Digest() string {
	b, _ := json.Marshal(f)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// YAML renders the framework as a framework file.
func (f *Framework) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ResolveParams merges the given values over the framework's defaults, in
// framework order, and refuses names the framework does not declare.
func (f *Framework) ResolveParams(given map[string]string) ([]Param, error) {
	known := map[string]bool{}
	out := make([]Param, 0, len(f.Parameters))
	for _, p := range f.Parameters {
		known[p.Name] = true
		v, ok := given[p.Name]
		if !ok {
			v = p.Default
		}
		if strings.ContainsRune(v, 0) {
			return nil, &FieldError{Field: "params." + p.Name, Msg: "holds a NUL byte"}
		}
		out = append(out, Param{Name: p.Name, Value: v})
	}
	for name := range given {
		if !known[name] {
			return nil, &FieldError{Field: "params." + name, Msg: fmt.Sprintf("framework %s has no parameter %q", f.Name, name)}
		}
	}
	return out, nil
}

// Param is one resolved parameter value of a test.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}
