package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/migrations"
)

// testPool is the package's database, migrated; tests keep apart by
// working on tests of their own.
var testPool *pgxpool.Pool

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx := context.Background()
	url, stop, err := testenv.Postgres(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}
	defer stop()
	if testPool, err = Connect(ctx, url); err != nil {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}
	defer testPool.Close()
	if err := migrations.Apply(ctx, testPool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}
	if _, err := testPool.Exec(ctx, `
		INSERT INTO frameworks (team, name, current_version) VALUES ('store', 'store-tests', 1);
		INSERT INTO framework_versions (framework_id, version, spec, digest)
			SELECT id, 1, '{}', '' FROM frameworks WHERE name = 'store-tests'`); err != nil {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}
	return m.Run()
}

// setup returns the store and a new test of its own.
func setup(t testing.TB) (*Store, int64) {
	t.Helper()
	var id int64
	require.NoError(t, testPool.QueryRow(context.Background(), `INSERT INTO tests (framework_id, framework_version)
		SELECT id, 1 FROM frameworks WHERE name = 'store-tests' RETURNING id`).Scan(&id))
	return New(testPool), id
}
