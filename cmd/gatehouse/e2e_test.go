package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// securityHeaders are the headers API.md requires on every response.
var securityHeaders = map[string]string{
	"X-Content-Type-Options":       "nosniff",
	"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
}

func checkSecurityHeaders(t *testing.T, r *response) {
	t.Helper()
	for k, want := range securityHeaders {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"Server", "X-Powered-By", "Strict-Transport-Security"} {
		if v := r.Header.Get(k); v != "" {
			t.Errorf("%s: got %q, want none (plain HTTP)", k, v)
		}
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Errorf("X-Request-ID missing")
	}
}

func TestHealthAndHeaders(t *testing.T) {
	ts := startServer(t, "")
	cases := []struct {
		method, path string
		status       int
	}{
		{"GET", "/healthz", 200},
		{"GET", "/readyz", 200},
		{"GET", "/no/such/route", 404},
		{"DELETE", "/healthz", 405},
		{"GET", "/v1/users/me", 401},
		{"POST", "/v1/users", 415},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := ts.do(t, c.method, c.path, nil, nil)
			if r.Status != c.status {
				t.Fatalf("got %d, want %d: %s", r.Status, c.status, r.Body)
			}
			checkSecurityHeaders(t, r)
			if c.status >= 400 {
				problemOf(t, r, c.status)
			}
		})
	}
	r := ts.do(t, "DELETE", "/healthz", nil, nil)
	if got := r.Header.Get("Allow"); !strings.Contains(got, "GET") {
		t.Errorf("405 Allow: got %q, want it to list GET", got)
	}
}

func TestRequestID(t *testing.T) {
	ts := startServer(t, "")
	cases := []struct {
		sent string
		kept bool
	}{
		{"abc-123_X.y", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"evil\u00e9", false},
		{"a;b", false},
	}
	for _, c := range cases {
		r := ts.do(t, "GET", "/no/such", nil, map[string]string{"X-Request-ID": c.sent})
		got := r.Header.Get("X-Request-ID")
		if (got == c.sent) != c.kept || got == "" {
			t.Errorf("sent %q: got %q, kept=%v want %v", c.sent, got, got == c.sent, c.kept)
		}
	}
}

func TestRegister(t *testing.T) {
	ts := startServer(t, "")
	r := ts.do(t, "POST", "/v1/users", map[string]any{"username": "Alice", "email": "Alice@Example.com", "password": goodPassword, "age": 30}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("got %d, want 201: %s", r.Status, r.Body)
	}
	u := r.JSON(t)
	if u["username"] != "alice" {
		t.Errorf("username: got %v, want alice (NFKC + lower case)", u["username"])
	}
	if u["id"] == "" || u["email"] != "Alice@Example.com" || u["age"] != float64(30) {
		t.Errorf("unexpected user: %s", r.Body)
	}
	if !slices.Equal(toStrings(u["roles"]), []string{"user"}) {
		t.Errorf("roles: got %v, want [user]", u["roles"])
	}
	low := strings.ToLower(string(r.Body))
	if strings.Contains(low, "password") || strings.Contains(low, "argon2") || strings.Contains(low, "hash") {
		t.Errorf("response leaks password material: %s", r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", cc)
	}

	t.Run("conflicts", func(t *testing.T) {
		cases := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"same username", map[string]any{"username": "alice", "email": "other@example.com", "password": goodPassword, "age": 30}, "username"},
			{"username after NFKC", map[string]any{"username": "ＡＬＩＣＥ", "email": "other2@example.com", "password": goodPassword, "age": 30}, "username"},
			{"email in other case", map[string]any{"username": "bob", "email": "ALICE@example.COM", "password": goodPassword, "age": 30}, "email"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p := problemOf(t, ts.do(t, "POST", "/v1/users", c.body, nil), http.StatusConflict)
				if !strings.Contains(p["detail"].(string), c.field) {
					t.Errorf("detail: got %q, want it to name %s", p["detail"], c.field)
				}
			})
		}
	})

	t.Run("every bad field at once", func(t *testing.T) {
		r := ts.do(t, "POST", "/v1/users", map[string]any{"username": "a!", "email": "not-an-email", "password": "short", "age": 12}, nil)
		p := problemOf(t, r, http.StatusUnprocessableEntity)
		locs := locations(p)
		for _, want := range []string{"body.username", "body.email", "body.password", "body.age"} {
			if !slices.Contains(locs, want) {
				t.Errorf("errors: got %v, want %s among them", locs, want)
			}
		}
	})

	t.Run("field rules", func(t *testing.T) {
		base := func() map[string]any {
			return map[string]any{"username": "carol", "email": "carol@example.com", "password": goodPassword, "age": 40}
		}
		cases := []struct {
			name   string
			edit   func(map[string]any)
			status int
			loc    string
		}{
			{"common password", func(m map[string]any) { m["password"] = "123456789012345" }, 422, "body.password"},
			{"password contains username", func(m map[string]any) { m["password"] = "carol-is-the-best-2024" }, 422, "body.password"},
			{"password too long", func(m map[string]any) { m["password"] = strings.Repeat("x", 257) }, 422, "body.password"},
			{"age float", func(m map[string]any) { m["age"] = 30.5 }, 422, "body.age"},
			{"age string", func(m map[string]any) { m["age"] = "30" }, 422, "body.age"},
			{"age too old", func(m map[string]any) { m["age"] = 151 }, 422, "body.age"},
			{"username too short", func(m map[string]any) { m["username"] = "ab" }, 422, "body.username"},
			{"username too long", func(m map[string]any) { m["username"] = strings.Repeat("a", 33) }, 422, "body.username"},
			{"username with slash", func(m map[string]any) { m["username"] = "../etc" }, 422, "body.username"},
			{"email too long", func(m map[string]any) { m["email"] = strings.Repeat("a", 250) + "@example.com" }, 422, "body.email"},
			{"missing email", func(m map[string]any) { delete(m, "email") }, 422, "body.email"},
			{"null email", func(m map[string]any) { m["email"] = nil }, 422, "body.email"},
			{"unknown field", func(m map[string]any) { m["roles"] = []string{"admin"} }, 422, "body.roles"},
			{"mass assignment of id", func(m map[string]any) { m["id"] = "x" }, 422, "body.id"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				m := base()
				c.edit(m)
				p := problemOf(t, ts.do(t, "POST", "/v1/users", m, nil), c.status)
				if locs := locations(p); !slices.Contains(locs, c.loc) {
					t.Errorf("errors: got %v, want %s", locs, c.loc)
				}
			})
		}
	})

	t.Run("transport rules", func(t *testing.T) {
		big := `{"username":"dave","email":"dave@example.com","age":30,"password":"` + strings.Repeat("x", 2<<20) + `"}`
		cases := []struct {
			name   string
			body   string
			ctype  string
			status int
		}{
			{"over the body limit", big, "application/json", 413},
			{"text/plain", `{"username":"dave"}`, "text/plain", 415},
			{"form encoding", "username=dave", "application/x-www-form-urlencoded", 415},
			{"two JSON values", `{"username":"dave"}{"username":"eve"}`, "application/json", 400},
			{"malformed", `{"username":`, "application/json", 400},
			{"invalid UTF-8", "{\"username\":\"d\xffave\",\"email\":\"dave@example.com\",\"password\":\"" + goodPassword + "\",\"age\":30}", "application/json", 400},
			{"array", `[]`, "application/json", 400},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := ts.do(t, "POST", "/v1/users", c.body, map[string]string{"Content-Type": c.ctype})
				if r.Status != c.status && !(c.status == 400 && r.Status == 422) {
					t.Fatalf("got %d, want %d: %.200s", r.Status, c.status, r.Body)
				}
				problemOf(t, r, r.Status)
			})
		}
	})
}

func TestLoginAndMe(t *testing.T) {
	ts := startServer(t, "")
	ts.register(t, "erin", goodPassword)

	// A standard OAuth2 client library performs the password grant.
	conf := &oauth2.Config{ClientID: "gatehouse", Endpoint: oauth2.Endpoint{TokenURL: ts.URL + "/v1/auth/token", AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := conf.PasswordCredentialsToken(context.Background(), "erin", goodPassword)
	if err != nil {
		t.Fatalf("oauth2 password grant: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("unexpected token: %+v", tok)
	}
	if got := tok.Extra("scope"); got != "notes:read notes:write" {
		t.Errorf("scope: got %v, want \"notes:read notes:write\"", got)
	}
	if len(tok.RefreshToken) < 43 {
		t.Errorf("refresh token has %d characters, want ≥ 43 (256 bits)", len(tok.RefreshToken))
	}

	client := conf.Client(context.Background(), tok)
	resp, err := client.Get(ts.URL + "/v1/users/me")
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != 200 || me["username"] != "erin" {
		t.Fatalf("GET /v1/users/me: got %d %v, want 200 erin", resp.StatusCode, me)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", resp.Header.Get("Cache-Control"))
	}

	t.Run("token response headers", func(t *testing.T) {
		r := ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"erin"}, "password": {goodPassword}}, nil)
		if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
			t.Errorf("got %d Cache-Control=%q Pragma=%q, want 200 no-store no-cache", r.Status, r.Header.Get("Cache-Control"), r.Header.Get("Pragma"))
		}
		m := r.JSON(t)
		if m["token_type"] != "Bearer" || m["expires_in"] != float64(900) {
			t.Errorf("got %v, want token_type Bearer and expires_in 900", m)
		}
	})

	t.Run("RFC 6750 answers", func(t *testing.T) {
		r := ts.do(t, "GET", "/v1/users/me", nil, nil)
		problemOf(t, r, 401)
		if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="gatehouse"` {
			t.Errorf("no token: got WWW-Authenticate %q", got)
		}
		for _, bad := range []string{"garbage", tok.AccessToken + "x", tok.AccessToken[:len(tok.AccessToken)-2], "a.b.c"} {
			r := ts.do(t, "GET", "/v1/users/me", nil, bearer(bad))
			problemOf(t, r, 401)
			if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) || !strings.HasPrefix(got, `Bearer realm="gatehouse"`) {
				t.Errorf("bad token: got WWW-Authenticate %q", got)
			}
		}
		// The token is never taken from the query string (RFC 6750 §2.3 is
		// not supported: URLs end up in logs).
		r = ts.do(t, "GET", "/v1/users/me?access_token="+tok.AccessToken, nil, nil)
		problemOf(t, r, 401)
	})

	t.Run("same answer for unknown user and wrong password", func(t *testing.T) {
		wrong := ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"erin"}, "password": {"not the password at all"}}, nil)
		unknown := ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"nobody-here"}, "password": {"not the password at all"}}, nil)
		if wrong.Status != 400 || unknown.Status != 400 || string(wrong.Body) != string(unknown.Body) {
			t.Errorf("got %d %s and %d %s, want the same 400 invalid_grant", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
		}
		if !strings.Contains(string(wrong.Body), `"invalid_grant"`) {
			t.Errorf("got %s, want invalid_grant", wrong.Body)
		}
		// The reason is kept for defenders, in the server log only.
		log := ts.Log.String()
		for _, reason := range []string{`"login_failure":"unknown user"`, `"login_failure":"wrong password"`} {
			if !strings.Contains(log, reason) {
				t.Errorf("log lacks %s", reason)
			}
		}
	})

	t.Run("OAuth2 error shapes", func(t *testing.T) {
		cases := []struct {
			name   string
			form   url.Values
			ctype  string
			status int
			code   string
		}{
			{"no grant type", url.Values{"username": {"erin"}}, "", 400, "invalid_request"},
			{"unsupported grant", url.Values{"grant_type": {"client_credentials"}}, "", 400, "unsupported_grant_type"},
			{"missing password", url.Values{"grant_type": {"password"}, "username": {"erin"}}, "", 400, "invalid_request"},
			{"repeated parameter", url.Values{"grant_type": {"password"}, "username": {"erin", "root"}, "password": {goodPassword}}, "", 400, "invalid_request"},
			{"wrong client", url.Values{"grant_type": {"password"}, "client_id": {"evil"}, "username": {"erin"}, "password": {goodPassword}}, "", 401, "invalid_client"},
			{"scope beyond roles", url.Values{"grant_type": {"password"}, "username": {"erin"}, "password": {goodPassword}, "scope": {"notes:read audit:read"}}, "", 400, "invalid_scope"},
			{"JSON body", url.Values{"grant_type": {"password"}}, "application/json", 400, "invalid_request"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				h := map[string]string{}
				if c.ctype != "" {
					h["Content-Type"] = c.ctype
				}
				r := ts.do(t, "POST", "/v1/auth/token", c.form, h)
				m := r.JSON(t)
				if r.Status != c.status || m["error"] != c.code {
					t.Errorf("got %d %v, want %d %s", r.Status, m["error"], c.status, c.code)
				}
			})
		}
		r := ts.do(t, "POST", "/v1/auth/token?password=x", url.Values{"grant_type": {"password"}}, nil)
		if r.Status != 400 {
			t.Errorf("credentials in query: got %d, want 400", r.Status)
		}
	})

	t.Run("narrower scope", func(t *testing.T) {
		m := ts.login(t, "erin", goodPassword, "scope", "notes:read")
		if m["scope"] != "notes:read" {
			t.Errorf("got scope %v, want notes:read", m["scope"])
		}
	})
}

func TestJWKSVerifiesWithIndependentLibrary(t *testing.T) {
	ts := startServer(t, "")
	ts.register(t, "frank", goodPassword)
	tok := ts.login(t, "frank", goodPassword)["access_token"].(string)

	r := ts.do(t, "GET", "/.well-known/jwks.json", nil, nil)
	if r.Status != 200 {
		t.Fatalf("jwks: got %d", r.Status)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("jwks Cache-Control: got %q, want a max-age", cc)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS: %v", err)
	}
	if len(set.Keys) != 1 || strings.Contains(string(r.Body), `"d"`) {
		t.Fatalf("jwks: got %s, want one public key and no private part", r.Body)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("go-jose cannot parse the token: %v", err)
	}
	h := jws.Signatures[0].Header
	if h.KeyID != set.Keys[0].KeyID || h.ExtraHeaders["typ"] != "at+jwt" {
		t.Errorf("header: got kid=%q typ=%v, want kid %q and typ at+jwt", h.KeyID, h.ExtraHeaders["typ"], set.Keys[0].KeyID)
	}
	payload, err := jws.Verify(set.Keys[0])
	if err != nil {
		t.Fatalf("go-jose does not verify the token with the published key: %v", err)
	}
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("claim %s missing: %s", k, payload)
		}
	}
	if claims["iss"] != ts.URL {
		t.Errorf("iss: got %v, want %s", claims["iss"], ts.URL)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 900 {
		t.Errorf("lifetime: got %v s, want 900", exp-iat)
	}
}

func TestRestartKeepsAccountsAndKeys(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir, "--issuer", "http://gatehouse.test")
	ts.register(t, "gina", goodPassword)
	tok := ts.login(t, "gina", goodPassword)["access_token"].(string)
	ts.Stop(t)

	ts2 := startServer(t, dir, "--issuer", "http://gatehouse.test")
	if r := ts2.do(t, "GET", "/v1/users/me", nil, bearer(tok)); r.Status != 200 {
		t.Fatalf("token from before the restart: got %d, want 200: %s", r.Status, r.Body)
	}
	ts2.login(t, "gina", goodPassword)
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func locations(p map[string]any) []string {
	var out []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		out = append(out, e.(map[string]any)["location"].(string))
	}
	return out
}
