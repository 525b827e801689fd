// Package servicetest gives the service packages' tests what they need: a
// migrated PostgreSQL (one cluster per test package, started from
// TestMain), teams of their own, and principals to act as.
package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/internal/testenv"
	"github.com/pitwall/pitwall/migrations"
	"github.com/pitwall/pitwall/service"
)

// Store is the test package's store, set by Main.
var Store *store.Store

// dbURL is the URL of Store's database, for FreshStore.
var dbURL string

// Log discards what the services log.
var Log = slog.New(slog.NewTextHandler(io.Discard, nil))

// Main starts PostgreSQL, applies the migrations, runs the package's tests
// and stops PostgreSQL; a package's TestMain calls os.Exit(Main(m)).
func Main(m *testing.M) int {
	ctx := context.Background()
	url, stop, err := testenv.Postgres(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "service tests:", err)
		return 1
	}
	defer stop()
	pool, err := store.Connect(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "service tests:", err)
		return 1
	}
	defer pool.Close()
	if err := migrations.Apply(ctx, pool, Log); err != nil {
		fmt.Fprintln(os.Stderr, "service tests:", err)
		return 1
	}
	Store, dbURL = store.New(pool), url
	return m.Run()
}

// FreshStore is a store on a migrated database of the test's own, for a
// test about the whole installation (its only site admin, say) that the
// package's other tests must not share; it is dropped when the test ends.
func FreshStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(dbURL)
	require.NoError(t, err)
	name := strings.ReplaceAll(Name("fresh"), "-", "_")
	_, err = Store.Pool().Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	pool, err := store.Connect(ctx, strings.Replace(dbURL, "/"+cfg.Database, "/"+name, 1))
	require.NoError(t, err)
	t.Cleanup(func() {
		pool.Close()
		_, _ = Store.Pool().Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
	})
	require.NoError(t, migrations.Apply(ctx, pool, Log))
	return store.New(pool)
}

// Name is a name no other test uses, starting with prefix.
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// Team creates a team of the test's own and returns its name.
func Team(t testing.TB) string {
	t.Helper()
	name := Name("team")
	require.NoError(t, Store.TeamCreate(context.Background(), name))
	return name
}

// As is a context in which a user holding roles (team → role) acts; the
// user exists in the database, so tokens can be made for them.
func As(t testing.TB, roles map[string]auth.Role) context.Context {
	t.Helper()
	name := Name("user")
	id, err := Store.UserCreate(context.Background(), name, "x", false)
	require.NoError(t, err)
	return service.WithPrincipal(context.Background(), &auth.Principal{Kind: auth.KindUser, Name: name, UserID: id, Teams: roles})
}

// AsAgent is a context in which the agent of host acts.
func AsAgent(host string) context.Context {
	return service.WithPrincipal(context.Background(), &auth.Principal{Kind: auth.KindAgent, Name: host})
}

// Kind asserts that err is a service error of kind naming field.
func Kind(t testing.TB, err error, kind service.Kind, field string) {
	t.Helper()
	require.Error(t, err)
	e := service.As(err)
	require.NotNil(t, e, "a service error, not %v", err)
	require.Equal(t, kind, e.Kind, "kind of %q", e.Msg)
	require.Equal(t, field, e.Field, "field of %q", e.Msg)
}
