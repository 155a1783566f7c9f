package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/auth"
)

// verifyErrors are the errors Verify may return; every refusal matches
// exactly one of them.
var verifyErrors = []error{
	auth.ErrNotConfigured, auth.ErrTooLarge, auth.ErrMalformed, auth.ErrAlgorithm,
	auth.ErrType, auth.ErrCritical, auth.ErrUnknownKey, auth.ErrSignature,
	auth.ErrIssuer, auth.ErrAudience, auth.ErrMissingClaim, auth.ErrExpired,
	auth.ErrNotYetValid,
}

// allowedErrText lists every message a refusal may carry: the sentinel's
// own text, or a missing claim's name after it. Anything else could be
// carrying part of the token into a log or a response.
var allowedErrText = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range verifyErrors {
		m[e.Error()] = true
	}
	for _, claim := range []string{"exp", "sub", "jti"} {
		m[auth.ErrMissingClaim.Error()+": "+claim] = true
	}
	return m
}()

// fuzzVerifiers returns two verifiers of the same configuration, one with
// the cache and one without, with the maximum leeway so that the boundary
// of the skew check is in play.
func fuzzVerifiers(t testing.TB) (cached, plain *auth.Verifier) {
	clk := func() time.Time { return testStart }
	for _, v := range []**auth.Verifier{&cached, &plain} {
		var err error
		*v, err = auth.NewVerifier(auth.StaticKeys{testKID: testPub}, testIssuer, testAudience)
		if err != nil {
			t.Fatal(err)
		}
		(*v).SetClock(clk)
		if err := (*v).SetLeeway(auth.MaxLeeway); err != nil {
			t.Fatal(err)
		}
	}
	if err := plain.SetCacheSize(0); err != nil {
		t.Fatal(err)
	}
	// A small cache, so that fuzzing also exercises eviction.
	if err := cached.SetCacheSize(64); err != nil {
		t.Fatal(err)
	}
	return cached, plain
}

// fuzzTokens are the seed tokens: valid ones, near misses and attacks.
func fuzzTokens(t testing.TB) []string {
	good := mustSign(t, validClaims())
	parts := strings.Split(good, ".")
	payload := payloadOf(t, validClaims(), nil)
	hs256 := func(in []byte) []byte {
		m := hmac.New(sha256.New, testPub) // the public key as HMAC secret
		m.Write(in)
		return m.Sum(nil)
	}
	multiAud := validClaims()
	multiAud.Audience = []string{"other", testAudience}
	inSkew := validClaims()
	inSkew.ExpiresAt = testStart.Add(-59 * time.Second)
	expired := validClaims()
	expired.ExpiresAt = testStart.Add(-time.Minute)
	future := validClaims()
	future.NotBefore = testStart.Add(2 * time.Minute)
	return []string{
		good,
		mustSign(t, multiAud),
		mustSign(t, inSkew),
		mustSign(t, expired),
		mustSign(t, future),
		forge(`{"alg":"none","typ":"at+jwt","kid":"k1"}`, payload, nil),
		forge(`{"alg":"none","typ":"at+jwt","kid":"k1"}`, payload, func([]byte) []byte { return []byte{0} }),
		forge(`{"alg":"HS256","typ":"at+jwt","kid":"k1"}`, payload, hs256),
		forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","crit":["exp"]}`, payload, signWith(testPriv)),
		forge(`{"alg":"EdDSA","typ":"JWT","kid":"k1"}`, payload, signWith(testPriv)),
		forge(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","alg":"none"}`, payload, signWith(testPriv)),
		forge(goodHeader, payloadOf(t, validClaims(), map[string]any{"exp": nil}), signWith(testPriv)),
		forge(goodHeader, payloadOf(t, validClaims(), map[string]any{"sub": ""}), signWith(testPriv)),
		forge(goodHeader, payloadOf(t, validClaims(), map[string]any{"iss": "https://evil.test"}), signWith(testPriv)),
		forge(goodHeader, payload, signWith(attackerPriv)),
		good[:len(good)/2],
		good[:len(good)-1],
		parts[0] + "." + parts[1],
		parts[0] + "." + parts[1] + ".",
		good + ".",
		good + "=",
		" " + good,
		"",
		".",
		"..",
		"a.b.c",
		"\x00\xff.\x00.\x00",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
		"not a token at all",
		strings.Repeat("A", 5000),
	}
}

// checkVerify applies the invariants of Verify to one token, on both the
// cached and the uncached verifier.
func checkVerify(t *testing.T, cached, plain *auth.Verifier, token string) {
	c1, err1 := cached.Verify(token)
	checkResult(t, token, c1, err1)

	// A second verification (a cache hit when the first passed) answers
	// the same, and the caller's changes to the first claims do not leak.
	if c1 != nil {
		c1.Subject = "changed"
		c1.Audience = append(c1.Audience[:0], "changed")
		if len(c1.Scope) > 0 {
			c1.Scope[0] = "changed"
		}
	}
	c2, err2 := cached.Verify(token)
	checkResult(t, token, c2, err2)
	c3, err3 := plain.Verify(token)
	checkResult(t, token, c3, err3)
	if !sameError(err1, err2) || !sameError(err2, err3) {
		t.Fatalf("Verify(%q): got %v, then %v, and %v uncached, want the same answer", token, err1, err2, err3)
	}
	if !reflect.DeepEqual(c2, c3) {
		t.Fatalf("Verify(%q): got cached claims %+v and uncached %+v, want equal", token, c2, c3)
	}
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// checkResult checks what a Verifier answered for token.
func checkResult(t *testing.T, token string, c *auth.Claims, err error) {
	t.Helper()
	if err != nil {
		if c != nil {
			t.Fatalf("Verify(%q): got claims %+v with error %v, want nil claims", token, c, err)
		}
		n := 0
		for _, e := range verifyErrors {
			if errors.Is(err, e) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("Verify(%q): got error %v matching %d sentinels, want exactly 1", token, err, n)
		}
		if !allowedErrText[err.Error()] {
			t.Fatalf("Verify(%q): got error text %q, want a fixed message", token, err)
		}
		return
	}
	if c == nil {
		t.Fatalf("Verify(%q): got nil claims and nil error", token)
	}
	now := testStart
	switch {
	case c.Issuer != testIssuer:
		t.Fatalf("Verify(%q) accepted iss %q, want %q", token, c.Issuer, testIssuer)
	case !contains(c.Audience, testAudience):
		t.Fatalf("Verify(%q) accepted aud %q, want it to hold %q", token, c.Audience, testAudience)
	case c.Subject == "":
		t.Fatalf("Verify(%q) accepted an empty sub", token)
	case c.ID == "":
		t.Fatalf("Verify(%q) accepted an empty jti", token)
	case !c.ExpiresAt.After(now.Add(-auth.MaxLeeway)):
		t.Fatalf("Verify(%q) accepted exp %v, want after %v", token, c.ExpiresAt, now.Add(-auth.MaxLeeway))
	case !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(auth.MaxLeeway)):
		t.Fatalf("Verify(%q) accepted nbf %v, want at most %v", token, c.NotBefore, now.Add(auth.MaxLeeway))
	case !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(auth.MaxLeeway)):
		t.Fatalf("Verify(%q) accepted iat %v, want at most %v", token, c.IssuedAt, now.Add(auth.MaxLeeway))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// FuzzVerify feeds arbitrary strings to Verify. Nothing the fuzzer makes
// carries a valid signature unless it keeps a seed intact, so this mostly
// explores the refusals; FuzzVerifySigned explores what comes after the
// signature check.
func FuzzVerify(f *testing.F) {
	for _, tok := range fuzzTokens(f) {
		f.Add(tok)
	}
	cached, plain := fuzzVerifiers(f)
	f.Fuzz(func(t *testing.T, token string) {
		checkVerify(t, cached, plain, token)
	})
}

// FuzzVerifySigned signs an arbitrary header and payload with the trusted
// key, so that the header checks, the claims parser and the claim checks
// get inputs that pass the signature check.
func FuzzVerifySigned(f *testing.F) {
	f.Add(goodHeader, payloadOf(f, validClaims(), nil))
	f.Add(goodHeader, payloadOf(f, validClaims(), map[string]any{"aud": []string{"x", testAudience}}))
	f.Add(goodHeader, payloadOf(f, validClaims(), map[string]any{"exp": float64(testStart.Add(-59 * time.Second).Unix())}))
	f.Add(goodHeader, payloadOf(f, validClaims(), map[string]any{"jti": nil}))
	f.Add(goodHeader, payloadOf(f, validClaims(), map[string]any{"exp": "tomorrow"}))
	f.Add(goodHeader, `{"iss":"https://id.example.test","iss":"x"}`)
	f.Add(goodHeader, `{"ISS":"https://id.example.test"}`)
	f.Add(goodHeader, `[]`)
	f.Add(goodHeader, "\xff")
	f.Add(`{"alg":"EdDSA","typ":"application/at+jwt","kid":"k1"}`, payloadOf(f, validClaims(), nil))
	f.Add(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","jwk":{"kty":"OKP"}}`, payloadOf(f, validClaims(), nil))
	f.Add(`{"alg":"EdDSA","typ":"at+jwt","kid":"../k1"}`, payloadOf(f, validClaims(), nil))
	f.Add(`{"alg":"EdDSA","typ":"at+jwt","kid":"k1","Alg":"none"}`, payloadOf(f, validClaims(), nil))
	cached, plain := fuzzVerifiers(f)
	f.Fuzz(func(t *testing.T, header, payload string) {
		token := forge(header, payload, signWith(testPriv))
		checkVerify(t, cached, plain, token)
	})
}

// FuzzBearerToken feeds arbitrary Authorization header values to
// BearerToken.
func FuzzBearerToken(f *testing.F) {
	good := mustSign(f, validClaims())
	for _, v := range []string{
		"Bearer " + good,
		"bearer   " + good,
		"BEARER abc.def.ghi",
		"Bearer",
		"Bearer ",
		"Bearer  ",
		"Bearer\t" + good,
		"Bearer " + good + " ",
		"Bearer a b",
		"Bearer a=",
		"Bearer a+b/c",
		"Bearer é",
		"Bearer x\r\nSet-Cookie: a=b",
		" Bearer x",
		"Basic dXNlcjpwYXNz",
		"Token abc",
		"",
		" ",
		"\x00",
	} {
		f.Add(v, false)
	}
	f.Add("Bearer "+good, true)
	f.Fuzz(func(t *testing.T, value string, twice bool) {
		r, err := http.NewRequest(http.MethodGet, "http://gatehouse.test/", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header["Authorization"] = []string{value}
		if twice {
			r.Header["Authorization"] = append(r.Header["Authorization"], value)
		}
		tok, err := auth.BearerToken(r)
		if err != nil {
			if tok != "" {
				t.Fatalf("BearerToken(%q) = %q with error %v, want no token", value, tok, err)
			}
			if err != auth.ErrNoToken && err != auth.ErrMalformed {
				t.Fatalf("BearerToken(%q): got %v, want ErrNoToken or ErrMalformed", value, err)
			}
			scheme, _, _ := strings.Cut(value, " ")
			if err == auth.ErrNoToken && (twice || strings.EqualFold(scheme, "Bearer") || scheme == "") {
				t.Fatalf("BearerToken(%q, twice %v): got ErrNoToken, want ErrMalformed", value, twice)
			}
			return
		}
		if twice {
			t.Fatalf("BearerToken with two Authorization headers = %q, want ErrMalformed", tok)
		}
		if tok == "" {
			t.Fatalf("BearerToken(%q): got an empty token and no error", value)
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				t.Fatalf("BearerToken(%q) = %q: got byte %q, want only base64url and dots", value, tok, c)
			}
		}
		// The value is exactly: the scheme, one or more spaces, the token.
		if len(value) < len("Bearer ")+len(tok) || !strings.EqualFold(value[:6], "Bearer") ||
			strings.Trim(value[6:len(value)-len(tok)], " ") != "" || value[6] != ' ' || !strings.HasSuffix(value, tok) {
			t.Fatalf("BearerToken(%q) = %q, want the value to be \"Bearer\", spaces and the token", value, tok)
		}
	})
}

// The seeds reach both sides of Verify: the fuzz targets would check
// nothing about accepted tokens if no seed were accepted.
func TestFuzzSeeds(t *testing.T) {
	cached, _ := fuzzVerifiers(t)
	toks := fuzzTokens(t)
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"valid", toks[0], nil},
		{"several audiences", toks[1], nil},
		{"expired within the leeway", toks[2], nil},
		{"expired beyond the leeway", toks[3], auth.ErrExpired},
		{"not yet valid", toks[4], auth.ErrNotYetValid},
		{"alg none, empty signature", toks[5], auth.ErrMalformed},
		{"alg none", toks[6], auth.ErrAlgorithm},
		{"crit", toks[8], auth.ErrCritical},
		{"typ JWT", toks[9], auth.ErrType},
		{"attacker's key", toks[14], auth.ErrSignature},
		{"alg HS256", toks[7], auth.ErrAlgorithm},
		{"truncated", toks[16], auth.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cached.Verify(tt.token); !errors.Is(err, tt.want) {
				t.Errorf("Verify: got %v, want %v", err, tt.want)
			}
		})
	}
}
