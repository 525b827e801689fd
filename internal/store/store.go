// Package store is Pitwall's one place for SQL: every query against
// PostgreSQL lives here, named entity-first.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when the row asked for does not exist.
var ErrNotFound = errors.New("not found")

// Store runs Pitwall's queries on a connection pool.
type Store struct {
	pool *pgxpool.Pool
}

// New wraps an open pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool exposes the pool for health checks and migrations.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Connect opens a pool on url and waits until the database answers, so a
// process started beside its database does not fail on the first try.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = pool.Ping(ctx)
		if err == nil {
			return pool, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			pool.Close()
			return nil, fmt.Errorf("reach database %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// ErrExists is returned when a unique name is taken.
var ErrExists = errors.New("already exists")

func uniqueExists(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return ErrExists
	}
	return err
}

// fkNotFound turns a foreign-key violation (no such test) into ErrNotFound.
func fkNotFound(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return ErrNotFound
	}
	return err
}

// claimBatch records a batch as delivered; false when it already was.
func claimBatch(ctx context.Context, tx pgx.Tx, testID int64, host, kind, batch string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO ingest_batches (test_id, host, kind, batch) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, testID, host, kind, batch)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign key: no such test
		return false, ErrNotFound
	}
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
