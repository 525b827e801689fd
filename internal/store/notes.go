package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// NotesReplace replaces the notes a test has from one source (kpis,
// table:<name>, artifact:<path>), so a retry leaves one copy.
func (s *Store) NotesReplace(ctx context.Context, testID int64, source string, notes []string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return notesReplace(ctx, tx, testID, source, notes)
	})
}

func notesReplace(ctx context.Context, tx pgx.Tx, testID int64, source string, notes []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM test_notes WHERE test_id = $1 AND source = $2`, testID, source); err != nil {
		return err
	}
	for i, n := range notes {
		if _, err := tx.Exec(ctx, `INSERT INTO test_notes (test_id, source, seq, note) VALUES ($1, $2, $3, $4)`,
			testID, source, i, n); err != nil {
			return fmt.Errorf("note: %w", err)
		}
	}
	return nil
}

func (s *Store) testNotes(ctx context.Context, id int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT note FROM test_notes WHERE test_id = $1
		ORDER BY source = 'kpis' DESC, source, seq`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
