// Package postgres is the PostgreSQL store of gatehouse, for deployments that
// run several instances on one database. It implements the same contract as
// internal/sqlite (the shared suite in internal/storetest runs against both),
// through database/sql and the pgx driver, with migrations embedded in the
// binary.
//
// Every query is parameterized (OWASP ASVS 5.0 §1.2.4: no SQL built from
// input); the only SQL built at run time is from constants.
//
// Transactions run at READ COMMITTED. Where the contract needs more, the
// store takes a lock that says so, and the comment at the lock explains why
// it is enough:
//
//   - refresh-token rotation locks the session row (SELECT ... FOR UPDATE),
//     so concurrent rotations of one token yield at most one successor;
//   - changes that can remove an admin take a transaction-scoped advisory
//     lock, so the last-admin rule cannot be raced;
//   - note creation takes another, so creation times strictly increase;
//   - audit appends (and prunes) take a third, so the chain has no forks
//     and its numbers no gaps;
//   - sharing locks the note row, so "is this share new" is exact.
//
// Text: PostgreSQL text cannot hold NUL bytes or invalid UTF-8. The store
// refuses to write such text (with an error that is neither ErrNotFound nor
// ErrConflict: handlers validate input first, so it is a programming error;
// a session's user agent, a header, is cleaned instead), and a key that
// holds it finds nothing, exactly as on SQLite, which applies the same rule.
// See text.go and docs/POSTGRES.md.
//
// Failures: an error caused by the database being unreachable, shutting
// down, out of connections or too slow (statement_timeout) wraps
// gatehouse.ErrUnavailable, so that the server answers 503 and not 500. The
// pool drops broken connections and dials new ones, so the store recovers
// by itself when the database is back.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/gatehouse/gatehouse"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Defaults of the pool and of every session. The URL may override each; see
// docs/POSTGRES.md.
const (
	// A pool of at most 20 connections per instance: PostgreSQL's default
	// max_connections of 100 then serves four instances with room for
	// migrations and an operator. A request that finds every connection
	// busy waits for one until its context ends.
	defaultMaxConns = 20
	// Idle connections are closed after 5 minutes, and every connection is
	// replaced after 30, so that a fail-over or a DNS change is picked up
	// without a restart.
	defaultMaxConnIdleTime = 5 * time.Minute
	defaultMaxConnLifetime = 30 * time.Minute
	// A dead or unreachable server is reported in seconds, not after the
	// operating system's TCP timeout.
	defaultConnectTimeout = 5 * time.Second
	// No statement of the store should take long; one that does (a lock
	// wait, an overloaded server) is cancelled by the server and reported
	// as unavailable rather than holding a connection and a request.
	defaultStatementTimeout = "5s"
	// A transaction left open (a stuck process, a lost network) is ended by
	// the server, releasing its row locks.
	defaultIdleInTransactionTimeout = "15s"
)

// Store is the PostgreSQL implementation of gatehouse.Store.
type Store struct {
	db      *sql.DB
	maxIdle int             // the pool's idle connections, restored after a flush
	cfg     *pgx.ConnConfig // to open the migration pool
	now     gatehouse.Clock
	locks   lockKeys
}

var _ gatehouse.Store = (*Store)(nil)

// lockKeys are the advisory-lock keys of one schema. They are derived from
// the database and schema names, so that two deployments (or two test
// schemas) in one database do not wait for each other.
type lockKeys struct {
	migrate int64 // goose's session lock: one migrator at a time
	admins  int64 // changes that can remove an enabled admin
	notes   int64 // note creation, which orders creation times
	audit   int64 // audit appends and prunes, which extend or cut the chain
}

func newLockKeys(database, schema string) lockKeys {
	key := func(purpose string) int64 {
		h := fnv.New64a()
		_, _ = h.Write([]byte("gatehouse\x00" + database + "\x00" + schema + "\x00" + purpose)) // a hash.Hash never fails
		// PostgreSQL advisory locks take a bigint: the 64 hash bits are
		// reinterpreted as one, wrapping on purpose, and every value is a key.
		return int64(h.Sum64()) // #nosec G115 -- the wrap-around is the intended bit reinterpretation
	}
	return lockKeys{migrate: key("migrate"), admins: key("admins"), notes: key("notes"), audit: key("audit")}
}

// Open connects to the database at rawURL (postgres:// or postgresql://)
// and checks that it answers. It does not migrate; call Migrate.
//
// Besides libpq's parameters, the URL may set pool_max_conns,
// pool_max_conn_idle_time and pool_max_conn_lifetime (as pgxpool names
// them), and any server setting, such as statement_timeout or search_path.
// Without sslmode in the URL or PGSSLMODE in the environment, a server that
// is not on this machine is reached with sslmode=verify-full: libpq's own
// default, prefer, falls back to plain text when an attacker on the path
// refuses TLS.
//
// An error from a database that does not answer wraps
// gatehouse.ErrUnavailable. Errors never hold the password.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	cfg, pool, err := parseURL(rawURL, os.Getenv)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pool.maxConns)
	db.SetMaxIdleConns(pool.maxConns)
	db.SetConnMaxIdleTime(pool.maxConnIdleTime)
	db.SetConnMaxLifetime(pool.maxConnLifetime)

	var database string
	var schema sql.NullString
	err = db.QueryRowContext(ctx, `SELECT current_database(), current_schema()`).Scan(&database, &schema)
	if err != nil {
		_ = db.Close()
		return nil, wrapUnavailable(fmt.Errorf("connect to postgres: %w", err))
	}
	if !schema.Valid {
		// current_schema() is NULL when no schema on the search_path
		// exists: tables would have nowhere to go.
		_ = db.Close()
		return nil, errors.New("connect to postgres: no schema of the search_path exists; create it or set search_path in the URL")
	}
	return &Store{db: db, maxIdle: pool.maxConns, cfg: cfg, now: time.Now, locks: newLockKeys(database, schema.String)}, nil
}

// poolConfig holds the database/sql pool limits.
type poolConfig struct {
	maxConns        int
	maxConnIdleTime time.Duration
	maxConnLifetime time.Duration
}

// parseURL turns the URL into a pgx configuration with the store's
// defaults, and takes the pool parameters out of it (the server would
// refuse them as unknown settings). The URL is parsed by pgx only, whose
// parser accepts exactly what libpq accepts (several hosts, Unix-socket
// directories, percent-encoding), so that one URL works with gatehouse,
// psql and pg_dump alike.
func parseURL(rawURL string, getenv func(string) string) (*pgx.ConnConfig, poolConfig, error) {
	pool := poolConfig{maxConns: defaultMaxConns, maxConnIdleTime: defaultMaxConnIdleTime, maxConnLifetime: defaultMaxConnLifetime}
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return nil, pool, errors.New("postgres: the database URL must start with postgres:// or postgresql://")
	}
	// pgconn redacts the password in its parse errors.
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, pool, fmt.Errorf("postgres: parse the database URL: %w", err)
	}
	if !sslModeGiven(rawURL) && getenv("PGSSLMODE") == "" && !allLocal(cfg) {
		sep := "?"
		if strings.Contains(rawURL, "?") {
			sep = "&"
		}
		if cfg, err = pgx.ParseConfig(rawURL + sep + "sslmode=verify-full"); err != nil {
			return nil, pool, fmt.Errorf("postgres: parse the database URL: %w", err)
		}
	}
	rp := cfg.RuntimeParams
	if v, ok := rp["pool_max_conns"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 1000 {
			// At least 2: goose holds one connection for its lock while
			// it migrates on another.
			return nil, pool, fmt.Errorf("postgres: pool_max_conns=%q: must be an integer from 2 to 1000", v)
		}
		pool.maxConns = n
		delete(rp, "pool_max_conns")
	}
	for name, dst := range map[string]*time.Duration{
		"pool_max_conn_idle_time": &pool.maxConnIdleTime,
		"pool_max_conn_lifetime":  &pool.maxConnLifetime,
	} {
		if v, ok := rp[name]; ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second {
				return nil, pool, fmt.Errorf("postgres: %s=%q: must be a duration of at least 1s, as in 5m", name, v)
			}
			*dst = d
			delete(rp, name)
		}
	}
	for name, def := range map[string]string{
		"statement_timeout":                   defaultStatementTimeout,
		"idle_in_transaction_session_timeout": defaultIdleInTransactionTimeout,
		"application_name":                    "gatehouse",
	} {
		// The URL may set it as a parameter of its own, or in libpq's
		// options (options=-c%20statement_timeout%3D2s), which a
		// parameter of the startup message would override.
		if _, ok := rp[name]; !ok && !strings.Contains(rp["options"], name) {
			rp[name] = def
		}
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	return cfg, pool, nil
}

// sslModeGiven reports whether the URL's query sets sslmode (or libpq's
// alias ssl), reading it as libpq does: '&'-separated pairs, keys
// percent-decoded.
func sslModeGiven(rawURL string) bool {
	_, query, ok := strings.Cut(rawURL, "?")
	if !ok {
		return false
	}
	for pair := range strings.SplitSeq(query, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.PathUnescape(key); err == nil && (k == "sslmode" || k == "ssl") {
			return true
		}
	}
	return false
}

// allLocal reports whether every host the configuration may connect to is
// on this machine: a Unix socket, localhost or a loopback address. Traffic
// to them does not cross a network an attacker can sit on.
func allLocal(cfg *pgx.ConnConfig) bool {
	hosts := []string{cfg.Host}
	for _, fb := range cfg.Fallbacks {
		hosts = append(hosts, fb.Host)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") || h == "localhost" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			continue
		}
		return false
	}
	return true
}

// SetClock replaces the clock used for created/updated times (tests).
func (s *Store) SetClock(c gatehouse.Clock) { s.now = c }

// Migrate applies every pending migration and returns the files it applied.
// It is idempotent and safe to run while servers start or run on the same
// database: goose's PostgreSQL session locker (an advisory lock, released
// by the server if the process dies) lets one migrator in at a time, and
// the others then find nothing to do.
//
// Migrations run on their own connections without statement_timeout (an
// index build on a large table may take minutes) but with a lock_timeout:
// a schema change queued behind a long query would otherwise block every
// new query on that table while it waits.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	defer s.done(&err)
	cfg := s.cfg.Copy()
	cfg.RuntimeParams["statement_timeout"] = "0"
	cfg.RuntimeParams["lock_timeout"] = "30s"
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	db.SetMaxOpenConns(2) // one holds the lock, one migrates

	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	// Poll for the lock every second for up to 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(s.locks.migrate), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
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

// Ping checks that the database answers. Its error wraps
// gatehouse.ErrUnavailable when it does not.
func (s *Store) Ping(ctx context.Context) (err error) {
	defer s.done(&err)
	var one int
	return s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes every connection of the pool.
func (s *Store) Close() error { return s.db.Close() }

// done makes *err wrap gatehouse.ErrUnavailable when it comes from a
// database that cannot serve now. Every exported method defers it, so that
// no path forgets.
//
// When the error says that a connection was lost (the server restarted,
// failed over, or ended it), the other idle connections of the pool are
// most likely dead too: they are closed at once, so that the next requests
// dial afresh instead of each finding a dead connection and failing in turn.
func (s *Store) done(err *error) {
	if *err != nil && connectionLost(*err) {
		s.db.SetMaxIdleConns(0) // closes every idle connection
		s.db.SetMaxIdleConns(s.maxIdle)
	}
	*err = wrapUnavailable(*err)
}

func wrapUnavailable(err error) error {
	if err == nil || errors.Is(err, gatehouse.ErrUnavailable) || !unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", gatehouse.ErrUnavailable, err)
}

// unavailable reports whether err says that the database cannot serve now,
// as opposed to refusing this request: the network or the server is down,
// shutting down or starting, out of connections, or too slow. The server
// answers those with 503 and a retry, never with 500; the client can try
// again, and the pool reconnects by itself.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case strings.HasPrefix(pgErr.Code, "53"): // insufficient resources: too many connections, disk full, out of memory
			return true
		}
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", // admin shutdown, crash shutdown, cannot connect now (starting, recovering)
			"57014",          // query_canceled: statement_timeout, or a cancelled request
			"55P03",          // lock_not_available
			"40001", "40P01", // serialization failure, deadlock: still there after the store's retries
			"25006": // read_only_sql_transaction: a fail-over is in progress, or the URL names a standby
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF)
}

// connectionLost reports whether err says that a connection to the server
// broke, rather than that the server refused a statement.
func connectionLost(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Connection exception; admin or crash shutdown.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02"
	}
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.As(err, &netErr) && !netErr.Timeout()
}

// pgCode returns the SQLSTATE and constraint of a server error, or "".
func pgCode(err error) (code, constraint string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code, pgErr.ConstraintName
	}
	return "", ""
}

const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// maxTxAttempts bounds the retries of a transaction that the server
// aborted to break a deadlock or a serialization conflict. The store's
// lock order (session before its refresh tokens; sessions by ID) makes
// deadlocks unlikely; the retry makes the rare one invisible.
const maxTxAttempts = 3

// tx runs fn in a READ COMMITTED transaction, retrying it whole when the
// server aborted it to break a deadlock. fn must therefore set its results
// afresh on every run.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		code, _ := pgCode(err)
		if err == nil || (code != "40P01" && code != "40001") || attempt == maxTxAttempts || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// lockXact takes the transaction-scoped advisory lock key; the server
// releases it at commit or rollback, and if the connection dies.
func lockXact(ctx context.Context, tx *sql.Tx, key int64) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}
	return nil
}
