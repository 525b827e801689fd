package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/framework"
	"github.com/pitwall/pitwall/internal/wire"
)

// FrameworkApply creates the framework or, when its content changed, adds a
// new version. Applying an unchanged file changes nothing.
func (s *Store) FrameworkApply(ctx context.Context, f *framework.Framework) (wire.ApplyResult, error) {
	digest := f.Digest()
	var res wire.ApplyResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		id, version, err := frameworkRow(ctx, tx, f)
		if err != nil {
			return err
		}
		var current string
		if version > 0 {
			err = tx.QueryRow(ctx, `SELECT digest FROM framework_versions WHERE framework_id = $1 AND version = $2`,
				id, version).Scan(&current)
			if err != nil {
				return fmt.Errorf("framework current version: %w", err)
			}
		}
		if current == digest {
			return nil
		}
		res.Changed = true
		_, err = addVersion(ctx, tx, id, f, true)
		return err
	})
	if err != nil {
		return wire.ApplyResult{}, err
	}
	info, err := s.FrameworkGet(ctx, f.Team, f.Name)
	if err != nil {
		return wire.ApplyResult{}, err
	}
	res.Framework = *info
	return res, nil
}

// FrameworkImport makes sure a framework version with f's content exists
// and returns its number, for an imported test to refer to. A framework new
// here is created with f as its current version (and f.Owner as owner); an
// existing one keeps its current version and owner: the imported content
// becomes a version of its own (or reuses one with the same content), so
// importing a test never changes what the framework's owner runs next.
func (s *Store) FrameworkImport(ctx context.Context, f *framework.Framework) (int, error) {
	var version int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		id, current, err := frameworkRow(ctx, tx, f)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT version FROM framework_versions WHERE framework_id = $1 AND digest = $2
			ORDER BY version = $3 DESC, version DESC LIMIT 1`, id, f.Digest(), current).Scan(&version)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("framework version by content: %w", err)
		}
		version, err = addVersion(ctx, tx, id, f, current == 0)
		return err
	})
	return version, err
}

// frameworkRow creates the framework's row if it is new (with f's owner)
// and returns its ID and current version (0 for a new one), holding the
// row's lock, which serialises concurrent changes of one framework.
func frameworkRow(ctx context.Context, tx pgx.Tx, f *framework.Framework) (id int64, current int, err error) {
	err = tx.QueryRow(ctx, `
		INSERT INTO frameworks (team, name, current_version, owner) VALUES ($1, $2, 0, $3)
		ON CONFLICT (team, name) DO UPDATE SET team = EXCLUDED.team
		RETURNING id, current_version`, f.Team, f.Name, f.Owner).Scan(&id, &current)
	if err != nil {
		return 0, 0, fmt.Errorf("framework upsert: %w", err)
	}
	return id, current, nil
}

// addVersion stores f as the framework's next version, numbered after the
// newest (an import may have added one that is not current), and makes it
// current if asked.
func addVersion(ctx context.Context, tx pgx.Tx, id int64, f *framework.Framework, makeCurrent bool) (int, error) {
	spec, err := json.Marshal(f)
	if err != nil {
		return 0, err
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM framework_versions WHERE framework_id = $1`,
		id).Scan(&version); err != nil {
		return 0, fmt.Errorf("framework next version: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO framework_versions (framework_id, version, spec, digest) VALUES ($1, $2, $3, $4)`,
		id, version, spec, f.Digest()); err != nil {
		return 0, fmt.Errorf("framework version insert: %w", err)
	}
	if makeCurrent {
		if _, err := tx.Exec(ctx, `UPDATE frameworks SET current_version = $2, updated_at = now() WHERE id = $1`, id, version); err != nil {
			return 0, err
		}
	}
	return version, nil
}

const frameworkSelect = `
	SELECT v.spec, v.version, v.digest, f.updated_at
	FROM frameworks f JOIN framework_versions v ON v.framework_id = f.id AND v.version = f.current_version`

// FrameworkGet returns the current version of a team's framework.
func (s *Store) FrameworkGet(ctx context.Context, team, name string) (*wire.FrameworkInfo, error) {
	row := s.pool.QueryRow(ctx, frameworkSelect+` WHERE f.team = $1 AND f.name = $2`, team, name)
	info, err := scanFramework(row)
	return info, notFound(err)
}

// FrameworkList returns the current version of every framework, by team and name.
func (s *Store) FrameworkList(ctx context.Context) ([]wire.FrameworkInfo, error) {
	rows, err := s.pool.Query(ctx, frameworkSelect+` ORDER BY f.team, f.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []wire.FrameworkInfo{}
	for rows.Next() {
		info, err := scanFramework(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *info)
	}
	return out, rows.Err()
}

// FrameworkName is a framework's team and name.
type FrameworkName struct {
	Team, Name string
}

// FrameworkNames lists every framework FrameworkList lists, by team and
// name, without reading their definitions: for a page's picker.
func (s *Store) FrameworkNames(ctx context.Context) ([]FrameworkName, error) {
	rows, err := s.pool.Query(ctx, `SELECT f.team, f.name
		FROM frameworks f JOIN framework_versions v ON v.framework_id = f.id AND v.version = f.current_version
		ORDER BY f.team, f.name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[FrameworkName])
}

func scanFramework(row pgx.Row) (*wire.FrameworkInfo, error) {
	var (
		info    wire.FrameworkInfo
		spec    []byte
		updated time.Time
	)
	if err := row.Scan(&spec, &info.Version, &info.Digest, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(spec, &info.Framework); err != nil {
		return nil, fmt.Errorf("decode stored framework: %w", err)
	}
	info.UpdatedAt = updated
	return &info, nil
}

// FrameworkVersion is one stored version of a framework.
type FrameworkVersion struct {
	Version   int       `json:"version"`
	Digest    string    `json:"digest"`
	CreatedAt time.Time `json:"created_at"`
}

// FrameworkVersions lists a framework's versions, newest first.
func (s *Store) FrameworkVersions(ctx context.Context, team, name string) ([]FrameworkVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT v.version, v.digest, v.created_at
		FROM frameworks f JOIN framework_versions v ON v.framework_id = f.id
		WHERE f.team = $1 AND f.name = $2 ORDER BY v.version DESC`, team, name)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FrameworkVersion, error) {
		var v FrameworkVersion
		err := r.Scan(&v.Version, &v.Digest, &v.CreatedAt)
		return v, err
	})
	if err == nil && len(list) == 0 {
		return nil, ErrNotFound
	}
	return list, err
}

// FrameworkGetVersion returns one version of a framework.
func (s *Store) FrameworkGetVersion(ctx context.Context, team, name string, version int) (*wire.FrameworkInfo, error) {
	row := s.pool.QueryRow(ctx, `
		SELECT v.spec, v.version, v.digest, v.created_at
		FROM frameworks f JOIN framework_versions v ON v.framework_id = f.id
		WHERE f.team = $1 AND f.name = $2 AND v.version = $3`, team, name, version)
	info, err := scanFramework(row)
	return info, notFound(err)
}
