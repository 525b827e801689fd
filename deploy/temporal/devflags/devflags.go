// Package devflags reads the flags of `pitwall-temporal dev`, the dev mode
// of Pitwall's Temporal server (deploy/temporal/dev.go), apart from the
// server so that they are tested without linking it.
package devflags

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
)

// Options are the dev server's flags.
type Options struct {
	IP     string
	Port   int
	UIPort int // 0: no web UI
	// PProfPort serves net/http/pprof on IP (0: not served), for a CPU
	// profile of the server under a benchmark's load.
	PProfPort int
	DBFile    string
	Namespace string
	LogLevel  string
	Dynamic   map[string]any
	// Search are the namespace's custom search attributes, in place when
	// the server starts (a worker need not register them and then wait for
	// the server's cache of them to refresh).
	Search map[string]enumspb.IndexedValueType
}

// Parse reads `pitwall-temporal dev`'s flags. A dynamic config value is
// KEY=VALUE, VALUE read as JSON (1000, true, "text") or else as a string.
func Parse(args []string) (Options, error) {
	o := Options{Dynamic: map[string]any{}, Search: map[string]enumspb.IndexedValueType{}}
	fs := flag.NewFlagSet("pitwall-temporal dev", flag.ContinueOnError)
	fs.StringVar(&o.IP, "ip", "127.0.0.1", "the address every service listens on")
	fs.IntVar(&o.Port, "port", 7233, "the frontend's gRPC port")
	fs.IntVar(&o.UIPort, "ui-port", 0, "the web UI's port (0: no web UI)")
	fs.IntVar(&o.PProfPort, "pprof-port", 0, "serve net/http/pprof on this port (0: not served)")
	fs.StringVar(&o.DBFile, "db-filename", "", "keep the history in this SQLite file (empty: in memory, gone at exit)")
	fs.StringVar(&o.Namespace, "namespace", "default", "the namespace to create")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "debug, info, warn or error")
	fs.Func("dynamic-config-value", "KEY=VALUE, repeatable: a dynamic config setting (VALUE as JSON, else a string)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not KEY=VALUE", s)
		}
		o.Dynamic[k] = dynamicValue(v)
		return nil
	})
	fs.Func("search-attribute", "NAME=TYPE, repeatable: a search attribute of the namespace (TYPE Keyword, Int, Text, Double, Bool, Datetime or KeywordList)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not NAME=TYPE", s)
		}
		t, err := enumspb.IndexedValueTypeFromString(v)
		if err != nil || t == enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return fmt.Errorf("search attribute %s: %q is not a type", k, v)
		}
		o.Search[k] = t
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.Port <= 0 || o.Port > 65535 || o.UIPort < 0 || o.UIPort > 65535 || o.PProfPort < 0 || o.PProfPort > 65535 {
		return o, errors.New("-port, -ui-port and -pprof-port must be TCP ports")
	}
	if net.ParseIP(o.IP) == nil {
		return o, fmt.Errorf("-ip %q is not an IP address", o.IP)
	}
	return o, nil
}

// dynamicValue reads a dynamic config value as JSON, a number as an int
// where it is whole (the server's integer settings take nothing else), and
// anything that is not JSON as a string.
func dynamicValue(v string) any {
	d := json.NewDecoder(strings.NewReader(v))
	d.UseNumber()
	var val any
	if err := d.Decode(&val); err != nil || d.More() {
		return v
	}
	if n, ok := val.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return int(i)
		}
		f, _ := n.Float64()
		return f
	}
	return val
}
