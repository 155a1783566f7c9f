package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/auth"
)

// BenchmarkVerifyCold measures a full verification: the cache is off, so
// every iteration decodes, checks the Ed25519 signature and parses claims.
func BenchmarkVerifyCold(b *testing.B) {
	v := newVerifier(b, auth.StaticKeys{testKID: testPub}, newClock())
	if err := v.SetCacheSize(0); err != nil {
		b.Fatal(err)
	}
	tok := mustSign(b, validClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached measures a cache hit: a map lookup, the time and
// key re-checks, and the copy of the claims.
func BenchmarkVerifyCached(b *testing.B) {
	v := newVerifier(b, auth.StaticKeys{testKID: testPub}, newClock())
	tok := mustSign(b, validClaims())
	if _, err := v.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	v := newVerifier(b, auth.StaticKeys{testKID: testPub}, newClock())
	tok := mustSign(b, validClaims())
	if _, err := v.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAuthenticatorHandler measures Authenticator and Require around a
// trivial handler with a cached token, as every protected request pays.
func BenchmarkAuthenticatorHandler(b *testing.B) {
	v := newVerifier(b, auth.StaticKeys{testKID: testPub}, newClock())
	a := &auth.Authenticator{Verifier: v}
	h := a.Handler(auth.Require("notes:write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	r := httptest.NewRequest("POST", "/v1/notes", nil)
	r.Header.Set("Authorization", "Bearer "+mustSign(b, validClaims()))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status: got %d, want %d", w.Code, http.StatusNoContent)
		}
	}
}
