// Package testenv gives test packages real services: one PostgreSQL cluster
// per test package, started in TestMain.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/pgcluster"
)

// Postgres returns the URL of a fresh, empty database and a function that
// releases it. With PITWALL_TEST_DATABASE_URL set, the database is created
// on that server; otherwise a private cluster starts in a temporary directory.
func Postgres(ctx context.Context) (string, func(), error) {
	if admin := os.Getenv("PITWALL_TEST_DATABASE_URL"); admin != "" {
		return fresh(ctx, admin)
	}
	dir, err := os.MkdirTemp("", "pitwall-pg-")
	if err != nil {
		return "", nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", nil, err
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{Root: dir})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("start test PostgreSQL: %w", err)
	}
	if err := c.CreateDatabase(ctx, "pitwall"); err != nil {
		_ = c.Stop()
		os.RemoveAll(dir)
		return "", nil, err
	}
	return c.URL("pitwall"), func() { _ = c.Stop(); os.RemoveAll(dir) }, nil
}

func fresh(ctx context.Context, admin string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("PITWALL_TEST_DATABASE_URL: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "pitwall_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	cfg := conn.Config()
	url := strings.Replace(admin, "/"+cfg.Database, "/"+name, 1)
	if cfg.Database == "" || !strings.Contains(admin, "/"+cfg.Database) {
		url = fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	}
	return url, func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	}, nil
}
