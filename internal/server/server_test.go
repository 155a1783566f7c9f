package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/sqlite"
	"github.com/gatehouse/gatehouse/ratelimit"
)

const (
	issuer   = "http://gatehouse.test"
	audience = "http://gatehouse.test"
)

// env is a server over a real SQLite file, without a listener, for
// benchmarks and handler-level tests.
type env struct {
	srv   *server.Server
	store *sqlite.Store
	ring  *keys.Ring
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	return newEnvDocs(tb, true)
}

// newEnvDocs is newEnv with Config.Docs (GET /openapi.json) on or off.
func newEnvDocs(tb testing.TB, docs bool) *env {
	tb.Helper()
	return newEnvWith(tb, func(d *server.Deps) { d.Config.Docs = docs })
}

// newEnvWith is newEnv with edit applied to the dependencies first.
func newEnvWith(tb testing.TB, edit func(*server.Deps)) *env {
	tb.Helper()
	dir := tb.TempDir()
	store, err := sqlite.Open(filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	ctx := context.Background()
	if _, err := store.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	kek, _, err := keys.LoadKEK("", "", dir)
	if err != nil {
		tb.Fatal(err)
	}
	ring := keys.NewRing(store, kek, nil)
	if _, err := ring.Ensure(ctx); err != nil {
		tb.Fatal(err)
	}
	d := server.Deps{
		// Benchmarks run far past the default per-user limit.
		Config: server.Config{Issuer: issuer, Audience: audience, Docs: true, UserRate: ratelimit.Rate{Limit: 1_000_000, Period: time.Second}},
		Store:  store,
		Keys:   ring,
		Hasher: &password.Hasher{Params: password.DefaultParams, Limiter: password.NewLimiter(0, 16)},
		KEK:    kek,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&d)
	}
	srv, err := server.NewServer(d)
	if err != nil {
		tb.Fatal(err)
	}
	return &env{srv: srv, store: store, ring: ring}
}

// user stores an account directly and returns a signed access token for it.
func (e *env) user(tb testing.TB, name string, roles ...string) (*gatehouse.User, string) {
	tb.Helper()
	u := &gatehouse.User{ID: "u-" + name, Username: name, Email: name + "@example.com", Age: 30, PasswordHash: password.DummyHash(password.DefaultParams), Roles: roles}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		tb.Fatal(err)
	}
	perms, err := e.store.RolePermissions(context.Background(), roles)
	if err != nil {
		tb.Fatal(err)
	}
	return u, e.token(tb, u.ID, perms)
}

func (e *env) token(tb testing.TB, sub string, scope []string) string {
	tb.Helper()
	kid, key, err := e.ring.Signer()
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	tok, err := auth.Sign(auth.Claims{Issuer: issuer, Subject: sub, Audience: []string{audience}, ExpiresAt: now.Add(time.Hour),
		IssuedAt: now, NotBefore: now, ID: "jti-" + sub + now.String(), Scope: scope, SessionID: "s-" + sub, ClientID: "gatehouse"}, kid, key)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// BenchmarkUsersMe runs GET /v1/users/me through the whole middleware chain
// (request ID, access log, security headers, recovery, routing, token
// verification from the cache, store read, JSON) with one repeated token.
func BenchmarkUsersMe(b *testing.B) {
	e := newEnv(b)
	_, tok := e.user(b, "bench", gatehouse.RoleUser)
	req := httptest.NewRequest("GET", "/v1/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("got %d, want 200: %s", w.Code, w.Body)
		}
	}
	cpu.stop()
}

// BenchmarkHealthz is the same chain without authentication or the store:
// the baseline that BenchmarkUsersMe is compared with.
func BenchmarkHealthz(b *testing.B) {
	e := newEnv(b)
	req := httptest.NewRequest("GET", "/healthz", nil)
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
	}
	cpu.stop()
}
