package server_test

// Fuzz targets for the two untrusted-input parsers that live inside the
// server package rather than in a library of their own: the notes list
// cursor (decodeNoteCursor, reached through GET /v1/notes?cursor=) and the
// OAuth2 form parser (parseForm, reached through POST /v1/auth/token).
// Both go through the whole server (middleware, routing, handler), so
// the fuzzer checks what a client can see: never a 5xx, always a
// well-formed answer. scripts/fuzz runs them; `go test` runs the seeds.

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/ratelimit"
)

// FuzzNoteCursor sends arbitrary ?cursor= values to GET /v1/notes. The
// answer must be 200 (no cursor, or one in the issued format) or 422 naming
// query.cursor; never a 5xx.
func FuzzNoteCursor(f *testing.F) {
	e := newEnv(f)
	_, alice := e.user(f, "alice", gatehouse.RoleUser)
	for range 3 {
		noteCreate(f, e, alice, `{"title":"t"}`)
	}
	// A cursor this server really issued.
	w := noteCall(f, e, alice, "GET", "/v1/notes?limit=1", "")
	var page struct {
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || page.NextCursor == nil {
		f.Fatalf("first page: %d %s", w.Code, w.Body)
	}
	f.Add(*page.NextCursor)
	f.Add("")
	f.Add("x")
	f.Add("' OR 1=1 --")
	f.Add(strings.Repeat("A", 34))
	f.Add(strings.Repeat("A", 65))
	var b [25]byte
	b[0] = 1
	binary.BigEndian.PutUint64(b[1:9], uint64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()))
	f.Add(base64.RawURLEncoding.EncodeToString(b[:]))
	b[1] = 0x80 // negative time
	f.Add(base64.RawURLEncoding.EncodeToString(b[:]))

	f.Fuzz(func(t *testing.T, cursor string) {
		path := "/v1/notes?" + url.Values{"cursor": {cursor}}.Encode()
		w := noteCall(t, e, alice, "GET", path, "")
		switch w.Code {
		case http.StatusOK:
			if cursor != "" && !cursorShaped(cursor) {
				t.Fatalf("cursor %q accepted but not in the issued format", cursor)
			}
			var p struct {
				Items []json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("200 body is not a page: %v: %s", err, w.Body)
			}
		case http.StatusUnprocessableEntity:
			if cursor == "" {
				t.Fatalf("empty cursor refused: %s", w.Body)
			}
			if locs := noteErrLocations(t, w); len(locs) != 1 || locs[0] != "query.cursor" {
				t.Fatalf("422 for cursor %q names %v, want [query.cursor]", cursor, locs)
			}
		default:
			t.Fatalf("cursor %q: got %d, want 200 or 422: %s", cursor, w.Code, w.Body)
		}
	})
}

// cursorShaped reports whether s is base64url (no padding) of a version-1
// cursor with a non-negative time: the only strings a 200 may follow.
func cursorShaped(s string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == 25 && b[0] == 1 && b[1]&0x80 == 0
}

// fuzzPassword is the known password of the account FuzzTokenForm seeds
// a successful login with.
const fuzzPassword = "correct horse battery staple"

// newTokenFuzzEnv is newEnv with the token endpoint's per-IP limit (10 a
// minute by default) lifted, so every fuzz input reaches the form parser
// instead of the rate limiter, and with cheap argon2id parameters so a
// password grant costs microseconds rather than tens of milliseconds.
func newTokenFuzzEnv(tb testing.TB) *env {
	tb.Helper()
	cheap := password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	lots := ratelimit.Rate{Limit: 1_000_000, Period: time.Second}
	e := newEnvWith(tb, func(d *server.Deps) {
		d.Config.RateLimits = map[string]ratelimit.Rate{"POST /v1/auth/token": lots}
		d.Hasher = &password.Hasher{Params: cheap, Limiter: password.NewLimiter(0, 16)}
	})
	ctx := context.Background()
	hash, err := password.Hash(fuzzPassword, cheap)
	if err != nil {
		tb.Fatal(err)
	}
	u := &gatehouse.User{ID: "u-alice", Username: "alice", Email: "alice@example.com", Age: 30, PasswordHash: hash, Roles: []string{gatehouse.RoleUser}}
	if err := e.store.CreateUser(ctx, u); err != nil {
		tb.Fatal(err)
	}
	return e
}

// rfc6749Errors are the error codes RFC 6749 §5.2 defines for the token
// endpoint, plus temporarily_unavailable (§4.1.2.1) that gatehouse uses
// when the password-hash queue is full.
var rfc6749Errors = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true,
}

// FuzzTokenForm sends arbitrary bodies (and Content-Type values) to POST
// /v1/auth/token. The answer must never be a 5xx; it is either 200 with
// a bearer token, or an RFC 6749 §5.2 error object (JSON with a known
// "error" code, no-store, and WWW-Authenticate on 401).
func FuzzTokenForm(f *testing.F) {
	e := newTokenFuzzEnv(f)
	const form = "application/x-www-form-urlencoded"
	f.Add(form, "grant_type=password&username=alice&password="+url.QueryEscape(fuzzPassword))
	f.Add(form, "grant_type=password&username=alice&password=wrong")
	f.Add(form, "grant_type=password&username=nobody&password=x&scope=notes:read")
	f.Add(form, "grant_type=refresh_token&refresh_token=abc")
	f.Add(form, "grant_type=password&grant_type=password")
	f.Add(form, "grant_type=client_credentials&client_id=other")
	f.Add(form, "a=%zz")
	f.Add(form, "u%FF=1")
	f.Add(form+"; charset=utf-8", "grant_type=")
	f.Add("application/json", `{"grant_type":"password"}`)
	f.Add("", "")
	f.Add(form, strings.Repeat("a", 9000))

	f.Fuzz(func(t *testing.T, contentType, body string) {
		req := httptest.NewRequest("POST", "/v1/auth/token", strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%q %q: got %d: %s", contentType, body, w.Code, w.Body)
		}
		if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("got %d without Cache-Control: no-store (%q)", w.Code, cc)
		}
		if w.Code == http.StatusOK {
			var tr struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil || tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer") || tr.ExpiresIn <= 0 {
				t.Fatalf("200 is not an RFC 6749 §5.1 token response: %s", w.Body)
			}
			return
		}
		var oe map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &oe); err != nil {
			t.Fatalf("%d body is not JSON: %v: %s", w.Code, err, w.Body)
		}
		code, _ := oe["error"].(string)
		if !rfc6749Errors[code] {
			t.Fatalf("%d: error %q is not an RFC 6749 §5.2 code: %s", w.Code, code, w.Body)
		}
		for k, v := range oe {
			if k != "error" && k != "error_description" && k != "error_uri" {
				t.Errorf("unexpected member %q in error body", k)
			}
			if _, ok := v.(string); !ok {
				t.Errorf("member %q is not a string", k)
			}
		}
		if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("error Content-Type %q, want application/json", ct)
		}
	})
}
