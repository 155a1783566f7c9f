package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// BenchmarkPasswordGrant runs successful password-grant logins through the
// whole server (form, throttle, user lookup, argon2id verification through
// the hash limiter, session and audit writes, signing) on twice as many
// goroutines as the limiter has slots, several accounts from several
// addresses so that the brute-force throttle sees distinct pairs. Compare
// its ns/op with BenchmarkArgon2Verify's: the difference is what a login
// costs besides the hash.
func BenchmarkPasswordGrant(b *testing.B) {
	e := newEnvWith(b, func(d *server.Deps) {
		d.Config.RateLimits = map[string]ratelimit.Rate{"POST /v1/auth/token": {Limit: 1_000_000, Period: time.Second}}
	})
	const pw = "correct horse battery staple"
	hash, err := password.Hash(pw, password.DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	const accounts = 16
	for i := range accounts {
		u := &gatehouse.User{ID: fmt.Sprintf("u-%d", i), Username: fmt.Sprintf("bench%d", i), Email: fmt.Sprintf("bench%d@example.com", i), Age: 30, PasswordHash: hash, Roles: []string{gatehouse.RoleUser}}
		if err := e.store.CreateUser(context.Background(), u); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	// Twice as many clients as hash slots, so that a slot never waits
	// while a login writes its session and audit rows.
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1)
		body := url.Values{"grant_type": {"password"}, "username": {fmt.Sprintf("bench%d", i%accounts)}, "password": {pw}}.Encode()
		for pb.Next() {
			req := httptest.NewRequest("POST", "/v1/auth/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i%200+1)
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK && w.Code != http.StatusServiceUnavailable {
				b.Fatalf("got %d, want 200: %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkArgon2Verify is one verification at DefaultParams on GOMAXPROCS
// goroutines, as many as the limiter of BenchmarkPasswordGrant has slots:
// the raw hash rate.
func BenchmarkArgon2Verify(b *testing.B) {
	const pw = "correct horse battery staple"
	hash, err := password.Hash(pw, password.DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, _ := password.Verify(hash, pw, password.DefaultParams); !ok {
				b.Fatal("verify failed")
			}
		}
	})
}
