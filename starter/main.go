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
              [--tag KEY=VALUE]... [--baseline] [--compare-to ID] [--priority low|normal|high] [--wait] [--json]
  starter status ID [--json]
  starter wait ID [--json]
  starter abort ID [--reason TEXT]
  starter logs ID [-f] [--timestamps] [--json]
  starter results ID [--json | --csv] [--junit FILE]
  starter compare ID ID [ID...] [--json]
  starter export ID > test.json
  starter import test.json
  starter schedule list FRAMEWORK [--team T] [--json]
  starter schedule show ID [--json]
  starter schedule create FRAMEWORK (--cron EXPR | --interval DURATION | --calendar FIELD=VALUE...)
              [--timezone ZONE] [-p NAME=VALUE]... [--branch NAME] [--overlap POLICY]
              [--catchup-window DURATION] [--pause-after-failures N] [--priority P] [--description TEXT] [--team T]
  starter schedule update ID [the flags of create: only those given change]
  starter schedule pause|resume ID [--note TEXT]
  starter schedule trigger ID                   run it now, under its overlap policy
  starter schedule backfill ID --start TIME --end TIME [--overlap POLICY]
                                                run the runs due in a past period (RFC 3339
                                                times, at most 31 days), one after another
  starter schedule delete ID
  starter alerts [list] [--team T] [--framework F] [--state unresolved|open|acknowledged|resolved] [--json]
  starter alerts show ID [--json]              its history and deliveries
  starter alerts ack|resolve ID [--note TEXT]
  starter confirm ID [--kpi NAME]... [--budget N] [--order abba|random] [--base-test ID] [--wait] [--json]
                                                interleaved runs of the baseline's commit and the
                                                test's on its host until the regression is told
  starter bisect ID [--good SHA] [--commits SHA,SHA,...] [--kpi NAME] [--budget N] [--order O]
              [--base-test ID] [--wait] [--json]  find the first bad commit between good and the test's
  starter confirm show|cancel ID [--json]       (bisect show|cancel: the same)
  starter agent-token HOST [--out FILE]        enrol an agent (site admins): its token,
                                                written to FILE (0600) unless FILE has one

global flags (before or after the command):
  --server URL       Pitwall server (env PITWALL_SERVER, default http://127.0.0.1:8080)
  --token-file FILE  file holding the API token (env PITWALL_TOKEN_FILE)
  --token TOKEN      API token (env PITWALL_TOKEN); prefer the env or --token-file:
                     a command line is visible to every user of the host

In GitHub Actions (GITHUB_ACTIONS=true), run takes the commit, branch and pull
request its flags leave out from the job's environment (on a pull request: its
head commit, not GitHub's merge commit) and says what it took on stderr.

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
	g := globals{server: getenv("PITWALL_SERVER"), getenv: getenv}
	if g.server == "" {
		g.server = "http://127.0.0.1:8080"
	}
	// Global flags may come before the command too.
	gfs := flag.NewFlagSet("starter", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	gfs.StringVar(&g.server, "server", g.server, "")
	g.token.Flags(gfs, "token", "PITWALL_TOKEN", "API token")
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
	if cmd == "framework" {
		if len(rest) == 0 {
			return usageErr("framework needs a subcommand: apply or list")
		}
		cmd, rest = "framework "+rest[0], rest[1:]
		if _, ok := c.commands()[cmd]; !ok {
			return usageErr("unknown framework subcommand %q (want apply or list)", strings.TrimPrefix(cmd, "framework "))
		}
	}
	if cmd == "alerts" {
		if len(rest) == 0 {
			rest = []string{"list"}
		}
		cmd, rest = "alerts "+rest[0], rest[1:]
		if _, ok := c.commands()[cmd]; !ok {
			return usageErr("unknown alerts subcommand %q (want %s)", strings.TrimPrefix(cmd, "alerts "), strings.Join(alertCommands, ", "))
		}
	}
	if cmd == "schedule" {
		if len(rest) == 0 {
			return usageErr("schedule needs a subcommand: %s", strings.Join(scheduleCommands, ", "))
		}
		cmd, rest = "schedule "+rest[0], rest[1:]
		if _, ok := c.commands()[cmd]; !ok {
			return usageErr("unknown schedule subcommand %q (want %s)", strings.TrimPrefix(cmd, "schedule "), strings.Join(scheduleCommands, ", "))
		}
	}
	if (cmd == "confirm" || cmd == "bisect") && len(rest) > 0 && (rest[0] == "show" || rest[0] == "cancel") {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	if run, ok := c.commands()[cmd]; ok {
		return run(ctx, rest)
	}
	return usageErr("unknown command %q; run 'starter --help'", cmd)
}

// commands maps each command line's leading words to what runs it.
func (c *cli) commands() map[string]func(context.Context, []string) error {
	return map[string]func(context.Context, []string) error{
		"framework apply": c.frameworkApply, "framework list": c.frameworkList,
		"run": c.run, "status": c.status, "wait": c.wait, "results": c.results,
		"compare": c.compare, "export": c.export, "import": c.importTest,
		"abort": c.abortTest, "logs": c.logs, "agent-token": c.agentToken,
		"schedule list": c.scheduleList, "schedule show": c.scheduleShow, "schedule create": c.scheduleCreate,
		"schedule update": c.scheduleUpdate, "schedule pause": c.scheduleAct("pause"), "schedule resume": c.scheduleAct("resume"),
		"schedule trigger": c.scheduleAct("trigger"), "schedule backfill": c.scheduleBackfill,
		"schedule delete": c.scheduleAct("delete"),
		"alerts list":     c.alertsList, "alerts show": c.alertsShow,
		"confirm": c.confirm, "bisect": c.bisect,
		"confirm show": c.seriesShow("confirm show"), "bisect show": c.seriesShow("bisect show"),
		"confirm cancel": c.seriesCancel("confirm cancel"), "bisect cancel": c.seriesCancel("bisect cancel"),
		"alerts ack": c.alertsAct("ack", "acknowledge"), "alerts resolve": c.alertsAct("resolve", "resolve"),
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
