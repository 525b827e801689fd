package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/pitwall/pitwall/workflows/contract"
)

// Isolation modes: how an agent runs scripts.
const (
	// IsolationUID runs each test's scripts as a user of its own, taken
	// from the agent's UID range, with no supplementary groups, in
	// directories only that user (and the agent) can enter. It needs root.
	IsolationUID = "uid"
	// IsolationOff runs scripts as the agent's own user: a script can then
	// read what the agent can, so only for hosts where that is acceptable.
	IsolationOff = "off"
)

// UIDRange is the range of user (and group) IDs per-test users come from.
type UIDRange struct {
	First, Count uint32
}

// DefaultUIDs is the range per-test users come from unless configured:
// far above the IDs of real accounts (Debian gives those 1000-59999, and
// systemd's dynamic users 61184-65519) and of the usual subordinate ranges
// of rootless containers (100000 and up, 65536 per user).
var DefaultUIDs = UIDRange{First: 1_900_000_000, Count: 100_000}

// ParseUIDRange reads "FIRST-LAST".
func ParseUIDRange(s string) (UIDRange, error) {
	a, b, ok := strings.Cut(s, "-")
	first, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 32)
	last, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 32)
	switch {
	case !ok || err1 != nil || err2 != nil:
		return UIDRange{}, fmt.Errorf("UID range %q must be FIRST-LAST, such as 1900000000-1900099999", s)
	case first < 1000 || last < first || last >= 1<<31-1:
		return UIDRange{}, fmt.Errorf("UID range %q must start at 1000 or above and end below 2147483647, after its start", s)
	}
	return UIDRange{First: uint32(first), Count: uint32(last-first) + 1}, nil
}

func (r UIDRange) String() string {
	return fmt.Sprintf("%d-%d", r.First, r.First+r.Count-1)
}

// scriptUser is who one test's scripts run as.
type scriptUser struct {
	uid, gid uint32
}

// Describe says how this agent isolates scripts, for the server's agents
// page and readyz: "uid 1900000000-1900099999", or why there is none.
func (a *Activities) Describe() string {
	switch {
	case a.Isolation == IsolationOff:
		return "off: scripts run as the agent's own user (uid " + strconv.Itoa(os.Geteuid()) + ")"
	case os.Geteuid() != 0:
		return "unavailable: the agent is not root, so it refuses to run scripts (start it with --isolation off to run them as its own user)"
	}
	return "uid " + a.uids().String()
}

func (a *Activities) uids() UIDRange {
	if a.UIDs.Count == 0 {
		return DefaultUIDs
	}
	return a.UIDs
}

// scriptUser is the user a test's scripts run as: its own from the range
// (consecutive tests get different users, so nothing one leaves behind is
// another's), or nil for the agent's own user when isolation is off. An
// agent that is not root cannot switch users and refuses to run scripts
// unless isolation is off.
func (a *Activities) scriptUser(testID int64) (*scriptUser, error) {
	if a.Isolation == IsolationOff {
		return nil, nil
	}
	if os.Geteuid() != 0 {
		msg := fmt.Sprintf("agent %s runs as uid %d, not root, so it cannot run scripts as per-test users; "+
			"run it as root, or start it with --isolation off to run scripts as its own user", a.Host, os.Geteuid())
		return nil, temporal.NewNonRetryableApplicationError(msg, contract.ErrNoIsolation, nil)
	}
	r := a.uids()
	id := r.First + uint32(uint64(testID)%uint64(r.Count))
	return &scriptUser{uid: id, gid: id}, nil
}

// makeTestDirs creates a test's directories: the test directory (the
// script and hooks; the agent's, readable by the test's group), the
// results directory the script runs in and its home, both the test user's
// alone. Nothing of another test is reachable from them.
func makeTestDirs(dir string, u *scriptUser) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	for _, sub := range []string{resultsDir(dir), homeDir(dir)} {
		if err := os.Mkdir(sub, 0o700); err != nil {
			return err
		}
		if u != nil {
			if err := os.Chown(sub, int(u.uid), int(u.gid)); err != nil {
				return err
			}
		}
	}
	if u == nil {
		return nil
	}
	// The test's group may enter and read the test directory, no one else.
	if err := os.Chown(dir, 0, int(u.gid)); err != nil {
		return err
	}
	return os.Chmod(dir, 0o750)
}

// writeScript writes an inline script or hook into the test directory,
// where the test's group may read and run it but not change it.
func writeScript(path, text string, u *scriptUser) error {
	if err := os.WriteFile(path, []byte(text), 0o750); err != nil {
		return err
	}
	if u == nil {
		return nil
	}
	return os.Chown(path, 0, int(u.gid))
}

func homeDir(testDir string) string { return filepath.Join(testDir, "home") }

// agentEnv are the agent's variables a script may see; nothing else of
// the agent's environment reaches it (no credentials, no Temporal or
// Pitwall settings).
var agentEnv = []string{"PATH", "LANG", "TZ"}

// defaultPath is the script's PATH when the agent has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ScriptEnv is the script's whole environment: PATH, LANG and TZ from the
// agent's, HOME (the test's own), the variables the framework declares,
// and the test's PITWALL_ values, which nothing overrides.
func ScriptEnv(base []string, in contract.ExecuteInput, host, home string) []string {
	env := make([]string, 0, len(agentEnv)+len(in.Env)+len(in.Params)+6)
	path := defaultPath
	for _, kv := range base {
		name, v, _ := strings.Cut(kv, "=")
		switch {
		case name == "PATH":
			path = v
		case name == "LANG" || name == "TZ":
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+path, "HOME="+home)
	for name, v := range in.Env {
		if !strings.HasPrefix(strings.ToUpper(name), "PITWALL_") && name != "HOME" {
			env = setEnv(env, name, v)
		}
	}
	env = append(env,
		fmt.Sprintf("PITWALL_TEST_ID=%d", in.TestID),
		"PITWALL_FRAMEWORK="+in.Framework,
		"PITWALL_RESULTS_DIR="+in.ResultsDir,
		"PITWALL_HOST="+host,
	)
	if in.Iteration > 0 {
		env = append(env, fmt.Sprintf("PITWALL_ITERATION=%d", in.Iteration))
	}
	if in.Commit != "" {
		env = append(env, "PITWALL_COMMIT="+in.Commit)
	}
	for _, p := range in.Params {
		env = append(env, "PITWALL_PARAM_"+strings.ToUpper(p.Name)+"="+p.Value)
	}
	for _, kv := range in.RoleEnv {
		if strings.HasPrefix(kv, "PITWALL_ROLE") {
			env = append(env, kv)
		}
	}
	for _, kv := range in.ServiceEnv {
		if strings.HasPrefix(kv, "PITWALL_SERVICE_") {
			env = append(env, kv)
		}
	}
	return env
}

// setEnv sets name in env, replacing an earlier value.
func setEnv(env []string, name, v string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			env[i] = name + "=" + v
			return env
		}
	}
	return append(env, name+"="+v)
}

// errNotRunnable explains a script the test's user cannot run.
func errNotRunnable(path string, u *scriptUser, err error) error {
	msg := fmt.Sprintf("start %s: %v", path, err)
	if u != nil && strings.Contains(err.Error(), "permission denied") {
		msg += fmt.Sprintf(" (scripts run as uid %d, which must be able to read and run it)", u.uid)
	}
	return temporal.NewNonRetryableApplicationError(msg, contract.ErrBadScript, err)
}
