package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// newFlags returns a flag set for one command that also takes the global
// flags, and never prints or exits by itself.
func (c *cli) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.server, "server", c.server, "Pitwall server URL")
	c.token.Flags(fs, "token", "PITWALL_TOKEN", "API token")
	return fs
}

// parse reads flags wherever they stand among the positional arguments,
// as CI scripts write them (starter run sample --wait -p n=1).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageErr("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// pairs is a repeatable NAME=VALUE flag; the value may itself hold '='.
type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }

func (p pairs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q must be NAME=VALUE", s)
	}
	if _, dup := p[k]; dup {
		return fmt.Errorf("%s is given twice", k)
	}
	p[k] = v
	return nil
}

// testID reads the single positional test ID of status, wait and friends.
func testID(cmd string, pos []string) (int64, error) {
	if len(pos) != 1 {
		return 0, usageErr("%s needs exactly one test ID", cmd)
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErr("%s: test ID %q is not a positive number", cmd, pos[0])
	}
	return id, nil
}

// parseTestID parses a command's flags and its single positional test ID.
func parseTestID(fs *flag.FlagSet, args []string) (int64, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return 0, err
	}
	return testID(fs.Name(), pos)
}
