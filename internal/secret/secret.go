// Package secret reads settings that must stay off command lines, which
// every user of a host can read (ps, /proc/PID/cmdline): passwords,
// tokens, database URLs holding a password, API keys. Each comes from an
// environment variable or a file; a flag still works, with a warning.
// It imports nothing of Pitwall's, so every command (the starter too) can
// use it.
package secret

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Flag is a secret setting: it comes from the environment variable ENV,
// or from a file named by ENV_FILE or --NAME-file; --NAME still works,
// and Load says it is exposed.
type Flag struct {
	name, env string
	// value and file are what the command line gave (nil: nothing).
	value, file *string
	// Warning, set by Load, says the secret was given on the command line.
	Warning string
}

// Flags registers --name and --name-file on fs for a secret whose
// environment variables are env and env_FILE; what describes it for -help.
func (s *Flag) Flags(fs *flag.FlagSet, name, env, what string) {
	s.name, s.env = name, env
	fs.Func(name, fmt.Sprintf("%s (env %s; prefer it or --%s-file: a command line is visible to every user of the host)", what, env, name),
		func(v string) error { s.value = &v; return nil })
	fs.Func(name+"-file", fmt.Sprintf("file holding the %s, readable by this process's user alone (env %s_FILE)", what, env),
		func(v string) error { s.file = &v; return nil })
}

// FromEnv is a secret read from the environment variable env, or from
// the file named by env_FILE; it has no flag.
func FromEnv(env string, getenv func(string) string) (string, error) {
	s := Flag{env: env}
	return s.Load(getenv)
}

// Load returns the secret ("" when none was given): from the command
// line first (--name, with a Warning, or --name-file), else from the
// environment (env, or the file env_FILE names). Giving both a value and
// a file at the same level is an error, as is an empty or unreadable file.
// getenv is os.Getenv, or a test's own.
func (s *Flag) Load(getenv func(string) string) (string, error) {
	s.Warning = ""
	switch {
	case s.value != nil && s.file != nil:
		return "", fmt.Errorf("give --%s or --%s-file, not both", s.name, s.name)
	case s.value != nil:
		s.Warning = fmt.Sprintf("--%s is on the command line, where every user of this host can read it (ps, /proc/PID/cmdline); "+
			"give it with %s or --%s-file", s.name, s.env, s.name)
		return *s.value, nil
	case s.file != nil:
		return readSecret(*s.file, "--"+s.name+"-file")
	}
	if s.env == "" {
		return "", nil
	}
	v, file := getenv(s.env), getenv(s.env+"_FILE")
	switch {
	case v != "" && file != "":
		return "", fmt.Errorf("set %s or %s_FILE, not both", s.env, s.env)
	case file != "":
		return readSecret(file, s.env+"_FILE")
	}
	return v, nil
}

// readSecret reads a secret from path, without the line end a text
// editor adds.
func readSecret(path, from string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s is empty", from)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", from, err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%s: %s is empty", from, path)
	}
	return v, nil
}

// Warnings collects the warnings of secrets already loaded.
func Warnings(secrets ...*Flag) []string {
	var out []string
	for _, s := range secrets {
		if s.Warning != "" {
			out = append(out, s.Warning)
		}
	}
	return out
}
