package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// NotesReplace replaces the notes a test has from one source (kpis,
// table:<name>, artifact:<path>), so a retry leaves one copy.
// With no notes it is one statement, outside any transaction.
func (s *Store) NotesReplace(ctx context.Context, testID int64, source string, notes []string) error {
	if len(notes) == 0 {
		return notesReplace(ctx, s.pool, testID, source, nil)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return notesReplace(ctx, tx, testID, source, notes)
	})
}

// notesReplace deletes the source's notes and inserts notes in one
// statement (seq from 0), in db's transaction when it has one.
func notesReplace(ctx context.Context, db execer, testID int64, source string, notes []string) error {
	if _, err := db.Exec(ctx, `DELETE FROM test_notes WHERE test_id = $1 AND source = $2`, testID, source); err != nil {
		return err
	}
	if len(notes) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, `INSERT INTO test_notes (test_id, source, seq, note)
		SELECT $1, $2, n.seq - 1, n.note FROM unnest($3::text[]) WITH ORDINALITY AS n (note, seq)`,
		testID, source, notes); err != nil {
		return fmt.Errorf("note: %w", err)
	}
	return nil
}

const testNotesSQL = `SELECT note FROM test_notes WHERE test_id = $1 ORDER BY source = 'kpis' DESC, source, seq`
