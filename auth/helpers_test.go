package auth_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/auth"
)

const (
	testIssuer   = "https://id.example.test"
	testAudience = "gatehouse"
	testKID      = "k1"
)

var (
	// Fixed seeds make the keys, and so the examples' output, deterministic.
	testPriv     = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	testPub      = testPriv.Public().(ed25519.PublicKey)
	attackerPriv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	attackerPub  = attackerPriv.Public().(ed25519.PublicKey)

	testStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// clock is an injected, advanceable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: testStart} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// spyKeys is a KeySet that records the kids it is asked for and whose keys
// can change while it is used.
type spyKeys struct {
	mu    sync.Mutex
	keys  map[string]ed25519.PublicKey
	asked []string
}

func newSpyKeys() *spyKeys {
	return &spyKeys{keys: map[string]ed25519.PublicKey{testKID: testPub}}
}

func (s *spyKeys) PublicKey(kid string) (ed25519.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, kid)
	k, ok := s.keys[kid]
	return k, ok
}

func (s *spyKeys) set(kid string, k ed25519.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k == nil {
		delete(s.keys, kid)
	} else {
		s.keys[kid] = k
	}
}

func (s *spyKeys) askedFor() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.asked...)
}

// validClaims are the claims of a token that a test verifier accepts at
// testStart.
func validClaims() auth.Claims {
	return auth.Claims{
		Issuer:    testIssuer,
		Subject:   "user-42",
		Audience:  []string{testAudience},
		ExpiresAt: testStart.Add(15 * time.Minute),
		IssuedAt:  testStart.Add(-time.Minute),
		NotBefore: testStart.Add(-time.Minute),
		ID:        "jti-1",
		Scope:     []string{"notes:read", "notes:write"},
		SessionID: "family-1",
		ClientID:  auth.FirstPartyClientID,
	}
}

func newVerifier(t testing.TB, keys auth.KeySet, clk *clock) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(keys, testIssuer, testAudience)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	v.SetClock(clk.Now)
	return v
}

func mustSign(t testing.TB, c auth.Claims) string {
	t.Helper()
	tok, err := auth.Sign(c, testKID, testPriv)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

var enc = base64.RawURLEncoding

// forge builds a compact JWS from raw header and payload JSON, signed by
// sign (or with an empty signature when sign is nil). It does no checks, so
// it can make any attack token.
func forge(header, payload string, sign func(input []byte) []byte) string {
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	if sign == nil {
		return in + "."
	}
	return in + "." + enc.EncodeToString(sign([]byte(in)))
}

func signWith(k ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(k, in) }
}

const goodHeader = `{"alg":"EdDSA","typ":"at+jwt","kid":"k1"}`

// payloadOf returns the JSON claims of c with changes applied: a nil value
// deletes a claim.
func payloadOf(t testing.TB, c auth.Claims, changes map[string]any) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
