package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/postgres"
	"github.com/gatehouse/gatehouse/internal/postgres/pgtest"
)

// withHost returns rawURL with its host replaced by addr (unless ""), and
// extra query parameters appended (the last occurrence of a parameter wins,
// as in libpq).
func withHost(t *testing.T, rawURL, addr string, params ...string) string {
	t.Helper()
	if addr != "" {
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = addr // String keeps RawQuery as it is
		rawURL = u.String()
	}
	return pgtest.WithParams(rawURL, params...)
}

func openMigrated(t *testing.T, rawURL string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), rawURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func testUser(name string) *gatehouse.User {
	return &gatehouse.User{ID: "id-" + name, Username: name, Email: name + "@example.com", Age: 30, PasswordHash: "h",
		Roles: []string{gatehouse.RoleUser}}
}

// calls are store methods that need the database, for the failure tests.
func calls(s *postgres.Store) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"Ping":       s.Ping,
		"UserByID":   func(ctx context.Context) error { _, err := s.UserByID(ctx, "id-alice"); return err },
		"CreateUser": func(ctx context.Context) error { return s.CreateUser(ctx, testUser("bob")) },
		"ListUsers":  func(ctx context.Context) error { _, err := s.ListUsers(ctx, "", 10); return err },
		"SetUserRoles": func(ctx context.Context) error {
			return s.SetUserRoles(ctx, "id-alice", []string{gatehouse.RoleUser})
		},
		"Notes": func(ctx context.Context) error {
			_, err := s.Notes(ctx, "id-alice", gatehouse.NoteQuery{Limit: 10})
			return err
		},
		"RotateRefreshToken": func(ctx context.Context) error {
			_, err := s.RotateRefreshToken(ctx, gatehouse.RotateRequest{OldHash: []byte("x"), New: &gatehouse.RefreshToken{}, Now: time.Now()})
			return err
		},
		"RevokedSince": func(ctx context.Context) error { _, err := s.RevokedSince(ctx, time.Now()); return err },
		"ACMECache.Get": func(ctx context.Context) error {
			_, err := s.ACMECache().Get(ctx, "api.example.test")
			if err == autocert.ErrCacheMiss {
				return nil
			}
			return err
		},
	}
}

// TestDatabaseDown: while the database cannot be reached, every call fails
// quickly with an error that wraps gatehouse.ErrUnavailable (the server
// answers 503, and /readyz fails); when it is back, the same store works
// again without being reopened.
func TestDatabaseDown(t *testing.T) {
	base := pgtest.NewSchema(t)
	u, _ := url.Parse(base)
	p := pgtest.StartProxy(t, u.Host)
	s := openMigrated(t, withHost(t, base, p.Addr))
	if err := s.CreateUser(t.Context(), testUser("alice")); err != nil {
		t.Fatal(err)
	}

	for round := range 2 {
		p.Down()
		start := time.Now()
		for name, call := range calls(s) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			err := call(ctx)
			cancel()
			if !errors.Is(err, gatehouse.ErrUnavailable) {
				t.Errorf("round %d, %s with the database down: got %v, want ErrUnavailable", round, name, err)
			}
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("round %d: the calls took %v with the database down, want a quick failure", round, d)
		}

		p.Up()
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := s.Ping(t.Context())
			if err == nil {
				break
			}
			if !errors.Is(err, gatehouse.ErrUnavailable) || time.Now().After(deadline) {
				t.Fatalf("round %d, Ping after the database is back: %v", round, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for name, call := range calls(s) {
			if err := call(t.Context()); err != nil && !(name == "CreateUser" && errors.Is(err, gatehouse.ErrConflict)) {
				t.Errorf("round %d, %s after recovery: %v", round, name, err)
			}
		}
	}
}

// TestDatabaseDownUnderLoad cuts the database while calls are in flight:
// every error, whatever state its connection was in, wraps
// gatehouse.ErrUnavailable, and calls succeed again once it is back.
func TestDatabaseDownUnderLoad(t *testing.T) {
	base := pgtest.NewSchema(t)
	u, _ := url.Parse(base)
	p := pgtest.StartProxy(t, u.Host)
	s := openMigrated(t, withHost(t, base, p.Addr))
	if err := s.CreateUser(t.Context(), testUser("alice")); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		failures = map[string]int{}
		wrong    []error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for name, call := range calls(s) {
		if name == "CreateUser" {
			name, call = "SetPasswordHash", func(ctx context.Context) error { return s.SetPasswordHash(ctx, "id-alice", "h2") }
		}
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					err := call(ctx)
					cancel()
					if err == nil {
						continue
					}
					mu.Lock()
					failures[name]++
					if !errors.Is(err, gatehouse.ErrUnavailable) {
						wrong = append(wrong, fmt.Errorf("%s: %w", name, err))
					}
					mu.Unlock()
				}
			})
		}
	}
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		p.Down()
		time.Sleep(300 * time.Millisecond)
		p.Up()
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	for _, err := range wrong {
		t.Errorf("got %v, want ErrUnavailable", err)
	}
	if len(failures) == 0 {
		t.Error("no call failed while the database was down")
	}
	t.Logf("failures while down: %v", failures)
	for name, call := range calls(s) {
		if err := call(t.Context()); err != nil && !(name == "CreateUser" && errors.Is(err, gatehouse.ErrConflict)) {
			t.Errorf("%s after recovery: %v", name, err)
		}
	}
}

// TestConnectionsTerminated: when the server ends the store's connections
// (a restart, a fail-over, an administrator), at most one call fails, with
// ErrUnavailable, and the pool reconnects.
func TestConnectionsTerminated(t *testing.T) {
	base := pgtest.NewSchema(t)
	app := "gatehouse-test-" + randomHex()
	s := openMigrated(t, withHost(t, base, "", "application_name", app))
	ctx := t.Context()
	if err := s.CreateUser(ctx, testUser("alice")); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		// Use several connections, so that the pool holds idle ones.
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() { s.UserByID(ctx, "id-alice") })
		}
		wg.Wait()
		pgtest.Exec(t, base, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app)
		failures := 0
		for i := range 5 {
			_, err := s.UserByID(ctx, "id-alice")
			if err == nil {
				continue
			}
			failures++
			if !errors.Is(err, gatehouse.ErrUnavailable) {
				t.Errorf("round %d, call %d after termination: got %v, want ErrUnavailable", round, i, err)
			}
		}
		t.Logf("round %d: %d of 5 calls failed after the connections were ended", round, failures)
		if failures > 1 {
			t.Errorf("round %d: %d of 5 calls failed after the connections were ended, want at most 1", round, failures)
		}
		time.Sleep(1100 * time.Millisecond) // past the pool's ping-before-reuse threshold
	}
}

// TestStatementTimeout: a statement stuck behind a lock is cancelled by
// statement_timeout and reported as unavailable, and the row lock it waited
// for does not outlive it.
func TestStatementTimeout(t *testing.T) {
	base := pgtest.NewSchema(t)
	s := openMigrated(t, withHost(t, base, "", "statement_timeout", "300ms"))
	ctx := t.Context()
	if err := s.CreateUser(ctx, testUser("alice")); err != nil {
		t.Fatal(err)
	}
	sess := &gatehouse.Session{ID: "s1", UserID: "id-alice", CreatedAt: time.Now(), LastUsedAt: time.Now(),
		ExpiresAt: time.Now().Add(time.Hour), Scope: "notes:read"}
	if err := s.CreateCookieSession(ctx, sess, []byte("cookie")); err != nil {
		t.Fatal(err)
	}

	// Another client holds the session's row lock.
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM sessions WHERE id = 's1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.RevokeSession(ctx, "s1", "", "logout", time.Now())
	if !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("RevokeSession behind a lock: got %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("RevokeSession behind a lock took %v, want about the 300ms statement_timeout", d)
	}
	tx.Rollback(ctx)
	if err := s.RevokeSession(ctx, "s1", "", "logout", time.Now()); err != nil {
		t.Errorf("RevokeSession once the lock is released: %v", err)
	}
}

// TestOpenUnreachable: Open reports a database that does not answer as
// unavailable, quickly, and never repeats the password.
func TestOpenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	const password = "s3cret-pw"
	start := time.Now()
	s, err := postgres.Open(t.Context(), "postgres://gatehouse:"+password+"@"+addr+"/gatehouse?sslmode=disable")
	if err == nil {
		s.Close()
		t.Fatal("Open of an unreachable database: got nil error")
	}
	if !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("Open of an unreachable database: got %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("Open error %q holds the password", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open took %v, want a quick failure", d)
	}
}

// TestOpenRefusesBadURLs: a URL that is not PostgreSQL's, or whose pool
// settings are out of range, is refused before any connection, with a
// message that names the problem and not the password.
func TestOpenRefusesBadURLs(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"mysql://u:s3cret-pw@db/x", "postgres://"},
		{"sqlite:/var/lib/gatehouse.db", "postgres://"},
		{"postgres://u:s3cret-pw@db/x?pool_max_conns=1", "pool_max_conns"},
		{"postgres://u:s3cret-pw@db/x?pool_max_conns=many", "pool_max_conns"},
		{"postgres://u:s3cret-pw@db/x?pool_max_conn_lifetime=5", "pool_max_conn_lifetime"},
		{"postgres://u:s3cret-pw@db/x?pool_max_conn_idle_time=1ms", "pool_max_conn_idle_time"},
		{"postgres://u:s3cret-pw@db/x?sslmode=sometimes", "sslmode"},
		{"postgres://u:s3cret-pw@db:notaport/x", ""},
	}
	for _, tt := range tests {
		s, err := postgres.Open(t.Context(), tt.url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q): got nil error, want a refusal", tt.url)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("Open(%q): got %q, want a message about %q without the password", tt.url, err, tt.want)
		}
		if errors.Is(err, gatehouse.ErrUnavailable) {
			t.Errorf("Open(%q): got %v, want a configuration error, not ErrUnavailable", tt.url, err)
		}
	}
}

// TestOpenNeedsSchema: a search_path that names no existing schema is
// refused at Open, rather than failing at the first migration.
func TestOpenNeedsSchema(t *testing.T) {
	base := pgtest.URL(t)
	s, err := postgres.Open(t.Context(), withHost(t, base, "", "search_path", "no_such_schema_"+randomHex()))
	if err == nil {
		s.Close()
		t.Fatal("Open with a missing schema: got nil error")
	}
	if !strings.Contains(err.Error(), "search_path") {
		t.Errorf("Open with a missing schema: got %v, want a message naming search_path", err)
	}
}

// TestSessionSettings: every connection of the pool carries the store's
// timeouts, or the URL's.
func TestSessionSettings(t *testing.T) {
	base := pgtest.NewSchema(t)
	for _, tt := range []struct {
		params            []string
		statement, idleTx string
		applicationName   string
	}{
		{nil, "5s", "15s", "gatehouse"},
		{[]string{"statement_timeout", "2500", "application_name", "api-1"}, "2500ms", "15s", "api-1"},
		{[]string{"idle_in_transaction_session_timeout", "1min"}, "5s", "1min", "gatehouse"},
		{[]string{"options", "-c statement_timeout=9s"}, "9s", "15s", "gatehouse"},
	} {
		s, err := postgres.Open(t.Context(), withHost(t, base, "", tt.params...))
		if err != nil {
			t.Fatal(err)
		}
		db := s.DB()
		var statement, idleTx, app string
		err = db.QueryRowContext(t.Context(), `SELECT current_setting('statement_timeout'),
			current_setting('idle_in_transaction_session_timeout'), current_setting('application_name')`).Scan(&statement, &idleTx, &app)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if statement != tt.statement || idleTx != tt.idleTx || app != tt.applicationName {
			t.Errorf("with %q: statement_timeout %s, idle_in_transaction_session_timeout %s, application_name %s; want %s, %s, %s",
				tt.params, statement, idleTx, app, tt.statement, tt.idleTx, tt.applicationName)
		}
	}
}

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
