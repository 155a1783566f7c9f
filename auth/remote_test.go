package auth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/auth"
)

// jwksServer serves a JWKS that tests can change, and counts requests.
type jwksServer struct {
	mu           sync.Mutex
	keys         auth.StaticKeys
	cacheControl string
	status       int
	body         string // served instead of keys when set
	requests     int
}

func (j *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.requests++
	if j.status != 0 && j.status != 200 {
		w.WriteHeader(j.status)
		return
	}
	if j.cacheControl != "" {
		w.Header().Set("Cache-Control", j.cacheControl)
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	if j.body != "" {
		w.Write([]byte(j.body))
		return
	}
	json.NewEncoder(w).Encode(j.keys.JWKS())
}

func (j *jwksServer) set(f func(j *jwksServer)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f(j)
}

func (j *jwksServer) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.requests
}

func newRemote(t *testing.T, js *jwksServer, clk *clock) *auth.RemoteKeySet {
	t.Helper()
	srv := httptest.NewServer(js)
	t.Cleanup(srv.Close)
	rs, err := auth.NewRemoteKeySet(srv.URL+"/.well-known/jwks.json", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	rs.SetClock(clk.Now)
	rs.SetLogger(slog.New(slog.DiscardHandler))
	return rs
}

func TestRemoteKeySetVerifies(t *testing.T) {
	js := &jwksServer{keys: auth.StaticKeys{testKID: testPub}}
	clk := newClock()
	v := newVerifier(t, newRemote(t, js, clk), clk)
	if err := v.SetCacheSize(0); err != nil { // every Verify asks the KeySet
		t.Fatal(err)
	}
	tok := mustSign(t, validClaims())
	for range 5 {
		if _, err := v.Verify(tok); err != nil {
			t.Fatalf("Verify: got %v, want nil", err)
		}
	}
	if got := js.count(); got != 1 {
		t.Errorf("fetches: got %d, want 1", got)
	}
}

func TestRemoteKeySetTTL(t *testing.T) {
	tests := []struct {
		cacheControl string
		ttl          time.Duration
	}{
		{"", auth.RemoteDefaultTTL},
		{"max-age=120", 2 * time.Minute},
		{"public, max-age=3600, must-revalidate", time.Hour},
		{"max-age=1", auth.RemoteMinTTL},
		{"no-cache", auth.RemoteMinTTL},
		{"no-store, max-age=600", auth.RemoteMinTTL},
		{"max-age=999999999", auth.RemoteMaxTTL},
		{"max-age=banana", auth.RemoteDefaultTTL},
	}
	for _, tc := range tests {
		t.Run(tc.cacheControl, func(t *testing.T) {
			js := &jwksServer{keys: auth.StaticKeys{testKID: testPub}, cacheControl: tc.cacheControl}
			clk := newClock()
			rs := newRemote(t, js, clk)
			if _, ok := rs.PublicKey(testKID); !ok {
				t.Fatal("PublicKey: got false, want true")
			}
			clk.Advance(tc.ttl - time.Second)
			rs.PublicKey(testKID)
			if got := js.count(); got != 1 {
				t.Errorf("fetches before the TTL: got %d, want 1", got)
			}
			clk.Advance(time.Second)
			rs.PublicKey(testKID)
			if got := js.count(); got != 2 {
				t.Errorf("fetches at the TTL: got %d, want 2", got)
			}
		})
	}
}

func TestRemoteKeySetRotationAndRateLimit(t *testing.T) {
	js := &jwksServer{keys: auth.StaticKeys{testKID: testPub}, cacheControl: "max-age=86400"}
	clk := newClock()
	rs := newRemote(t, js, clk)
	if _, ok := rs.PublicKey(testKID); !ok {
		t.Fatal("PublicKey(k1): got false, want true")
	}
	// The issuer rotates: a token with the new kid triggers a fetch, once
	// RemoteRetryInterval has passed since the last one.
	clk.Advance(auth.RemoteRetryInterval)
	js.set(func(j *jwksServer) { j.keys = auth.StaticKeys{testKID: testPub, "k2": attackerPub} })
	if k, ok := rs.PublicKey("k2"); !ok || !k.Equal(attackerPub) {
		t.Fatalf("PublicKey(k2): got %x, %v, want the new key", k, ok)
	}
	if got := js.count(); got != 2 {
		t.Fatalf("fetches: got %d, want 2", got)
	}
	// Made-up kids cause at most one fetch per RemoteRetryInterval.
	for i := range 100 {
		if _, ok := rs.PublicKey("made-up-" + string(rune('a'+i%26))); ok {
			t.Fatal("PublicKey(made-up): got true, want false")
		}
	}
	if got := js.count(); got != 2 {
		t.Errorf("fetches after 100 unknown kids: got %d, want 2", got)
	}
	clk.Advance(auth.RemoteRetryInterval)
	rs.PublicKey("made-up")
	rs.PublicKey("made-up")
	if got := js.count(); got != 3 {
		t.Errorf("fetches after the retry interval: got %d, want 3", got)
	}
}

func TestRemoteKeySetKeepsLastGoodSet(t *testing.T) {
	failures := []struct {
		name string
		set  func(j *jwksServer)
	}{
		{"server error", func(j *jwksServer) { j.status = 503 }},
		{"not JSON", func(j *jwksServer) { j.body = "<html>" }},
		{"no keys", func(j *jwksServer) { j.body = `{"keys":[]}` }},
		{"bad key", func(j *jwksServer) { j.body = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"k1"}]}` }},
		{"too large", func(j *jwksServer) { j.body = `{"keys":[],"pad":"` + strings.Repeat("A", 1<<20) + `"}` }},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			js := &jwksServer{keys: auth.StaticKeys{testKID: testPub}, cacheControl: "max-age=60"}
			clk := newClock()
			rs := newRemote(t, js, clk)
			if _, ok := rs.PublicKey(testKID); !ok {
				t.Fatal("PublicKey: got false, want true")
			}
			js.set(tc.set)
			clk.Advance(2 * time.Minute)
			if k, ok := rs.PublicKey(testKID); !ok || !k.Equal(testPub) {
				t.Errorf("PublicKey after a failed refresh: got %x, %v, want the last good key", k, ok)
			}
			if err := rs.Refresh(context.Background()); err == nil {
				t.Error("Refresh: got nil, want an error")
			}
			if got := js.count(); got != 3 {
				t.Errorf("fetches: got %d, want 3", got)
			}
		})
	}
}

func TestRemoteKeySetFailsClosed(t *testing.T) {
	js := &jwksServer{status: 500}
	clk := newClock()
	rs := newRemote(t, js, clk)
	if err := rs.Refresh(context.Background()); err == nil {
		t.Error("Refresh: got nil, want an error")
	}
	v := newVerifier(t, rs, clk)
	if _, err := v.Verify(mustSign(t, validClaims())); !errors.Is(err, auth.ErrUnknownKey) {
		t.Errorf("Verify without a key set: got %v, want %v", err, auth.ErrUnknownKey)
	}
}

func TestRemoteKeySetNoRedirects(t *testing.T) {
	target := httptest.NewServer(&jwksServer{keys: auth.StaticKeys{testKID: testPub}})
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirect.Close()
	rs, err := auth.NewRemoteKeySet(redirect.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Refresh(context.Background()); err == nil {
		t.Error("Refresh through a redirect: got nil, want an error")
	}
}

func TestNewRemoteKeySetURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://id.example.com/.well-known/jwks.json", true},
		{"http://127.0.0.1:8080/jwks", true},
		{"http://[::1]:8080/jwks", true},
		{"http://localhost/jwks", true},
		{"http://id.example.com/jwks", false},
		{"http://10.0.0.1/jwks", false},
		{"ftp://id.example.com/jwks", false},
		{"file:///etc/jwks.json", false},
		{"https://", false},
		{"::", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			_, err := auth.NewRemoteKeySet(tc.url, nil)
			if (err == nil) != tc.ok {
				t.Errorf("got error %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestRemoteKeySetConcurrent is for the race detector.
func TestRemoteKeySetConcurrent(t *testing.T) {
	js := &jwksServer{keys: auth.StaticKeys{testKID: testPub}, cacheControl: "max-age=60"}
	clk := newClock()
	rs := newRemote(t, js, clk)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				kid := testKID
				if j%5 == 0 {
					kid = "other"
				}
				if k, ok := rs.PublicKey(kid); ok && !k.Equal(ed25519.PublicKey(testPub)) {
					t.Errorf("PublicKey: got %x, want %x", k, testPub)
				}
				if i == 0 && j%10 == 0 {
					clk.Advance(time.Minute)
				}
			}
		})
	}
	wg.Wait()
}
