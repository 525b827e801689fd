// Command starter is Pitwall's command-line client, the one CI uses: apply
// frameworks, run tests, wait for them and read their results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes, the contract CI relies on (DESIGN.md, "starter").
const (
	// ExitOK: the test finished and no KPI regressed (or the command succeeded).
	ExitOK = 0
	// ExitRegressed: the test finished and at least one KPI regressed.
	ExitRegressed = 1
	// ExitTestFailed: the test failed, was aborted or timed out.
	ExitTestFailed = 2
	// ExitUsage: bad usage, bad input, a refused request or an unreachable server.
	ExitUsage = 3
)

const usage = `usage:
  starter framework apply -f FILE.yaml          create or update, idempotent
  starter framework list
  starter run FRAMEWORK [-p NAME=VALUE]... [--commit SHA] [--branch NAME] [--pr N]
              [--tag KEY=VALUE]... [--baseline] [--compare-to ID] [--wait] [--json]
  starter status ID [--json]
  starter wait ID [--json]
  starter abort ID [--reason TEXT]
  starter logs ID [-f] [--timestamps] [--json]
  starter results ID [--json | --csv] [--junit FILE]
  starter compare ID ID [ID...] [--json]
  starter export ID > test.json
  starter import test.json

global flags (before or after the command):
  --server URL   Pitwall server (env PITWALL_SERVER, default http://127.0.0.1:8080)
  --token TOKEN  API token (env PITWALL_TOKEN)

exit status: 0 finished and no KPI regressed; 1 finished with a regression;
2 the test failed, was aborted or timed out; 3 bad usage, bad input, refused or
unreachable server.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code and the one-line reason printed on stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &exitError{ExitUsage, fmt.Sprintf(format, args...)}
}

// run is the whole command, with its environment passed in so tests can
// drive it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		ee = &exitError{ExitUsage, err.Error()}
	}
	if ee.msg != "" {
		fmt.Fprintln(stderr, "starter: "+oneLine(ee.msg))
	}
	return ee.code
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	g := globals{server: getenv("PITWALL_SERVER"), token: getenv("PITWALL_TOKEN")}
	if g.server == "" {
		g.server = "http://127.0.0.1:8080"
	}
	// Global flags may come before the command too.
	gfs := flag.NewFlagSet("starter", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	gfs.StringVar(&g.server, "server", g.server, "")
	gfs.StringVar(&g.token, "token", g.token, "")
	help := gfs.Bool("help", false, "")
	gfs.BoolVar(help, "h", false, "")
	if err := gfs.Parse(args); err != nil {
		return usageErr("%v", err)
	}
	args = gfs.Args()
	if *help {
		args = []string{"help"}
	}
	if len(args) == 0 || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return &exitError{ExitUsage, "no command given"}
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	c := &cli{globals: &g, stdout: stdout, stderr: stderr}
	switch cmd {
	case "framework":
		if len(rest) == 0 {
			return usageErr("framework needs a subcommand: apply or list")
		}
		switch rest[0] {
		case "apply":
			return c.frameworkApply(ctx, rest[1:])
		case "list":
			return c.frameworkList(ctx, rest[1:])
		}
		return usageErr("unknown framework subcommand %q (want apply or list)", rest[0])
	case "run":
		return c.run(ctx, rest)
	case "status":
		return c.status(ctx, rest)
	case "wait":
		return c.wait(ctx, rest)
	case "results":
		return c.results(ctx, rest)
	case "compare":
		return c.compare(ctx, rest)
	case "export":
		return c.export(ctx, rest)
	case "import":
		return c.importTest(ctx, rest)
	case "abort":
		return c.abortTest(ctx, rest)
	case "logs":
		return c.logs(ctx, rest)
	}
	return usageErr("unknown command %q; run 'starter --help'", cmd)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
