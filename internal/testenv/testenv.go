// Package testenv gives test packages real services: one PostgreSQL cluster
// per test package, started in TestMain.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/pitwall/pitwall/internal/pgcluster"
)

// Postgres returns the URL of a fresh, empty database and a function that
// releases it. With PITWALL_TEST_DATABASE_URL set, the database is created
// on that server; otherwise a private cluster starts in a temporary directory.
func Postgres(ctx context.Context) (string, func(), error) {
	if admin := os.Getenv("PITWALL_TEST_DATABASE_URL"); admin != "" {
		return Database(ctx, admin)
	}
	c, stop, err := cluster(ctx)
	if err != nil {
		return "", nil, err
	}
	if err := c.CreateDatabase(ctx, "pitwall"); err != nil {
		stop()
		return "", nil, err
	}
	return c.URL("pitwall"), stop, nil
}

// Server returns the URL of a database its user may create databases
// from, for Database, and a function that stops it: PITWALL_TEST_DATABASE_URL
// when set, else the "postgres" database of a private cluster started in a
// temporary directory. A package whose tests each want a database of their
// own starts one in TestMain, instead of a cluster a test.
func Server(ctx context.Context) (string, func(), error) {
	if admin := os.Getenv("PITWALL_TEST_DATABASE_URL"); admin != "" {
		return admin, func() {}, nil
	}
	c, stop, err := cluster(ctx)
	if err != nil {
		return "", nil, err
	}
	return c.URL("postgres"), stop, nil
}

func cluster(ctx context.Context) (*pgcluster.Cluster, func(), error) {
	dir, err := os.MkdirTemp("", "pitwall-pg-")
	if err != nil {
		return nil, nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{Root: dir})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start test PostgreSQL: %w", err)
	}
	return c, func() { _ = c.Stop(); os.RemoveAll(dir) }, nil
}

// Database creates a fresh, empty database on admin's server and returns
// its URL and a function that drops it.
func Database(ctx context.Context, admin string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connect to the test PostgreSQL server (PITWALL_TEST_DATABASE_URL or the package's own cluster): %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "pitwall_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	// The admin URL with the new database's name as its path (a user named
	// like the database must stay); a key=value DSN is rebuilt as a URL.
	u, err := url.Parse(admin)
	if err == nil && u.Scheme != "" {
		u.Path, u.RawPath = "/"+name, ""
	} else {
		cfg := conn.Config()
		u = &url.URL{Scheme: "postgres", User: url.User(cfg.User), Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port),
			Path: "/" + name, RawQuery: "sslmode=disable"}
	}
	return u.String(), func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	}, nil
}
