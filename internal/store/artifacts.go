package store

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/results"
	"github.com/pitwall/pitwall/internal/wire"
)

// ArtifactTotal is the bytes of artifacts a test already has, other than path.
func (s *Store) ArtifactTotal(ctx context.Context, testID int64, except string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(size), 0) FROM artifacts WHERE test_id = $1 AND path <> $2`,
		testID, except).Scan(&n)
	return n, err
}

// Artifact is one stored file of a test.
type Artifact struct {
	Path        string
	Size        int64
	SHA256      string
	ContentType string
}

// ErrArtifactDiffers is an artifact sent again with other content: stored
// artifacts are never replaced.
var ErrArtifactDiffers = errors.New("an artifact of that path is stored with other content")

// ArtifactPut stores one artifact and, for a CSV table, its parsed table
// and notes. The same content sent again (a retry) changes nothing; other
// content for a stored path is ErrArtifactDiffers.
func (s *Store) ArtifactPut(ctx context.Context, testID int64, a Artifact, content []byte, table *results.Table, notes []string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO artifacts (test_id, path, size, sha256, content_type, content)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (test_id, path) DO NOTHING`,
			testID, a.Path, a.Size, a.SHA256, a.ContentType, content)
		if err != nil {
			return notFound(fkNotFound(err))
		}
		if tag.RowsAffected() == 0 {
			var stored string
			if err := tx.QueryRow(ctx, `SELECT sha256 FROM artifacts WHERE test_id = $1 AND path = $2`, testID, a.Path).Scan(&stored); err != nil {
				return err
			}
			if stored != a.SHA256 {
				return ErrArtifactDiffers
			}
			return nil
		}
		if err := notesReplace(ctx, tx, testID, "artifact:"+a.Path, notes); err != nil {
			return err
		}
		if table == nil {
			return nil
		}
		header, _ := json.Marshal(table.Header)
		rows, _ := json.Marshal(table.Rows)
		numeric, _ := json.Marshal(table.Numeric)
		_, err = tx.Exec(ctx, `INSERT INTO test_tables (test_id, name, header, rows, numeric) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (test_id, name) DO UPDATE SET header = EXCLUDED.header, rows = EXCLUDED.rows, numeric = EXCLUDED.numeric`,
			testID, table.Name, header, rows, numeric)
		return err
	})
}

// ArtifactList lists a test's artifacts by path.
func (s *Store) ArtifactList(ctx context.Context, testID int64) ([]wire.Artifact, error) {
	rows, err := s.pool.Query(ctx, `SELECT path, size, sha256, content_type, created_at FROM artifacts
		WHERE test_id = $1 ORDER BY path`, testID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (wire.Artifact, error) {
		var a wire.Artifact
		err := r.Scan(&a.Path, &a.Size, &a.SHA256, &a.ContentType, &a.CreatedAt)
		return a, err
	})
}

// ArtifactOpen writes one artifact's content to w.
func (s *Store) ArtifactOpen(ctx context.Context, testID int64, path string, w func(Artifact) io.Writer) error {
	var (
		a       Artifact
		content []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT path, size, sha256, content_type, content FROM artifacts
		WHERE test_id = $1 AND path = $2`, testID, path).Scan(&a.Path, &a.Size, &a.SHA256, &a.ContentType, &content)
	if err != nil {
		return notFound(err)
	}
	_, err = w(a).Write(content)
	return err
}
