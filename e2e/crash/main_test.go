// Package crash kills Pitwall's real processes (kill -9) and restarts
// PostgreSQL in the middle of tests, and checks that every test still ends
// in a true state with nothing lost. The server, worker and starter run as
// built binaries; Temporal is the Temporal CLI's dev server; e2e/stack
// starts them.
package crash

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/e2e/stack"
	"github.com/pitwall/pitwall/internal/proc"
	"github.com/pitwall/pitwall/internal/wire"
)

// st is the stack the package's tests share: the server and the central
// worker run as built binaries, which the tests kill -9 and restart.
var st *stack.Stack

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	var err error
	st, err = stack.Start(context.Background(), stack.Options{
		Name: "crash", Binaries: true, Build: []string{"ui", "worker", "starter", "cmd/pitwall-supervise"},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash set-up: %v\n", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}

// agent starts an agent process with its own name, token and work
// directory, and any further flags.
func agent(t *testing.T, name string, flags ...string) *proc.Proc {
	t.Helper()
	token, err := st.AgentToken(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	// As a careful operator would: the token in a file only the agent
	// reads, not on its command line, which every user of the host sees.
	tokenFile := filepath.Join(st.Dir, name+".token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := st.Spawn(name, "worker", append([]string{"--role", "agent", "--host", name, "--heartbeat", "500ms",
		"--work-dir", workDir(name), "--agent-token-file", tokenFile}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// workDir is where agent name runs its tests.
func workDir(name string) string { return filepath.Join(st.Dir, "work-"+name) }

// onlineAgent starts an agent for one test, waits until the server lists
// it as online, and stops it when the test ends.
func onlineAgent(t *testing.T, name string, flags ...string) *proc.Proc {
	t.Helper()
	ag := agent(t, name, flags...)
	t.Cleanup(func() { ag.Stop(10 * time.Second) })
	st.WaitAgentOnline(t, name)
	return ag
}

// apply applies a framework file given as text.
func apply(t *testing.T, yaml string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "fw.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := st.Starter(t, "framework", "apply", "-f", f); r.Code != 0 {
		t.Fatalf("apply: %s", r.Stderr)
	}
}

// run starts a test and returns its ID.
func run(t *testing.T, framework string) int64 {
	t.Helper()
	r := st.Starter(t, "run", framework, "--json")
	if r.Code != 0 {
		t.Fatalf("run: %s", r.Stderr)
	}
	var test wire.Test
	if err := json.Unmarshal([]byte(r.Stdout), &test); err != nil {
		t.Fatal(err)
	}
	return test.ID
}

// waitState polls the test (riding out a server that is down) until cond holds.
func waitState(t *testing.T, id int64, limit time.Duration, cond func(*wire.Test) bool) *wire.Test {
	t.Helper()
	got, err := st.Await(t.Context(), id, limit, cond)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func running(x *wire.Test) bool { return x.State == wire.StateRunning }

func hasStage(x *wire.Test, name string) bool {
	for _, s := range x.Timeline {
		if strings.HasPrefix(s.Stage, name) {
			return true
		}
	}
	return false
}

// logLines counts a test's stored stdout lines, and the distinct ones.
func logLines(t *testing.T, id int64) (lines, distinct int) {
	t.Helper()
	err := st.Pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT line) FROM test_logs
		WHERE test_id = $1 AND stream = 'stdout'`, id).Scan(&lines, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	return lines, distinct
}

// stdout is a test's stored stdout, in order.
func stdout(t *testing.T, id int64) []string {
	t.Helper()
	rows, err := st.Pool.Query(t.Context(), `SELECT line FROM test_logs WHERE test_id = $1 AND stream = 'stdout' ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// timeline prints a test's stages, one per line.
func timeline(x *wire.Test) string {
	var b strings.Builder
	for _, s := range x.Timeline {
		fmt.Fprintf(&b, "  %s  %s", s.At.Format("15:04:05.000"), s.Stage)
		if s.Reason != "" {
			fmt.Fprintf(&b, " (%s)", s.Reason)
		}
		b.WriteString("\n")
	}
	return b.String()
}
