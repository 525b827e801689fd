package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/wire"
)

// timeline reads a test's transitions and stages as "state:NAME" and
// "stage:NAME=DETAIL", in time order.
func timeline(t *testing.T, id int64) []string {
	t.Helper()
	rows, err := testPool.Query(context.Background(), `
		SELECT 'state:' || state, at FROM test_transitions WHERE test_id = $1
		UNION ALL SELECT 'stage:' || name || '=' || detail, at FROM test_stages WHERE test_id = $1
		ORDER BY 2, 1`, id)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		var at time.Time
		require.NoError(t, rows.Scan(&s, &at))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// A transition is one statement: its stages are stored once (a retry, or
// a name twice in one call, adds nothing), the state moves once, an ended
// test stays ended, and a call without a state stores only stages.
func TestTransitionOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, id := setup(t)
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	running := Transition{TestID: id, State: wire.StateRunning, At: at(30), Host: "h1", Hosts: []string{"h1"},
		Stages: []Stage{{Name: "lease acquired", At: at(10), Detail: "h1"}, {Name: "setup done", At: at(20)},
			{Name: "lease acquired", At: at(25), Detail: "again"}}}
	require.NoError(t, s.TestTransition(ctx, running))
	require.NoError(t, s.TestTransition(ctx, running), "a retried transition")
	require.NoError(t, s.TestTransition(ctx, Transition{TestID: id, Stages: []Stage{{Name: "monitors started", At: at(40)}}}))
	code := 0
	require.NoError(t, s.TestTransition(ctx, Transition{TestID: id, State: wire.StateFinished, At: at(60), ExitCode: &code,
		Stages: []Stage{{Name: "script ended", At: at(50), Detail: "exit 0"}}}))
	require.NoError(t, s.TestTransition(ctx, Transition{TestID: id, State: wire.StateFailed, At: at(70), Reason: "late",
		Stages: []Stage{{Name: "late stage", At: at(65)}}}), "an ended test stays ended; its stages still count")

	require.Equal(t, []string{"stage:lease acquired=h1", "stage:setup done=", "state:running", "stage:monitors started=",
		"stage:script ended=exit 0", "state:finished", "stage:late stage="}, timeline(t, id))
	row, err := s.TestRow(ctx, id)
	require.NoError(t, err)
	require.Equal(t, wire.StateFinished, row.State)
	require.Equal(t, "h1", row.Host)
	require.NotNil(t, row.ExitCode)
	require.Equal(t, 0, *row.ExitCode)
	require.NotNil(t, row.EndedAt)
	require.True(t, row.EndedAt.Equal(at(60)))
}

// TestMove records a transition only forward and before the end, and
// says what the test was in either way: a step back, or any step of an
// ended test, changes nothing, its stages included.
func TestMoveOnlyForwardBeforeTheEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, id := setup(t)
	order := []string{wire.StateQueued, wire.StateWaiting, wire.StateSetup, wire.StateRunning, wire.StateCollating}
	t0 := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	move := func(state string, ms int, stage string) string {
		t.Helper()
		from, err := s.TestMove(ctx, Transition{TestID: id, State: state, At: at(ms), Stages: []Stage{{Name: stage, At: at(ms)}}}, order)
		require.NoError(t, err)
		return from
	}
	before, err := s.TestRow(ctx, id)
	require.NoError(t, err)
	require.Equal(t, before.State, move(wire.StateRunning, 10, "to running"))
	require.Equal(t, wire.StateRunning, move(wire.StateRunning, 20, "running again"), "the same state again")
	require.Equal(t, wire.StateRunning, move(wire.StateWaiting, 30, "back to waiting"))
	require.Equal(t, wire.StateRunning, move("", 40, "stages only"))
	require.Equal(t, wire.StateRunning, move(wire.StateFinished, 50, "the end"))
	require.Equal(t, wire.StateFinished, move(wire.StateFinished, 60, "the end again"))
	require.Equal(t, wire.StateFinished, move("", 70, "after the end"))

	row, err := s.TestRow(ctx, id)
	require.NoError(t, err)
	require.Equal(t, wire.StateFinished, row.State)
	got := timeline(t, id)
	require.Subset(t, got, []string{"stage:to running=", "state:running", "stage:running again=", "stage:stages only=",
		"stage:the end=", "state:finished"})
	for _, no := range []string{"stage:back to waiting=", "state:waiting", "stage:the end again=", "stage:after the end="} {
		require.NotContains(t, got, no)
	}

	_, err = s.TestMove(ctx, Transition{TestID: -1, State: wire.StateRunning, At: at(80)}, order)
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, s.TestTransition(ctx, Transition{TestID: -1, State: wire.StateRunning, At: at(80)}),
		"TestTransition of no test changes nothing, as before")
}

// A test is created with its queued transition; a framework that does not
// exist is not found and creates nothing.
func TestCreateWithItsTransition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(testPool)
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	id, err := s.TestCreate(ctx, NewTest{Team: "store", Framework: "store-tests", Branch: "main"}, at)
	require.NoError(t, err)
	require.Equal(t, []string{"state:queued"}, timeline(t, id))
	_, err = s.TestCreate(ctx, NewTest{Team: "store", Framework: "no-such-framework"}, at)
	require.ErrorIs(t, err, ErrNotFound)
}

// Notes of a source are replaced in order; none deletes them.
func TestNotesReplaceInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, id := setup(t)
	require.NoError(t, s.NotesReplace(ctx, id, "table:a", []string{"one", "two", "three"}))
	require.NoError(t, s.NotesReplace(ctx, id, "table:b", []string{"b"}))
	require.NoError(t, s.NotesReplace(ctx, id, "table:a", []string{"first", "second"}))
	got, err := s.TestGet(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"first", "second", "b"}, got.Notes)
	require.NoError(t, s.NotesReplace(ctx, id, "table:a", nil))
	got, err = s.TestGet(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, got.Notes)
}

// TestGet reads a test with its notes, verdicts, KPIs and timeline in one
// batch; a test that does not exist is not found.
func TestGetWithEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, id := setup(t)
	at := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	require.NoError(t, s.TestTransition(ctx, Transition{TestID: id, State: wire.StateRunning, At: at.Add(time.Second), Host: "h1",
		Stages: []Stage{{Name: "lease acquired", At: at, Detail: "h1"}}}))
	require.NoError(t, s.TestResultsStore(ctx, id, []IterationResults{{Iteration: 1,
		KPIs: []results.KPI{{Name: "p50", Value: 4.5, Unit: "ms", Raw: "4.5"}}}}, []string{"a note"}))
	_, err := testPool.Exec(ctx, `INSERT INTO test_kpi_verdicts (test_id, kpi, verdict, delta_pct, ci_low_pct, ci_high_pct,
		p_value, method, baseline_n, candidate_n, evidence, baseline_tests)
		VALUES ($1, 'p50', 'unchanged', 0.5, -1, 2, 0.4, 'welch', 5, 1, '{}', '{}')`, id)
	require.NoError(t, err)

	got, err := s.TestGet(ctx, id)
	require.NoError(t, err)
	require.Equal(t, id, got.ID)
	require.Equal(t, wire.StateRunning, got.State)
	require.Equal(t, "store-tests", got.Framework)
	require.Equal(t, []string{"a note"}, got.Notes)
	require.Len(t, got.KPIs, 1)
	require.Equal(t, wire.KPI{Name: "p50", Iteration: 1, Value: 4.5, Unit: "ms", Raw: "4.5"}, got.KPIs[0])
	require.Len(t, got.Verdicts, 1)
	require.Equal(t, "unchanged", got.Verdicts[0].Verdict)
	var timeline []string
	for _, st := range got.Timeline {
		timeline = append(timeline, st.Kind+":"+st.Stage)
	}
	require.Equal(t, []string{"stage:lease acquired", "state:running"}, timeline)

	_, err = s.TestGet(ctx, id+1_000_000)
	require.ErrorIs(t, err, ErrNotFound)
}
