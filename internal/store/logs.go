package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/ingest"
	"github.com/pitwall/pitwall/internal/wire"
)

// LogCap bounds what one test's log keeps.
type LogCap struct {
	// Lines caps the test's output lines and Bytes the bytes of text of
	// every line it keeps.
	Lines, Bytes int64
	// Notices is how many lines on Pitwall's own stream (the agent's
	// markers of lines it dropped) are kept besides Lines, so that a test
	// that reached the agent's cap still shows the agent's count.
	Notices int64
	// Marker gives the text of the one line that says how many of the
	// test's lines were dropped; it is also kept as the test's "logs" note.
	Marker func(dropped int64) string
}

// LogWritten is what became of a batch of output lines.
type LogWritten struct {
	// Fresh is false for a batch delivered before: nothing was written again.
	Fresh bool
	// Written lines were stored, Dropped lines were past the caps.
	Written, Dropped int
}

// logTotals is a test's row of test_log_totals.
type logTotals struct {
	lines, bytes, notices, dropped int64
	marker                         *int64
}

// keep says whether the caps let l into the log, and counts it either way.
// Once a line has been dropped, the test's later output is dropped too, so
// the log has no holes and ends where the marker says.
func (t *logTotals) keep(l *ingest.Line, c *LogCap) bool {
	size := int64(len(l.Text))
	notice := l.Stream == ingest.StreamPitwall
	fits := t.bytes+size <= c.Bytes
	if notice {
		fits = fits && t.notices < c.Notices
	} else {
		fits = fits && t.dropped == 0 && t.lines < c.Lines
	}
	switch {
	case !fits:
		t.dropped++
		return false
	case notice:
		t.notices++
	default:
		t.lines++
	}
	t.bytes += size
	return true
}

// LogIngest writes a batch of output lines with COPY, once, up to the
// test's caps. Lines past them are counted; the first such batch adds a
// marker line (stream pitwall, not counted against the caps) and later
// ones update its count.
func (s *Store) LogIngest(ctx context.Context, b *ingest.Logs, c LogCap) (LogWritten, error) {
	var w LogWritten
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		fresh, err := claimBatch(ctx, tx, b.TestID, b.Host, "logs", b.Batch)
		if err != nil || !fresh {
			return err
		}
		// The upsert locks the test's row until commit: the test's batches
		// take turns from here, so together they cannot pass the caps.
		var t logTotals
		if err := tx.QueryRow(ctx, `INSERT INTO test_log_totals (test_id) VALUES ($1)
			ON CONFLICT (test_id) DO UPDATE SET test_id = EXCLUDED.test_id
			RETURNING lines, bytes, notices, dropped, marker_id`, b.TestID).
			Scan(&t.lines, &t.bytes, &t.notices, &t.dropped, &t.marker); err != nil {
			return fmt.Errorf("log totals: %w", err)
		}
		var firstDropped *ingest.Line
		dropped := t.dropped
		i := 0
		row := make([]any, 4)
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"test_logs"}, []string{"test_id", "ts", "stream", "line"},
			pgx.CopyFromFunc(func() ([]any, error) {
				for i < len(b.Lines) {
					l := &b.Lines[i]
					i++
					if t.keep(l, &c) {
						row[0], row[1], row[2], row[3] = b.TestID, time.UnixMilli(l.TS), l.Stream, l.Text
						return row, nil
					}
					if firstDropped == nil {
						firstDropped = l
					}
				}
				return nil, nil
			}))
		if err != nil {
			return fmt.Errorf("log copy: %w", err)
		}
		if firstDropped != nil {
			if err := logMarker(ctx, tx, b.TestID, &t, time.UnixMilli(firstDropped.TS), c.Marker(t.dropped)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE test_log_totals
			SET lines = $2, bytes = $3, notices = $4, dropped = $5, marker_id = $6 WHERE test_id = $1`,
			b.TestID, t.lines, t.bytes, t.notices, t.dropped, t.marker); err != nil {
			return fmt.Errorf("log totals: %w", err)
		}
		w = LogWritten{Fresh: true, Written: int(n), Dropped: int(t.dropped - dropped)}
		return nil
	})
	return w, err
}

// logMarker writes the line that counts a test's dropped lines, after the
// last line kept, or updates its count; and keeps the same text as the
// test's "logs" note, which the test page and starter show at the top.
func logMarker(ctx context.Context, tx pgx.Tx, testID int64, t *logTotals, ts time.Time, text string) error {
	if t.marker != nil {
		if _, err := tx.Exec(ctx, `UPDATE test_logs SET line = $2 WHERE test_id = $3 AND id = $1`, *t.marker, text, testID); err != nil {
			return fmt.Errorf("log marker: %w", err)
		}
	} else {
		t.marker = new(int64)
		if err := tx.QueryRow(ctx, `INSERT INTO test_logs (test_id, ts, stream, line) VALUES ($1, $2, $3, $4)
			RETURNING id`, testID, ts, ingest.StreamPitwall, text).Scan(t.marker); err != nil {
			return fmt.Errorf("log marker: %w", err)
		}
	}
	return notesReplace(ctx, tx, testID, "logs", []string{text})
}

// LogList returns a test's output lines after the cursor, oldest first.
func (s *Store) LogList(ctx context.Context, testID, after int64, limit int) ([]wire.LogLine, error) {
	from, to, err := s.logSpan(ctx, testID)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, ts, stream, line FROM test_logs
		WHERE test_id = $1 AND id > $2 AND ts BETWEEN $4 AND $5 ORDER BY id LIMIT $3`, testID, after, limit, from, to)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanLogLine)
}

// LogTail returns a test's last n output lines, oldest first, for pages
// that show the end of a log without reading all of it.
func (s *Store) LogTail(ctx context.Context, testID int64, n int) ([]wire.LogLine, error) {
	from, to, err := s.logSpan(ctx, testID)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, ts, stream, line FROM (
		SELECT id, ts, stream, line FROM test_logs WHERE test_id = $1 AND ts BETWEEN $3 AND $4
		ORDER BY id DESC LIMIT $2) t ORDER BY id`, testID, n, from, to)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanLogLine)
}

// logSlack is how far a log line's time (the agent's clock) may lie
// outside its test's life and still be read.
const logSlack = 24 * time.Hour

// logSpan is the time range a test's log lines lie in: from its creation
// to its end (or now), widened by logSlack. test_logs is partitioned by
// day of the lines' time, and a query by test alone reads the index of
// every partition (a year's logs: about 90): with the range it reads
// two or three. On the seeded year's test page the tail took 2.3 ms to
// plan and 2.3 to run, 0.4 and 0.1 with the range. An unknown test
// gets an empty range.
func (s *Store) logSpan(ctx context.Context, testID int64) (from, to time.Time, err error) {
	err = s.pool.QueryRow(ctx, `SELECT created_at - $2::interval, coalesce(ended_at, now()) + $2::interval
		FROM tests WHERE id = $1`, testID, logSlack).Scan(&from, &to)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, time.Time{}, nil
	}
	return from, to, err
}

func scanLogLine(r pgx.CollectableRow) (wire.LogLine, error) {
	var l wire.LogLine
	err := r.Scan(&l.ID, &l.TS, &l.Stream, &l.Line)
	return l, err
}
