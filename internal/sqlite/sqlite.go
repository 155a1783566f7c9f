// Package sqlite is the embedded store of gatehouse: one SQLite file in the
// data directory, opened through the pure-Go driver modernc.org/sqlite (no
// cgo), with migrations embedded in the binary.
//
// Every query is parameterized (OWASP ASVS 5.0 §1.2.4: no SQL built from
// input). The database runs in WAL mode with a busy timeout, foreign keys
// on and synchronous=FULL, so a transaction that has returned is on disk
// and survives a crash of the process or the machine.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of gatehouse.Store.
type Store struct {
	db    *sql.DB
	now   gatehouse.Clock
	path  string
	stmts sync.Map // query text → *sql.Stmt, the hot reads (stmt.go)
}

var _ gatehouse.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path. It does not
// migrate; call Migrate.
func Open(path string) (*Store, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	// BEGIN IMMEDIATE takes the write lock at the start of a transaction, so
	// two writers wait on the busy timeout instead of failing with
	// SQLITE_BUSY when a reader upgrades to a writer.
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &Store{db: db, now: time.Now, path: path}, nil
}

// SetClock replaces the clock used for created/updated times (tests).
func (s *Store) SetClock(c gatehouse.Clock) { s.now = c }

// Migrate applies every pending migration. It is idempotent and safe to run
// while servers start or run on the same file: an exclusive lock on a file
// beside the database serializes migrators (goose has no SQLite locker).
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	unlock, err := lockFile(s.path + ".migrate.lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, sub)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes the database.
func (s *Store) Close() error {
	s.closeStmts()
	return s.db.Close()
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// uniqueViolation reports which column of a UNIQUE constraint failed, or "".
func uniqueViolation(err error) (column string, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return "", false
	}
	if se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE && se.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return "", false
	}
	// The message reads "UNIQUE constraint failed: users.username".
	msg := se.Error()
	if i := strings.LastIndex(msg, "."); i >= 0 {
		col := msg[i+1:]
		if j := strings.IndexAny(col, " )"); j >= 0 {
			col = col[:j]
		}
		return col, true
	}
	return "", true
}

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
