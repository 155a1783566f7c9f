package auth_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/auth"
)

// attack is a token that must be refused by Verify with want and by the
// Authenticator with a 401 invalid_token.
type attack struct {
	name  string
	token string
	want  error
}

func attacks(t *testing.T) []attack {
	t.Helper()
	good := mustSign(t, validClaims())
	parts := strings.Split(good, ".")
	payload := payloadOf(t, validClaims(), nil)
	ours := signWith(testPriv)
	theirs := signWith(attackerPriv)
	with := func(changes map[string]any) string { return payloadOf(t, validClaims(), changes) }
	hs256 := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return m.Sum(nil)
		}
	}
	pubJWK, err := json.Marshal(auth.PublicJWK(testKID, testPub))
	if err != nil {
		t.Fatal(err)
	}
	attackerJWK, err := json.Marshal(auth.PublicJWK(testKID, attackerPub))
	if err != nil {
		t.Fatal(err)
	}

	// Classic algorithm confusion made with a mainstream JWT library: HS256
	// keyed with the verifier's public key, in several encodings an
	// attacker would try.
	libHS := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": testIssuer, "sub": "admin", "aud": testAudience, "jti": "x",
			"exp": testStart.Add(time.Hour).Unix(), "scope": "users:write audit:read",
		})
		tok.Header["typ"] = "at+jwt"
		tok.Header["kid"] = testKID
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": testIssuer, "sub": "admin", "aud": testAudience, "jti": "x",
		"exp": testStart.Add(time.Hour).Unix(),
	})
	rs.Header["typ"] = "at+jwt"
	rs.Header["kid"] = testKID
	rs256, err := rs.SignedString(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	libNone, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"iss": testIssuer, "sub": "admin", "aud": testAudience, "jti": "x",
		"exp": testStart.Add(time.Hour).Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}

	flip := func(i int) string {
		sig, err := enc.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		sig[i/8] ^= 1 << (i % 8)
		return parts[0] + "." + parts[1] + "." + enc.EncodeToString(sig)
	}
	tamper := func(changes map[string]any) string {
		return parts[0] + "." + enc.EncodeToString([]byte(with(changes))) + "." + parts[2]
	}

	return []attack{
		// RFC 8725 §3.1: the algorithm is the verifier's choice.
		{"alg none without signature", forge(`{"alg":"none","typ":"at+jwt","kid":"k1"}`, payload, nil), auth.ErrMalformed},
		{"alg none with signature", forge(`{"alg":"none","typ":"at+jwt","kid":"k1"}`, payload, ours), auth.ErrAlgorithm},
		{"alg None with signature", forge(`{"alg":"None","typ":"at+jwt","kid":"k1"}`, payload, ours), auth.ErrAlgorithm},
		{"alg none from jwt library", libNone, auth.ErrMalformed},
		{"alg missing", forge(`{"typ":"at+jwt","kid":"k1"}`, payload, ours), auth.ErrAlgorithm},
		{"alg not a string", forge(`{"alg":["EdDSA"],"typ":"at+jwt","kid":"k1"}`, payload, ours), auth.ErrAlgorithm},
		{"alg eddsa lowercase", forge(`{"alg":"eddsa","typ":"at+jwt","kid":"k1"}`, payload, ours), auth.ErrAlgorithm},
		{"HS256 keyed with public key bytes", forge(`{"alg":"HS256","typ":"at+jwt","kid":"k1"}`, payload, hs256(testPub)), auth.ErrAlgorithm},
		{"HS256 keyed with public JWK", forge(`{"alg":"HS256","typ":"at+jwt","kid":"k1"}`, payload, hs256(pubJWK)), auth.ErrAlgorithm},
		{"HS256 from jwt library keyed with public key", libHS(testPub), auth.ErrAlgorithm},
		{"HS256 from jwt library keyed with x", libHS([]byte(enc.EncodeToString(testPub))), auth.ErrAlgorithm},
		{"RS256 from jwt library", rs256, auth.ErrAlgorithm},
		{"RS256 header on Ed25519 signature", forge(`{"alg":"RS256","typ":"at+jwt","kid":"k1"}`, payload, ours), auth.ErrAlgorithm},

		// RFC 7515 §5.2: the signature covers header and payload.
		{"changed sub, original signature", tamper(map[string]any{"sub": "admin"}), auth.ErrSignature},
		{"added scope, original signature", tamper(map[string]any{"scope": "notes:read notes:write users:write audit:read"}), auth.ErrSignature},
		{"later exp, original signature", tamper(map[string]any{"exp": testStart.Add(24 * time.Hour).Unix()}), auth.ErrSignature},
		{"changed header, original signature", enc.EncodeToString([]byte(`{"alg":"EdDSA","typ":"application/at+jwt","kid":"k1"}`)) + "." + parts[1] + "." + parts[2], auth.ErrSignature},
		{"flipped first signature bit", flip(0), auth.ErrSignature},
		{"flipped last signature bit", flip(511), auth.ErrSignature},
		{"signature truncated to 63 bytes", good[:len(good)-2], auth.ErrSignature},
		{"signature truncated by one character", good[:len(good)-1], auth.ErrMalformed},
		{"signature doubled", good + parts[2], auth.ErrSignature},
		{"signed by attacker", forge(goodHeader, payload, theirs), auth.ErrSignature},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(mustSign(t, validClaims2()), ".")[2], auth.ErrSignature},

		// RFC 8725 §3.10: the key comes from the KeySet, by a safe kid.
		{"unknown kid", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k2"}`, payload, ours), auth.ErrUnknownKey},
		{"missing kid", forge(`{"alg":"EdDSA","typ":"at+jwt"}`, payload, ours), auth.ErrUnknownKey},
		{"empty kid", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":""}`, payload, ours), auth.ErrUnknownKey},
		{"kid not a string", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":1}`, payload, ours), auth.ErrUnknownKey},
		{"path kid", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"../../../dev/null"}`, payload, hs256(nil)), auth.ErrUnknownKey},
		{"dot-dot kid", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":".."}`, payload, ours), auth.ErrUnknownKey},
		{"SQL kid", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"x' UNION SELECT 'AAAA' --"}`, payload, ours), auth.ErrUnknownKey},
		{"65-character kid", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"`+strings.Repeat("k", 65)+`"}`, payload, ours), auth.ErrUnknownKey},
		{"kid with NUL", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1\u0000"}`, payload, ours), auth.ErrUnknownKey},
		{"embedded jwk of attacker", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","jwk":`+string(attackerJWK)+`}`, payload, theirs), auth.ErrSignature},
		{"embedded jwk of attacker without kid", forge(`{"alg":"EdDSA","typ":"at+jwt","jwk":`+string(attackerJWK)+`}`, payload, theirs), auth.ErrUnknownKey},
		{"jku to attacker", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","jku":"https://evil.example/jwks.json"}`, payload, theirs), auth.ErrSignature},
		{"x5u to attacker", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","x5u":"https://evil.example/cert.pem"}`, payload, theirs), auth.ErrSignature},
		{"x5c of attacker", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"evil","x5c":["MIIB"]}`, payload, theirs), auth.ErrUnknownKey},

		// RFC 9068 §4, RFC 8725 §3.11: explicit typing.
		{"typ JWT", forge(`{"alg":"EdDSA","typ":"JWT","kid":"k1"}`, payload, ours), auth.ErrType},
		{"typ missing", forge(`{"alg":"EdDSA","kid":"k1"}`, payload, ours), auth.ErrType},
		{"typ upper case", forge(`{"alg":"EdDSA","typ":"AT+JWT","kid":"k1"}`, payload, ours), auth.ErrType},
		{"typ of a logout token", forge(`{"alg":"EdDSA","typ":"logout+jwt","kid":"k1"}`, payload, ours), auth.ErrType},

		// RFC 7515 §4.1.11.
		{"crit header", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","crit":["exp"],"exp":1}`, payload, ours), auth.ErrCritical},
		{"crit b64", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","b64":false,"crit":["b64"]}`, payload, ours), auth.ErrCritical},

		// RFC 9068 §4, RFC 8725 §3.8-3.9: claims.
		{"wrong iss", forge(goodHeader, with(map[string]any{"iss": "https://evil.example"}), ours), auth.ErrIssuer},
		{"iss with trailing slash", forge(goodHeader, with(map[string]any{"iss": testIssuer + "/"}), ours), auth.ErrIssuer},
		{"missing iss", forge(goodHeader, with(map[string]any{"iss": nil}), ours), auth.ErrIssuer},
		{"wrong aud", forge(goodHeader, with(map[string]any{"aud": "other-api"}), ours), auth.ErrAudience},
		{"aud array without ours", forge(goodHeader, with(map[string]any{"aud": []string{"a", "b"}}), ours), auth.ErrAudience},
		{"missing aud", forge(goodHeader, with(map[string]any{"aud": nil}), ours), auth.ErrAudience},
		{"missing exp", forge(goodHeader, with(map[string]any{"exp": nil}), ours), auth.ErrMissingClaim},
		{"exp as string", forge(goodHeader, with(map[string]any{"exp": "1999999999"}), ours), auth.ErrMalformed},
		{"expired beyond skew", forge(goodHeader, with(map[string]any{"exp": testStart.Add(-61 * time.Second).Unix()}), ours), auth.ErrExpired},
		{"expired at the end of skew", forge(goodHeader, with(map[string]any{"exp": testStart.Add(-60 * time.Second).Unix()}), ours), auth.ErrExpired},
		{"nbf in the future", forge(goodHeader, with(map[string]any{"nbf": testStart.Add(61 * time.Second).Unix()}), ours), auth.ErrNotYetValid},
		{"iat in the future", forge(goodHeader, with(map[string]any{"iat": testStart.Add(time.Hour).Unix()}), ours), auth.ErrNotYetValid},
		{"missing sub", forge(goodHeader, with(map[string]any{"sub": nil}), ours), auth.ErrMissingClaim},
		{"empty sub", forge(goodHeader, with(map[string]any{"sub": ""}), ours), auth.ErrMissingClaim},
		{"sub not a string", forge(goodHeader, with(map[string]any{"sub": 42}), ours), auth.ErrMalformed},
		{"missing jti", forge(goodHeader, with(map[string]any{"jti": nil}), ours), auth.ErrMissingClaim},
		{"scope as array", forge(goodHeader, with(map[string]any{"scope": []string{"users:write"}}), ours), auth.ErrMalformed},

		// RFC 7515 §7.1: structure and encoding.
		{"oversized 100 KB", forge(goodHeader, with(map[string]any{"pad": strings.Repeat("A", 100<<10)}), ours), auth.ErrTooLarge},
		{"empty", "", auth.ErrMalformed},
		{"one segment", parts[0], auth.ErrMalformed},
		{"two segments", parts[0] + "." + parts[1], auth.ErrMalformed},
		{"four segments", good + "." + parts[2], auth.ErrMalformed},
		{"five segments (JWE shape)", good + ".AAAA.AAAA", auth.ErrMalformed},
		{"empty payload segment", parts[0] + ".." + parts[2], auth.ErrMalformed},
		{"standard base64 characters", strings.Replace(good, parts[2][:1], "+", 1), auth.ErrMalformed},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"space inside", parts[0] + ". " + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"newline inside", parts[0] + ".\n" + parts[1] + "." + parts[2], auth.ErrMalformed},
		{"non-canonical base64 tail", parts[0] + "." + parts[1] + "." + nonCanonical(parts[2]), auth.ErrMalformed},
		{"header not JSON", forge(`alg=EdDSA`, payload, ours), auth.ErrMalformed},
		{"header an array", forge(`["EdDSA"]`, payload, ours), auth.ErrMalformed},
		{"header with trailing data", forge(goodHeader+`{}`, payload, ours), auth.ErrMalformed},
		{"payload null", forge(goodHeader, `null`, ours), auth.ErrMalformed},
		{"payload not UTF-8", forge(goodHeader, strings.Replace(payload, "user-42", "user-\xff", 1), ours), auth.ErrMalformed},
		{"duplicate alg in header", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","alg":"none"}`, payload, ours), auth.ErrMalformed},
		{"duplicate kid in header", forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","kid":"k2"}`, payload, ours), auth.ErrMalformed},
		{"duplicate sub in payload", forge(goodHeader, strings.Replace(payload, `"sub":"user-42"`, `"sub":"user-42","sub":"admin"`, 1), ours), auth.ErrMalformed},
		{"duplicate in nested object", forge(goodHeader, strings.Replace(payload, `{`, `{"cnf":{"a":1,"a":2},`, 1), ours), auth.ErrMalformed},
	}
}

var safeKID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// validClaims2 differ from validClaims only in the jti.
func validClaims2() auth.Claims {
	c := validClaims()
	c.ID = "jti-2"
	return c
}

// nonCanonical changes the unused low bits of the last base64url character,
// which a lenient decoder ignores: the same signature bytes, other text.
func nonCanonical(seg string) string {
	last := seg[len(seg)-1]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, last)
	return seg[:len(seg)-1] + string(alphabet[i^1])
}

func TestVerifyRefusesAttacks(t *testing.T) {
	for _, tc := range attacks(t) {
		t.Run(tc.name, func(t *testing.T) {
			keys := newSpyKeys()
			v := newVerifier(t, keys, newClock())
			if err := v.SetLeeway(60 * time.Second); err != nil {
				t.Fatal(err)
			}
			if err := v.SetMaxTokenLen(8192); err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: got error %v, want %v", err, tc.want)
			}
			if c != nil {
				t.Errorf("Verify: got claims %+v, want nil", c)
			}
			if len(tc.token) > 8 && strings.Contains(err.Error(), tc.token[:8]) {
				t.Errorf("error %q contains token text", err)
			}
			// The kid reaches the KeySet only when it is of the safe
			// alphabet, and never for a token refused before the header
			// is read.
			for _, kid := range keys.askedFor() {
				if !safeKID.MatchString(kid) || kid == ".." {
					t.Errorf("KeySet asked for kid %q, want only kids of [A-Za-z0-9._-]{1,64}", kid)
				}
			}
			// A refused token is not cached: asking again gives the same
			// error.
			if _, err2 := v.Verify(tc.token); !errors.Is(err2, tc.want) {
				t.Errorf("second Verify: got error %v, want %v", err2, tc.want)
			}
			if s := v.Stats(); s.Entries != 0 || s.Hits != 0 {
				t.Errorf("Stats after refusals: got %+v, want no entries and no hits", s)
			}
		})
	}
}

func TestAuthenticatorRefusesAttacks(t *testing.T) {
	for _, tc := range attacks(t) {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, newSpyKeys(), newClock())
			if err := v.SetLeeway(60 * time.Second); err != nil {
				t.Fatal(err)
			}
			called := false
			a := &auth.Authenticator{Verifier: v}
			h := a.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
			r := httptest.NewRequest("GET", "/v1/notes", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if called {
				t.Fatal("protected handler was called")
			}
			if w.Code != http.StatusUnauthorized {
				t.Errorf("status: got %d, want %d", w.Code, http.StatusUnauthorized)
			}
			// An empty token after "Bearer " is a missing credential only
			// when nothing was sent; "Bearer" with nothing is still a
			// malformed credential and so invalid_token.
			wantChallenge := `Bearer realm="gatehouse", error="invalid_token", error_description="The access token is invalid"`
			if errors.Is(tc.want, auth.ErrExpired) {
				wantChallenge = `Bearer realm="gatehouse", error="invalid_token", error_description="The access token expired"`
			}
			if got := w.Header().Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, wantChallenge)
			}
			if len(tc.token) >= 16 && strings.Contains(w.Body.String(), tc.token[:16]) {
				t.Errorf("body echoes the token: %s", w.Body)
			}
		})
	}
}

// TestCachedThenExpired checks that a cache hit is refused once the clock
// passes exp, leeway included.
func TestCachedThenExpired(t *testing.T) {
	clk := newClock()
	v := newVerifier(t, newSpyKeys(), clk)
	if err := v.SetLeeway(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	c := validClaims()
	c.ExpiresAt = testStart.Add(time.Minute)
	tok := mustSign(t, c)
	for i := range 3 {
		if _, err := v.Verify(tok); err != nil {
			t.Fatalf("Verify %d: got %v, want nil", i, err)
		}
	}
	if s := v.Stats(); s.Hits != 2 || s.Misses != 1 || s.Entries != 1 {
		t.Fatalf("Stats: got %+v, want 2 hits, 1 miss, 1 entry", s)
	}
	clk.Advance(89 * time.Second) // exp + 29 s: inside the leeway
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("Verify within leeway: got %v, want nil", err)
	}
	clk.Advance(time.Second) // exp + 30 s
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("Verify after exp: got %v, want %v", err, auth.ErrExpired)
	}
	if s := v.Stats(); s.Hits != 4 || s.Entries != 0 {
		t.Errorf("Stats: got %+v, want 4 hits and the entry dropped", s)
	}
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("Verify again after exp: got %v, want %v", err, auth.ErrExpired)
	}

	// Through the middleware.
	a := &auth.Authenticator{Verifier: v}
	h := a.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("status: got %d, want %d", w.Code, http.StatusUnauthorized)
	}
	if got, want := w.Header().Get("WWW-Authenticate"), `error_description="The access token expired"`; !strings.Contains(got, want) {
		t.Errorf("WWW-Authenticate: got %q, want it to contain %q", got, want)
	}
}

// TestCachedKeyWithdrawn checks that removing or replacing a key stops its
// cached tokens at once.
func TestCachedKeyWithdrawn(t *testing.T) {
	tests := []struct {
		name string
		key  []byte // the key for kid k1 after the token was cached; nil removes it
		want error
	}{
		{"removed", nil, auth.ErrUnknownKey},
		{"replaced", attackerPub, auth.ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := newSpyKeys()
			v := newVerifier(t, keys, newClock())
			tok := mustSign(t, validClaims())
			if _, err := v.Verify(tok); err != nil {
				t.Fatalf("Verify: got %v, want nil", err)
			}
			keys.set(testKID, tc.key)
			if _, err := v.Verify(tok); !errors.Is(err, tc.want) {
				t.Fatalf("Verify after key change: got %v, want %v", err, tc.want)
			}
			if s := v.Stats(); s.Entries != 0 {
				t.Errorf("Entries: got %d, want 0", s.Entries)
			}
		})
	}
}

func TestVerifyAcceptsWithinSkew(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
	}{
		{"expired 59 s ago", map[string]any{"exp": testStart.Add(-59 * time.Second).Unix()}},
		{"nbf in 60 s", map[string]any{"nbf": testStart.Add(60 * time.Second).Unix()}},
		{"iat in 60 s", map[string]any{"iat": testStart.Add(60 * time.Second).Unix()}},
		{"no nbf, iat, client_id or sid", map[string]any{"nbf": nil, "iat": nil, "client_id": nil, "sid": nil}},
		{"aud array with ours", map[string]any{"aud": []string{"other", testAudience}}},
		{"fractional exp", map[string]any{"exp": float64(testStart.Unix()) + 0.5}},
		{"unknown claims", map[string]any{"roles": []string{"user"}, "cnf": map[string]any{"jkt": "x"}}},
		{"no scope", map[string]any{"scope": nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, newSpyKeys(), newClock())
			if err := v.SetLeeway(60 * time.Second); err != nil {
				t.Fatal(err)
			}
			tok := forge(goodHeader, payloadOf(t, validClaims(), tc.changes), signWith(testPriv))
			c, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: got %v, want nil", err)
			}
			if c.Subject != "user-42" {
				t.Errorf("Subject: got %q, want %q", c.Subject, "user-42")
			}
		})
	}
}

func TestVerifyHeaderVariants(t *testing.T) {
	tests := []struct {
		name   string
		header string
	}{
		{"typ application/at+jwt", `{"alg":"EdDSA","typ":"application/at+jwt","kid":"k1"}`},
		{"members in another order", `{"kid":"k1","typ":"at+jwt","alg":"EdDSA"}`},
		{"escaped member name", `{"al\u0067":"EdDSA","typ":"at+jwt","kid":"k1"}`},
		// Unknown header parameters are ignored (RFC 7515 §4), and jku,
		// x5u and jwk never change the key: signed by the real key, these
		// verify.
		{"ignored jku", `{"alg":"EdDSA","typ":"at+jwt","kid":"k1","jku":"https://evil.example/jwks.json"}`},
		{"ignored jwk", `{"alg":"EdDSA","typ":"at+jwt","kid":"k1","jwk":{"kty":"OKP","crv":"Ed25519","x":"AAAA"}}`},
		// JOSE names are case-sensitive: "ALG" is an unknown parameter, not
		// a second alg.
		{"case-folded alg is another name", `{"ALG":"none","alg":"EdDSA","typ":"at+jwt","kid":"k1"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, newSpyKeys(), newClock())
			tok := forge(tc.header, payloadOf(t, validClaims(), nil), signWith(testPriv))
			if _, err := v.Verify(tok); err != nil {
				t.Fatalf("Verify: got %v, want nil", err)
			}
		})
	}
}

func TestVerifyReturnsPrivateCopies(t *testing.T) {
	v := newVerifier(t, newSpyKeys(), newClock())
	tok := mustSign(t, validClaims())
	for i := range 3 {
		c, err := v.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"notes:read", "notes:write"}; !slices.Equal(c.Scope, want) {
			t.Fatalf("Verify %d: got scope %v, want %v", i, c.Scope, want)
		}
		// A handler that scribbles on its claims must not change what the
		// next request sees.
		c.Scope[0] = "users:write"
		c.Scope = append(c.Scope, "audit:read")
		c.Subject = "admin"
		c.Audience[0] = "x"
	}
}
