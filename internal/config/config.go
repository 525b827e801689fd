// Package config holds the settings Pitwall's processes share, read from
// flags over environment variables over defaults.
package config

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"go.temporal.io/sdk/client"
)

// Version is Pitwall's version, set at build time with -ldflags.
var Version = "dev"

// Env returns the environment variable key, or def when it is unset or empty.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Temporal says how to reach the Temporal service.
type Temporal struct {
	Address   string
	Namespace string
}

// Flags registers the Temporal flags, defaulting from TEMPORAL_ADDRESS and
// TEMPORAL_NAMESPACE.
func (t *Temporal) Flags(fs *flag.FlagSet) {
	fs.StringVar(&t.Address, "temporal-address", Env("TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port (env TEMPORAL_ADDRESS)")
	fs.StringVar(&t.Namespace, "temporal-namespace", Env("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (env TEMPORAL_NAMESPACE)")
}

// Validate reports a missing or malformed setting.
func (t *Temporal) Validate() error {
	if t.Address == "" || !strings.Contains(t.Address, ":") {
		return fmt.Errorf("temporal address %q must be host:port", t.Address)
	}
	if t.Namespace == "" {
		return fmt.Errorf("temporal namespace is empty")
	}
	return nil
}

// Options are the client options for this Temporal service.
func (t *Temporal) Options() client.Options {
	return client.Options{HostPort: t.Address, Namespace: t.Namespace}
}

// Labels is a repeatable k=v flag.
type Labels map[string]string

func (l Labels) String() string {
	parts := make([]string, 0, len(l))
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

// Set parses one k=v pair.
func (l Labels) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q must be key=value", s)
	}
	l[k] = v
	return nil
}
