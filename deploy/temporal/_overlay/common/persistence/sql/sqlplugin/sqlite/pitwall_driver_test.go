// Tests of driver.go's statement cache, run inside Temporal's package by
// internal/temporaldev's TestOverlay (go test -overlay).

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// open returns an in-memory database on one connection, as Temporal's
// plugin opens it, with a table t(k PRIMARY KEY, v).
func open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open(goSQLDriverName, fmt.Sprintf("file:%s?mode=memory", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if _, err := db.Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return db
}

// cache reports the connection's cached statement texts and which are busy.
func cache(t *testing.T, db *sql.DB) (texts int, busy int) {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Raw(func(dc any) error {
		for _, cs := range dc.(*conn).stmts {
			texts++
			if cs.busy {
				busy++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return texts, busy
}

func TestStatementReusedAcrossCalls(t *testing.T) {
	db := open(t)
	const insert = "INSERT INTO t (k, v) VALUES (?, ?)"
	for k := range 100 {
		if _, err := db.Exec(insert, k, fmt.Sprint("v", k)); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	var last string
	if err := db.QueryRow("SELECT count(*), max(v) FROM t WHERE k >= ?", 0).Scan(&n, &last); err != nil {
		t.Fatal(err)
	}
	if n != 100 || last != "v99" {
		t.Fatalf("count, max = %d, %q; want 100, v99", n, last)
	}
	texts, busy := cache(t, db)
	if texts != 3 || busy != 0 { // CREATE, INSERT, SELECT
		t.Fatalf("cache holds %d texts, %d busy; want 3, 0", texts, busy)
	}
}

// A duplicate key fails as before (Temporal's conditional inserts rely on
// IsDupEntryError), and the statement works again afterwards.
func TestFailedStatementStillUsable(t *testing.T) {
	db := open(t)
	const insert = "INSERT INTO t (k, v) VALUES (?, ?)"
	if _, err := db.Exec(insert, 1, "a"); err != nil {
		t.Fatal(err)
	}
	_, err := db.Exec(insert, 1, "b")
	if err == nil || !(&pluginDB{}).IsDupEntryError(err) {
		t.Fatalf("second insert of key 1: %v; want a duplicate-entry error", err)
	}
	if _, err := db.Exec(insert, 2, "c"); err != nil {
		t.Fatalf("insert after the failure: %v", err)
	}
	var v string
	if err := db.QueryRow("SELECT group_concat(v, ',') FROM t").Scan(&v); err != nil || v != "a,c" {
		t.Fatalf("rows = %q (%v); want a,c", v, err)
	}
}

// The same text run again while its first rows are still open (in a
// transaction, on the one connection) gets a statement of its own; both
// read their own rows.
func TestSameTextWhileRowsOpen(t *testing.T) {
	db := open(t)
	for k := range 5 {
		if _, err := db.Exec("INSERT INTO t (k, v) VALUES (?, ?)", k, fmt.Sprint("v", k)); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const sel = "SELECT k FROM t WHERE k >= ? ORDER BY k"
	outer, err := tx.Query(sel, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var k int
		if err := outer.Scan(&k); err != nil {
			t.Fatal(err)
		}
		var inner []int
		rows, err := tx.Query(sel, 3)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var j int
			if err := rows.Scan(&j); err != nil {
				t.Fatal(err)
			}
			inner = append(inner, j)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d%v", k, inner))
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	want := "[1[3 4] 2[3 4] 3[3 4] 4[3 4]]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v; want %s", got, want)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, busy := cache(t, db); busy != 0 {
		t.Fatalf("%d statements still busy after their rows closed", busy)
	}
}

// Texts past the bound run uncached: the cache does not grow without end.
func TestCacheBounded(t *testing.T) {
	db := open(t)
	for i := range maxCachedStatements + 20 {
		var n int
		if err := db.QueryRow(fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d = %d (%v)", i, n, err)
		}
	}
	if texts, _ := cache(t, db); texts != maxCachedStatements {
		t.Fatalf("cache holds %d texts; want the bound, %d", texts, maxCachedStatements)
	}
}

// pluginDB is the plugin's db type, for its IsDupEntryError.
type pluginDB = db
