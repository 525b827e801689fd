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

// ArtifactChunk is the size of the pieces an artifact's content is stored
// in (artifact_chunks), and read back one at a time.
const ArtifactChunk = 1 << 20

// ErrArtifactDiffers is an artifact sent again with other content: stored
// artifacts are never replaced.
var ErrArtifactDiffers = errors.New("an artifact of that path is stored with other content")

// ArtifactPut stores one artifact, its content in chunks, and, for a CSV
// table, its parsed table and notes. The same content sent again (a retry)
// changes nothing; other content for a stored path is ErrArtifactDiffers.
func (s *Store) ArtifactPut(ctx context.Context, testID int64, a Artifact, content []byte, table *results.Table, notes []string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO artifacts (test_id, path, size, sha256, content_type)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (test_id, path) DO NOTHING`,
			testID, a.Path, a.Size, a.SHA256, a.ContentType)
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
		chunks := make([][]any, 0, (len(content)+ArtifactChunk-1)/ArtifactChunk)
		for off := 0; off < len(content); off += ArtifactChunk {
			chunks = append(chunks, []any{testID, a.Path, off / ArtifactChunk, content[off:min(off+ArtifactChunk, len(content))]})
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"artifact_chunks"}, []string{"test_id", "path", "seq", "data"},
			pgx.CopyFromRows(chunks)); err != nil {
			return err
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

// ErrArtifactChanged is an artifact deleted (with its test) or changed
// while it was being read.
var ErrArtifactChanged = errors.New("the artifact changed or was deleted while it was read")

// ArtifactOpen writes one artifact's content to the writer w gives for it,
// a chunk at a time: each chunk is read by a query of its own into one
// buffer, and written once the connection is back in the pool, so neither
// the server's memory nor its connections depend on the file's size or
// the client's speed. A chunk missing or of another version of the
// artifact (it went meanwhile) ends the copy with ErrArtifactChanged.
func (s *Store) ArtifactOpen(ctx context.Context, testID int64, path string, w func(Artifact) io.Writer) error {
	var a Artifact
	err := s.pool.QueryRow(ctx, `SELECT path, size, sha256, content_type FROM artifacts
		WHERE test_id = $1 AND path = $2`, testID, path).Scan(&a.Path, &a.Size, &a.SHA256, &a.ContentType)
	if err != nil {
		return notFound(err)
	}
	out := w(a)
	buf := make([]byte, 0, min(a.Size, ArtifactChunk))
	for seq, left := 0, a.Size; left > 0; seq++ {
		buf, err = s.artifactChunk(ctx, testID, a, seq, buf[:0])
		if err != nil {
			return err
		}
		if int64(len(buf)) > left || len(buf) < ArtifactChunk && int64(len(buf)) != left {
			return ErrArtifactChanged
		}
		if _, err := out.Write(buf); err != nil {
			return err
		}
		left -= int64(len(buf))
	}
	return nil
}

// artifactChunk appends chunk seq of artifact a, as a is now, to buf.
func (s *Store) artifactChunk(ctx context.Context, testID int64, a Artifact, seq int, buf []byte) ([]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.data FROM artifact_chunks c JOIN artifacts a USING (test_id, path)
		WHERE c.test_id = $1 AND c.path = $2 AND c.seq = $3 AND a.sha256 = $4`, testID, a.Path, seq, a.SHA256)
	if err != nil {
		return buf, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return buf, err
		}
		return buf, ErrArtifactChanged
	}
	if rows.FieldDescriptions()[0].Format == pgx.BinaryFormatCode {
		// The chunk's bytes as they came from the connection, copied
		// out before the next read replaces them.
		buf = append(buf, rows.RawValues()[0]...)
	} else {
		// The simple protocol (a pooler's setting) sends bytea as text.
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return buf, err
		}
		buf = append(buf, data...)
	}
	rows.Close()
	return buf, rows.Err()
}
