package auth_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/auth"
)

func TestClaimsJSON(t *testing.T) {
	tests := []struct {
		name   string
		claims auth.Claims
		want   string
	}{
		{"one audience is a string", auth.Claims{Issuer: "i", Subject: "s", Audience: []string{"a"}, ExpiresAt: time.Unix(100, 0), ID: "j", Scope: []string{"x", "y"}},
			`{"iss":"i","sub":"s","aud":"a","exp":100,"jti":"j","scope":"x y"}`},
		{"several audiences are an array", auth.Claims{Audience: []string{"a", "b"}},
			`{"aud":["a","b"]}`},
		{"all claims", auth.Claims{Issuer: "i", Subject: "s", Audience: []string{"a"}, ExpiresAt: time.Unix(100, 900e6), NotBefore: time.Unix(10, 0), IssuedAt: time.Unix(20, 0), ID: "j", ClientID: "c", Scope: []string{"x"}, SessionID: "f", AuthTime: time.Unix(5, 0)},
			`{"iss":"i","sub":"s","aud":"a","exp":100,"nbf":10,"iat":20,"jti":"j","client_id":"c","scope":"x","sid":"f","auth_time":5}`},
		{"empty", auth.Claims{}, `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("Marshal: got %s, want %s", b, tc.want)
			}
		})
	}
}

func TestClaimsUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    auth.Claims
		wantErr bool
	}{
		{"string aud", `{"aud":"a","scope":"x  y "}`, auth.Claims{Audience: []string{"a"}, Scope: []string{"x", "y"}}, false},
		{"array aud", `{"aud":["a","b"]}`, auth.Claims{Audience: []string{"a", "b"}}, false},
		{"times", `{"exp":100,"iat":1.5,"nbf":0,"auth_time":7}`, auth.Claims{ExpiresAt: time.Unix(100, 0), IssuedAt: time.Unix(1, 500e6), NotBefore: time.Unix(0, 0), AuthTime: time.Unix(7, 0)}, false},
		{"ids", `{"sid":"f","client_id":"gatehouse","jti":"j"}`, auth.Claims{SessionID: "f", ClientID: "gatehouse", ID: "j"}, false},
		{"duplicate member", `{"sub":"a","sub":"b"}`, auth.Claims{}, true},
		{"exp as string", `{"exp":"100"}`, auth.Claims{}, true},
		{"negative exp", `{"exp":-1}`, auth.Claims{}, true},
		{"huge exp", `{"exp":1e300}`, auth.Claims{}, true},
		{"aud number", `{"aud":1}`, auth.Claims{}, true},
		{"aud array of numbers", `{"aud":[1]}`, auth.Claims{}, true},
		{"sub null", `{"sub":null}`, auth.Claims{}, true},
		{"not an object", `[]`, auth.Claims{}, true},
		{"two objects", `{}{}`, auth.Claims{}, true},
		{"truncated", `{"sub":"a"`, auth.Claims{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c auth.Claims
			err := json.Unmarshal([]byte(tc.json), &c)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Unmarshal: got error %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !c.ExpiresAt.Equal(tc.want.ExpiresAt) || !c.IssuedAt.Equal(tc.want.IssuedAt) || !c.NotBefore.Equal(tc.want.NotBefore) || !c.AuthTime.Equal(tc.want.AuthTime) {
				t.Errorf("times: got %v %v %v %v, want %v %v %v %v", c.ExpiresAt, c.IssuedAt, c.NotBefore, c.AuthTime, tc.want.ExpiresAt, tc.want.IssuedAt, tc.want.NotBefore, tc.want.AuthTime)
			}
			if !slices.Equal(c.Audience, tc.want.Audience) || !slices.Equal(c.Scope, tc.want.Scope) ||
				c.SessionID != tc.want.SessionID || c.ClientID != tc.want.ClientID || c.ID != tc.want.ID {
				t.Errorf("got %+v, want %+v", c, tc.want)
			}
		})
	}
}

func TestClaimsHas(t *testing.T) {
	c := &auth.Claims{Scope: []string{"notes:read", "notes:write"}}
	tests := []struct {
		c     *auth.Claims
		scope string
		want  bool
	}{
		{c, "notes:read", true},
		{c, "notes:write", true},
		{c, "notes", false},
		{c, "NOTES:READ", false},
		{c, "", false},
		{nil, "notes:read", false},
	}
	for _, tc := range tests {
		if got := tc.c.Has(tc.scope); got != tc.want {
			t.Errorf("Has(%q): got %v, want %v", tc.scope, got, tc.want)
		}
	}
}

func TestSign(t *testing.T) {
	tok := mustSign(t, validClaims())
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("segments: got %d, want 3", len(parts))
	}
	h, err := enc.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"alg":"EdDSA","typ":"at+jwt","kid":"k1"}`; string(h) != want {
		t.Errorf("header: got %s, want %s", h, want)
	}
	if !ed25519.Verify(testPub, []byte(parts[0]+"."+parts[1]), mustDecode(t, parts[2])) {
		t.Error("signature: got invalid, want valid")
	}
	// Deterministic: Ed25519 signatures do not depend on randomness.
	if again := mustSign(t, validClaims()); again != tok {
		t.Errorf("second Sign: got %s, want %s", again, tok)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := enc.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *auth.Claims)
		kid    string
		key    ed25519.PrivateKey
	}{
		{"missing iss", func(c *auth.Claims) { c.Issuer = "" }, testKID, testPriv},
		{"missing sub", func(c *auth.Claims) { c.Subject = "" }, testKID, testPriv},
		{"missing aud", func(c *auth.Claims) { c.Audience = nil }, testKID, testPriv},
		{"empty aud", func(c *auth.Claims) { c.Audience = []string{""} }, testKID, testPriv},
		{"missing exp", func(c *auth.Claims) { c.ExpiresAt = time.Time{} }, testKID, testPriv},
		{"missing iat", func(c *auth.Claims) { c.IssuedAt = time.Time{} }, testKID, testPriv},
		{"missing jti", func(c *auth.Claims) { c.ID = "" }, testKID, testPriv},
		{"missing client_id", func(c *auth.Claims) { c.ClientID = "" }, testKID, testPriv},
		{"scope with space", func(c *auth.Claims) { c.Scope = []string{"a b"} }, testKID, testPriv},
		{"empty scope", func(c *auth.Claims) { c.Scope = []string{""} }, testKID, testPriv},
		{"kid with slash", func(*auth.Claims) {}, "a/b", testPriv},
		{"kid with quote", func(*auth.Claims) {}, `a"b`, testPriv},
		{"empty kid", func(*auth.Claims) {}, "", testPriv},
		{"short key", func(*auth.Claims) {}, testKID, testPriv[:32]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validClaims()
			tc.change(&c)
			if tok, err := auth.Sign(c, tc.kid, tc.key); err == nil {
				t.Errorf("Sign: got %q, nil, want an error", tok)
			}
		})
	}
}

// TestInteropJWTLibrary checks tokens against github.com/golang-jwt/jwt/v5
// in both directions.
func TestInteropJWTLibrary(t *testing.T) {
	t.Run("ours verified by the library", func(t *testing.T) {
		tok := mustSign(t, validClaims())
		parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) { return testPub, nil },
			jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(func() time.Time { return testStart }),
			jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience), jwt.WithExpirationRequired())
		if err != nil {
			t.Fatalf("jwt.Parse: got %v, want nil", err)
		}
		if sub, _ := parsed.Claims.GetSubject(); sub != "user-42" {
			t.Errorf("sub: got %q, want %q", sub, "user-42")
		}
	})
	t.Run("library's verified by ours", func(t *testing.T) {
		tk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
			"iss": testIssuer, "sub": "user-7", "aud": []string{testAudience}, "jti": "j",
			"exp": testStart.Add(time.Minute).Unix(), "iat": testStart.Unix(), "scope": "notes:read",
		})
		tk.Header["typ"] = "at+jwt"
		tk.Header["kid"] = testKID
		tok, err := tk.SignedString(testPriv)
		if err != nil {
			t.Fatal(err)
		}
		c, err := newVerifier(t, newSpyKeys(), newClock()).Verify(tok)
		if err != nil {
			t.Fatalf("Verify: got %v, want nil", err)
		}
		if c.Subject != "user-7" || !c.Has("notes:read") {
			t.Errorf("claims: got %+v, want sub user-7 with notes:read", c)
		}
	})
}

func TestVerifiedClaims(t *testing.T) {
	want := validClaims()
	want.AuthTime = testStart.Add(-time.Hour)
	c, err := newVerifier(t, newSpyKeys(), newClock()).Verify(mustSign(t, want))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != want.Issuer || c.Subject != want.Subject || c.ID != want.ID || c.SessionID != want.SessionID || c.ClientID != want.ClientID {
		t.Errorf("strings: got %+v, want %+v", c, want)
	}
	if !slices.Equal(c.Audience, want.Audience) || !slices.Equal(c.Scope, want.Scope) {
		t.Errorf("lists: got %v %v, want %v %v", c.Audience, c.Scope, want.Audience, want.Scope)
	}
	if !c.ExpiresAt.Equal(want.ExpiresAt) || !c.IssuedAt.Equal(want.IssuedAt) || !c.NotBefore.Equal(want.NotBefore) || !c.AuthTime.Equal(want.AuthTime) {
		t.Errorf("times: got %v %v %v %v, want %v %v %v %v", c.ExpiresAt, c.IssuedAt, c.NotBefore, c.AuthTime, want.ExpiresAt, want.IssuedAt, want.NotBefore, want.AuthTime)
	}
}

func TestVerifierConfig(t *testing.T) {
	t.Run("NewVerifier", func(t *testing.T) {
		tests := []struct {
			name             string
			keys             auth.KeySet
			issuer, audience string
		}{
			{"nil keys", nil, testIssuer, testAudience},
			{"no issuer", auth.StaticKeys{}, "", testAudience},
			{"no audience", auth.StaticKeys{}, testIssuer, ""},
		}
		for _, tc := range tests {
			if v, err := auth.NewVerifier(tc.keys, tc.issuer, tc.audience); err == nil {
				t.Errorf("%s: got %v, nil, want an error", tc.name, v)
			}
		}
	})
	t.Run("zero Verifier refuses", func(t *testing.T) {
		var v auth.Verifier
		if err := v.SetLeeway(time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(mustSign(t, validClaims())); !errors.Is(err, auth.ErrNotConfigured) {
			t.Errorf("Verify: got %v, want %v", err, auth.ErrNotConfigured)
		}
	})
	v := newVerifier(t, newSpyKeys(), newClock())
	setters := []struct {
		name string
		set  func() error
		ok   bool
	}{
		{"leeway 0", func() error { return v.SetLeeway(0) }, true},
		{"leeway 60 s", func() error { return v.SetLeeway(60 * time.Second) }, true},
		{"leeway 61 s", func() error { return v.SetLeeway(61 * time.Second) }, false},
		{"negative leeway", func() error { return v.SetLeeway(-time.Second) }, false},
		{"max length 256", func() error { return v.SetMaxTokenLen(256) }, true},
		{"max length 255", func() error { return v.SetMaxTokenLen(255) }, false},
		{"max length 65537", func() error { return v.SetMaxTokenLen(65537) }, false},
		{"cache 0", func() error { return v.SetCacheSize(0) }, true},
		{"cache -1", func() error { return v.SetCacheSize(-1) }, false},
		{"cache 1000001", func() error { return v.SetCacheSize(1_000_001) }, false},
	}
	for _, tc := range setters {
		if err := tc.set(); (err == nil) != tc.ok {
			t.Errorf("%s: got error %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	t.Run("max length applies", func(t *testing.T) {
		v := newVerifier(t, newSpyKeys(), newClock())
		tok := mustSign(t, validClaims())
		if err := v.SetMaxTokenLen(len(tok)); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("Verify at the limit: got %v, want nil", err)
		}
		if err := v.SetMaxTokenLen(len(tok) - 1); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok); !errors.Is(err, auth.ErrTooLarge) {
			t.Errorf("Verify over the limit (even cached): got %v, want %v", err, auth.ErrTooLarge)
		}
	})
	t.Run("leeway 0 by default", func(t *testing.T) {
		v := newVerifier(t, newSpyKeys(), newClock())
		c := validClaims()
		c.ExpiresAt = testStart
		if _, err := v.Verify(mustSign(t, c)); !errors.Is(err, auth.ErrExpired) {
			t.Errorf("Verify at exp: got %v, want %v", err, auth.ErrExpired)
		}
		c.ExpiresAt = testStart.Add(time.Second)
		if _, err := v.Verify(mustSign(t, c)); err != nil {
			t.Errorf("Verify 1 s before exp: got %v, want nil", err)
		}
	})
}

func TestVerifierCache(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		v := newVerifier(t, newSpyKeys(), newClock())
		if err := v.SetCacheSize(0); err != nil {
			t.Fatal(err)
		}
		tok := mustSign(t, validClaims())
		for range 3 {
			if _, err := v.Verify(tok); err != nil {
				t.Fatal(err)
			}
		}
		if s := v.Stats(); s != (auth.CacheStats{}) {
			t.Errorf("Stats: got %+v, want zero", s)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		const size = 64
		v := newVerifier(t, newSpyKeys(), newClock())
		if err := v.SetCacheSize(size); err != nil {
			t.Fatal(err)
		}
		hot := mustSign(t, validClaims())
		for i := range 1000 {
			c := validClaims()
			c.ID = "jti-" + string(rune('a'+i%26)) + "-" + time.Duration(i).String()
			if _, err := v.Verify(mustSign(t, c)); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(hot); err != nil {
				t.Fatal(err)
			}
		}
		s := v.Stats()
		if s.Entries > size || s.Capacity != size {
			t.Errorf("Entries, Capacity: got %d, %d, want at most %d, %d", s.Entries, s.Capacity, size, size)
		}
		if s.Evictions == 0 {
			t.Error("Evictions: got 0, want some")
		}
		// The hot token keeps its place (second chance): nearly all of its
		// verifications are hits.
		if s.Hits < 950 {
			t.Errorf("Hits: got %d, want at least 950 of the hot token's 1000", s.Hits)
		}
	})
}

// TestVerifierConcurrent is for the race detector: verifications of shared
// and distinct tokens, cache evictions and setters at once.
func TestVerifierConcurrent(t *testing.T) {
	v := newVerifier(t, newSpyKeys(), newClock())
	if err := v.SetCacheSize(32); err != nil {
		t.Fatal(err)
	}
	shared := mustSign(t, validClaims())
	var toks []string
	for i := range 64 {
		c := validClaims()
		c.ID = "jti-" + time.Duration(i).String()
		toks = append(toks, mustSign(t, c))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				tok := shared
				if i%2 == 1 {
					tok = toks[(g*31+i)%len(toks)]
				}
				c, err := v.Verify(tok)
				if err != nil {
					t.Errorf("Verify: got %v, want nil", err)
					return
				}
				c.Scope = append(c.Scope[:0], "mine")
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			_ = v.SetLeeway(time.Duration(i%60) * time.Second)
			_ = v.Stats()
		}
	})
	wg.Wait()
}
