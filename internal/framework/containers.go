package framework

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults of the container keys (services and load).
const (
	MaxServices         = 16
	MaxPorts            = 16
	MaxCommandArgs      = 256
	MaxCommandBytes     = 64 << 10
	DefaultDockerfile   = "Dockerfile"
	DefaultBuildContext = "."
	DefaultReadyTimeout = 60 * time.Second
	// MinMemory is the smallest memory limit the Docker Engine accepts.
	MinMemory = 6 << 20
	// LoadName names the load generator's container on the test network
	// and in the test's log; no service may take it.
	LoadName = "load"
)

// Service is a container the test needs running before its load starts: the
// system under test or something it depends on. It is reached by its name on
// the test's own network.
type Service struct {
	// Name is DNS-safe; it is the container's host name on the test network.
	Name  string            `yaml:"name" json:"name"`
	Image string            `yaml:"image,omitempty" json:"image,omitempty"`
	Build *Build            `yaml:"build,omitempty" json:"build,omitempty"`
	Env   map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Ports are container ports; the first is the one in PITWALL_SERVICE_<NAME>_PORT.
	Ports []int `yaml:"ports,omitempty" json:"ports,omitempty"`
	// Cpuset pins the container to CPUs, as Docker's --cpuset-cpus ("0-1,3").
	Cpuset string `yaml:"cpuset,omitempty" json:"cpuset,omitempty"`
	// Memory limits the container, e.g. "512MiB" (see ParseBytes).
	Memory string `yaml:"memory,omitempty" json:"memory,omitempty"`
	Ready  *Ready `yaml:"ready,omitempty" json:"ready,omitempty"`
	// Metrics is the path of a Prometheus endpoint on the first port, scraped
	// at the statistics interval.
	Metrics string `yaml:"metrics,omitempty" json:"metrics,omitempty"`
}

// Build says how to build an image from a git repository at a commit.
type Build struct {
	// Repo is an absolute path on the agent or an https, http, ssh, git or
	// file URL; never a git remote helper (ext::).
	Repo string `yaml:"repo" json:"repo"`
	// Ref is the commit, branch or tag; empty means the test's commit.
	Ref string `yaml:"ref,omitempty" json:"ref,omitempty"`
	// Context is the build context, a directory of the repository; Dockerfile
	// is a path inside the context (as the Engine API's build reads it).
	Dockerfile string            `yaml:"dockerfile,omitempty" json:"dockerfile,omitempty"`
	Context    string            `yaml:"context,omitempty" json:"context,omitempty"`
	Args       map[string]string `yaml:"args,omitempty" json:"args,omitempty"`
}

// Ready says when a service is ready: an HTTP path on its first port that
// answers 2xx, or a command run inside it that exits 0.
type Ready struct {
	HTTP    string   `yaml:"http,omitempty" json:"http,omitempty"`
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Load is the load-generator container, run in place of execution.script.
// Its command gets the parameters appended as the script would (see
// LoadArgv) and its results directory is mounted at PITWALL_RESULTS_DIR.
type Load struct {
	Image   string            `yaml:"image,omitempty" json:"image,omitempty"`
	Build   *Build            `yaml:"build,omitempty" json:"build,omitempty"`
	Command []string          `yaml:"command,omitempty" json:"command,omitempty"`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
}

var (
	// imageRE is a Docker image reference: [host[:port]/]path[:tag][@digest].
	imageRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	cpusetRE = regexp.MustCompile(`^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*$`)
	repoRE   = regexp.MustCompile(`^(/[^-]|(https?|ssh|git|file)://[^-])`)
	refRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./@^~+-]{0,254}$`)
)

// normalizeContainers fills in the container keys' defaults.
func (f *Framework) normalizeContainers() {
	for i := range f.Services {
		s := &f.Services[i]
		normalizeBuild(s.Build)
		if s.Ready != nil && s.Ready.Timeout == 0 {
			s.Ready.Timeout = Duration(DefaultReadyTimeout)
		}
	}
	if f.Load != nil {
		normalizeBuild(f.Load.Build)
	}
}

func normalizeBuild(b *Build) {
	if b == nil {
		return
	}
	if b.Dockerfile == "" {
		b.Dockerfile = DefaultDockerfile
	}
	if b.Context == "" {
		b.Context = DefaultBuildContext
	}
}

// validateContainers checks services and load, naming the field at fault.
func (f *Framework) validateContainers() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(f.Services) > MaxServices {
		return bad("services", "%d services; the limit is %d", len(f.Services), MaxServices)
	}
	seen := map[string]bool{}
	for i, s := range f.Services {
		at := fmt.Sprintf("services[%d]", i)
		if !nameRE.MatchString(s.Name) {
			return bad(at+".name", "%q must be 1-64 characters of a-z, 0-9 and '-', not starting or ending with '-' (it is a DNS name)", s.Name)
		}
		if s.Name == LoadName {
			return bad(at+".name", "%q is the load generator's name; choose another", s.Name)
		}
		if seen[s.Name] {
			return bad(at+".name", "%q is given twice", s.Name)
		}
		seen[s.Name] = true
		if err := validateSource(at, s.Image, s.Build); err != nil {
			return err
		}
		if err := validateEnv(at+".env", s.Env); err != nil {
			return err
		}
		if len(s.Ports) > MaxPorts {
			return bad(at+".ports", "%d ports; the limit is %d", len(s.Ports), MaxPorts)
		}
		pseen := map[int]bool{}
		for j, p := range s.Ports {
			if p < 1 || p > 65535 {
				return bad(fmt.Sprintf("%s.ports[%d]", at, j), "%d is not a port (1-65535)", p)
			}
			if pseen[p] {
				return bad(fmt.Sprintf("%s.ports[%d]", at, j), "%d is given twice", p)
			}
			pseen[p] = true
		}
		if s.Cpuset != "" && !cpusetRE.MatchString(s.Cpuset) {
			return bad(at+".cpuset", "%q must list CPUs such as 0-1,3", s.Cpuset)
		}
		if s.Memory != "" {
			n, err := ParseBytes(s.Memory)
			if err != nil {
				return bad(at+".memory", "%v", err)
			}
			if n < MinMemory {
				return bad(at+".memory", "%s is below Docker's minimum of 6MiB", s.Memory)
			}
		}
		if err := validateReady(at, s); err != nil {
			return err
		}
		if s.Metrics != "" {
			if err := validatePath(s.Metrics); err != nil {
				return bad(at+".metrics", "%v", err)
			}
			if len(s.Ports) == 0 {
				return bad(at+".metrics", "needs a port: list the container port in ports")
			}
		}
	}
	if f.Load == nil {
		return nil
	}
	if err := validateSource("load", f.Load.Image, f.Load.Build); err != nil {
		return err
	}
	if err := validateCommand("load.command", f.Load.Command); err != nil {
		return err
	}
	return validateEnv("load.env", f.Load.Env)
}

// validateSource checks that exactly one of image and build is given, well formed.
func validateSource(at, image string, b *Build) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case image == "" && b == nil:
		return bad(at+".image", "give an image or a build")
	case image != "" && b != nil:
		return bad(at+".image", "give image or build, not both")
	case image != "":
		if len(image) > 255 || !imageRE.MatchString(image) {
			return bad(at+".image", "%q is not an image reference such as app:1.2 or registry:5000/team/app@sha256:…", image)
		}
		return nil
	}
	if err := validateRepo(at+".build.repo", b.Repo); err != nil {
		return err
	}
	switch {
	case b.Ref != "" && !refRE.MatchString(b.Ref):
		return bad(at+".build.ref", "%q is not a git commit, branch or tag", b.Ref)
	}
	if err := insidePath(b.Dockerfile); err != nil {
		return bad(at+".build.dockerfile", "%v", err)
	}
	if err := insidePath(b.Context); err != nil {
		return bad(at+".build.context", "%v", err)
	}
	if len(b.Args) > MaxEnv {
		return bad(at+".build.args", "%d build args; the limit is %d", len(b.Args), MaxEnv)
	}
	for name, v := range b.Args {
		if !paramRE.MatchString(name) {
			return bad(at+".build.args."+name, "%q must start with a letter or '_' and hold only letters, digits and '_'", name)
		}
		if strings.ContainsRune(v, 0) {
			return bad(at+".build.args."+name, "the value holds a NUL byte")
		}
	}
	return nil
}

// validateRepo checks a git repository's location: an absolute path or
// a URL git reaches without a remote helper.
func validateRepo(field, repo string) error {
	switch {
	case strings.TrimSpace(repo) == "":
		return &FieldError{Field: field, Msg: "give a git URL or a path on the agent"}
	case !repoRE.MatchString(repo) || strings.Contains(repo, "::") || strings.ContainsAny(repo, " \t\r\n\x00"):
		// "::" would pick a git remote helper such as ext::, which runs a command.
		return &FieldError{Field: field, Msg: fmt.Sprintf("%q must be an absolute path on the agent or an https://, http://, ssh://, git:// or file:// URL", repo)}
	}
	return nil
}

// insidePath refuses paths that leave the repository.
func insidePath(p string) error {
	if p == "" || strings.ContainsRune(p, 0) || strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must be a relative path inside the repository", p)
	}
	if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("%q leaves the repository", p)
	}
	return nil
}

// validatePath checks an HTTP path such as /healthz.
func validatePath(p string) error {
	if !strings.HasPrefix(p, "/") || len(p) > 1024 || strings.ContainsAny(p, " \t\r\n\x00#") {
		return fmt.Errorf("%q must be an HTTP path such as /healthz", p)
	}
	return nil
}

func validateReady(at string, s Service) error {
	r := s.Ready
	if r == nil {
		return nil
	}
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case r.HTTP == "" && len(r.Command) == 0:
		return bad(at+".ready", "give an http path or a command")
	case r.HTTP != "" && len(r.Command) > 0:
		return bad(at+".ready", "give http or command, not both")
	case r.HTTP != "":
		if err := validatePath(r.HTTP); err != nil {
			return bad(at+".ready.http", "%v", err)
		}
		if len(s.Ports) == 0 {
			return bad(at+".ready.http", "needs a port: list the container port in ports")
		}
	default:
		if err := validateCommand(at+".ready.command", r.Command); err != nil {
			return err
		}
	}
	if r.Timeout < Duration(time.Second) {
		return bad(at+".ready.timeout", "%s is too short; give at least 1s", time.Duration(r.Timeout))
	}
	return nil
}

func validateCommand(field string, cmd []string) error {
	if len(cmd) > MaxCommandArgs {
		return &FieldError{Field: field, Msg: fmt.Sprintf("%d entries; the limit is %d", len(cmd), MaxCommandArgs)}
	}
	size := 0
	for i, a := range cmd {
		if strings.ContainsRune(a, 0) {
			return &FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Msg: "holds a NUL byte"}
		}
		size += len(a)
	}
	if len(cmd) > 0 && cmd[0] == "" {
		return &FieldError{Field: field + "[0]", Msg: "the program is empty"}
	}
	if size > MaxCommandBytes {
		return &FieldError{Field: field, Msg: fmt.Sprintf("%d bytes; the limit is %d", size, MaxCommandBytes)}
	}
	return nil
}

// byteUnits maps a size suffix to its multiplier: IEC (KiB), SI (KB) and
// Docker's single letters (k, m, g, binary as docker run --memory reads them).
var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
}

// ParseBytes reads a size such as "512MiB", "1.5GB", "256m" or "1048576".
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := byteUnits[unit]
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || v <= 0 || v*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("%q is not a size such as 512MiB or 2GiB", s)
	}
	return int64(v * float64(mult)), nil
}

// LoadArgv is the load generator's argv: its command followed by the
// parameters exactly as a script gets them (execution.args: values in
// framework order when positional, "--name value" pairs when named). Values
// are separate argv entries, never joined into a shell line. It is the
// container's command (Docker's Cmd): it replaces the image's CMD, and the
// image's ENTRYPOINT, if it has one, stays in front of it; with no command
// the parameters alone follow the ENTRYPOINT.
func LoadArgv(command []string, mode string, params []Param) []string {
	argv := append([]string{}, command...)
	for _, p := range params {
		if mode == ArgsNamed {
			argv = append(argv, "--"+p.Name)
		}
		argv = append(argv, p.Value)
	}
	return argv
}

// ParamEnv is the PITWALL_PARAM_<NAME>=value list every script and
// container gets, in framework order.
func ParamEnv(params []Param) []string {
	env := make([]string, 0, len(params))
	for _, p := range params {
		env = append(env, "PITWALL_PARAM_"+strings.ToUpper(p.Name)+"="+p.Value)
	}
	return env
}

// Endpoint is where a caller reaches one service's first port.
type Endpoint struct {
	Host string
	Port int
}

// NetworkEndpoints are the services' endpoints as seen from a container on
// the test's network: the service's name (its network alias) and its first
// container port. Services without ports are left out.
func NetworkEndpoints(services []Service) map[string]Endpoint {
	out := map[string]Endpoint{}
	for _, s := range services {
		if len(s.Ports) > 0 {
			out[s.Name] = Endpoint{Host: s.Name, Port: s.Ports[0]}
		}
	}
	return out
}

// ServiceEnvName is the stem of a service's variables: "api-v2" gives
// "PITWALL_SERVICE_API_V2".
func ServiceEnvName(service string) string {
	return "PITWALL_SERVICE_" + strings.ToUpper(strings.ReplaceAll(service, "-", "_"))
}

// ServiceEnv is the PITWALL_SERVICE_<NAME>_URL, _HOST and _PORT variables
// for each service found in endpoints (from NetworkEndpoints for containers
// on the test network, or the published addresses for a script on the
// host), sorted by name. URL is http://host:port with no trailing slash.
func ServiceEnv(services []Service, endpoints map[string]Endpoint) []string {
	var env []string
	for _, s := range services {
		ep, ok := endpoints[s.Name]
		if !ok {
			continue
		}
		stem := ServiceEnvName(s.Name)
		hostport := ep.Host + ":" + strconv.Itoa(ep.Port)
		if strings.Contains(ep.Host, ":") {
			hostport = "[" + ep.Host + "]:" + strconv.Itoa(ep.Port)
		}
		env = append(env,
			stem+"_URL=http://"+hostport,
			stem+"_HOST="+ep.Host,
			stem+"_PORT="+strconv.Itoa(ep.Port),
		)
	}
	sort.Strings(env)
	return env
}
