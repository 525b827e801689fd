// This file replaces go.temporal.io/server's
// common/persistence/sql/sqlplugin/sqlite/driver.go in Pitwall's build of
// the Temporal server (`go build -overlay`, written by
// internal/temporaldev.Overlay). It is that file plus a statement cache:
// Temporal's connection wrapper hid the SQLite driver's ExecerContext and
// QueryerContext, so database/sql prepared, ran and finalized every
// statement, and parsing them was 15% of the dev server's CPU during the
// bench's throughput rounds. The wrapper now keeps each statement's
// compiled form per connection and runs it again.
//
// The folder's leading underscore keeps the go command from building it as
// a package of deploy/temporal: it compiles only as part of Temporal's.

package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"regexp"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const (
	goSQLDriverName       = "sqlite_temporal"
	sqlConstraintCodes    = sqlite3.SQLITE_CONSTRAINT | sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY | sqlite3.SQLITE_CONSTRAINT_UNIQUE
	sqlTableExistsPattern = "SQL logic error: table .* already exists \\(1\\)"

	// maxCachedStatements bounds a connection's cache. Temporal's
	// persistence statements are a fixed set of texts (about a hundred);
	// the ones built at run time (visibility list queries) beyond the
	// bound are prepared and finalized at each call, as before.
	maxCachedStatements = 512
)

// Driver implements a SQL driver that returns a custom connection.
// The custom connection provides ResetSession() and IsValid() methods,
// preventing the SQL library from closing the connection when a transaction context is canceled.
type Driver struct {
	sqlite.Driver
}

func newDriver() driver.Driver {
	return &Driver{sqlite.Driver{}}
}

func (d *Driver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, stmts: map[string]*cachedStmt{}}, nil
}

// conn is one SQLite connection with its statement cache. database/sql
// never uses a driver connection from two goroutines at once, so the cache
// needs no lock.
type conn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

// cachedStmt is a compiled statement; busy while its rows are open, when a
// second use of the same text gets a statement of its own (once: finalized
// when given back).
type cachedStmt struct {
	stmt driver.Stmt
	busy bool
	once bool
}

// release gives the statement back after its call or its rows.
func (cs *cachedStmt) release() error {
	if cs.once {
		return cs.stmt.Close()
	}
	cs.busy = false
	return nil
}

var (
	_ driver.ExecerContext  = (*conn)(nil)
	_ driver.QueryerContext = (*conn)(nil)
)

// ResetSession does nothing. If the connection is not valid for some reason, we must have lost the database already.
// And there is nothing we can do to create a new connection. Because of this it is safe to return valid in all cases.
// We can let the next database operation fail if the connection is not valid.
func (c *conn) ResetSession(_ context.Context) error {
	return nil
}

// IsValid always returns true. We only have one connection to the sqlite db. It should always be valid. Otherwise,
// we would have lost the database.
func (c *conn) IsValid() bool {
	return true
}

// statement returns the compiled statement for query, marked busy: the
// cached one when it is free, else one prepared for this call (cached if
// the text is new and the cache has room).
func (c *conn) statement(ctx context.Context, query string) (*cachedStmt, error) {
	cs, ok := c.stmts[query]
	if ok && !cs.busy {
		cs.busy = true
		return cs, nil
	}
	s, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if ok || len(c.stmts) >= maxCachedStatements {
		return &cachedStmt{stmt: s, busy: true, once: true}, nil
	}
	cs = &cachedStmt{stmt: s, busy: true}
	c.stmts[query] = cs
	return cs, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	if e := cs.release(); err == nil {
		err = e
	}
	return res, err
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		_ = cs.release()
		return nil, err
	}
	return &releasingRows{Rows: rows, stmt: cs}, nil
}

// Close finalizes the cached statements, then closes the connection.
func (c *conn) Close() error {
	var errs []error
	for query, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
		delete(c.stmts, query)
	}
	errs = append(errs, c.Conn.Close())
	return errors.Join(errs...)
}

// releasingRows gives its statement back when closed.
type releasingRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	if r.stmt != nil {
		if e := r.stmt.release(); err == nil {
			err = e
		}
		r.stmt = nil
	}
	return err
}

func init() {
	sql.Register(goSQLDriverName, newDriver())
}

var sqlTableExistsRegex = regexp.MustCompile(sqlTableExistsPattern)

func (*db) IsDupEntryError(err error) bool {
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) {
		return sqlErr.Code()&sqlConstraintCodes != 0
	}

	return false
}

func isTableExistsError(err error) bool {
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) {
		return sqlTableExistsRegex.MatchString(sqlErr.Error())
	}

	return false
}
