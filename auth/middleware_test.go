package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/problem"
	"github.com/gatehouse/gatehouse/reqid"
	"github.com/gatehouse/gatehouse/reqlog"
)

const (
	bareChallenge    = `Bearer realm="gatehouse"`
	invalidChallenge = `Bearer realm="gatehouse", error="invalid_token", error_description="The access token is invalid"`
)

// ok is the protected handler: it answers with the subject it sees.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, found := auth.FromContext(r.Context())
	if !found {
		http.Error(w, "no claims", http.StatusTeapot)
		return
	}
	fmt.Fprint(w, c.Subject)
})

func TestAuthenticatorHandler(t *testing.T) {
	tok := mustSign(t, validClaims())
	tests := []struct {
		name       string
		headers    []string // Authorization header values
		url        string
		cookie     string // for TokenFunc
		wantStatus int
		wantAuth   string // WWW-Authenticate
	}{
		{"bearer token", []string{"Bearer " + tok}, "/", "", 200, ""},
		{"lower-case scheme", []string{"bearer " + tok}, "/", "", 200, ""},
		{"upper-case scheme, two spaces", []string{"BEARER  " + tok}, "/", "", 200, ""},
		{"no credentials", nil, "/", "", 401, bareChallenge},
		{"other scheme", []string{"Basic dXNlcjpwYXNz"}, "/", "", 401, bareChallenge},
		{"token in query only", nil, "/?access_token=" + tok, "", 401, bareChallenge},
		{"scheme without token", []string{"Bearer"}, "/", "", 401, invalidChallenge},
		{"empty header", []string{""}, "/", "", 401, invalidChallenge},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, "/", "", 401, invalidChallenge},
		{"token with a space", []string{"Bearer " + tok[:10] + " " + tok[10:]}, "/", "", 401, invalidChallenge},
		{"two tokens", []string{"Bearer " + tok + " " + tok}, "/", "", 401, invalidChallenge},
		{"token with standard base64", []string{"Bearer " + tok[:10] + "+/" + tok[10:]}, "/", "", 401, invalidChallenge},
		{"token with quote", []string{`Bearer "` + tok + `"`}, "/", "", 401, invalidChallenge},
		{"garbage token", []string{"Bearer abc"}, "/", "", 401, invalidChallenge},
		{"cookie token through TokenFunc", nil, "/", tok, 200, ""},
		{"bad cookie token", nil, "/", "abc.def.ghi", 401, invalidChallenge},
		{"Authorization header wins over cookie", []string{"Basic dXNlcjpwYXNz"}, "/", tok, 401, bareChallenge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &auth.Authenticator{
				Verifier: newVerifier(t, newSpyKeys(), newClock()),
				TokenFunc: func(r *http.Request) (string, bool) {
					c, err := r.Cookie("session")
					if err != nil {
						return "", false
					}
					return c.Value, true
				},
			}
			r := httptest.NewRequest("GET", tc.url, nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "session", Value: tc.cookie})
			}
			w := httptest.NewRecorder()
			reqid.Handler(a.Handler(ok)).ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", w.Code, tc.wantStatus, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.wantAuth {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, tc.wantAuth)
			}
			if tc.wantStatus == 200 {
				if got := w.Body.String(); got != "user-42" {
					t.Errorf("body: got %q, want %q", got, "user-42")
				}
				return
			}
			checkProblem(t, w, tc.wantStatus)
			if strings.Contains(w.Body.String(), tok[:20]) {
				t.Errorf("body echoes the token: %s", w.Body)
			}
		})
	}
}

// checkProblem checks that w holds an RFC 9457 problem of status.
func checkProblem(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if got := w.Header().Get("Content-Type"); got != problem.ContentType {
		t.Errorf("Content-Type: got %q, want %q", got, problem.ContentType)
	}
	var p problem.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body: got %q, want a problem: %v", w.Body, err)
	}
	if p.Status != status {
		t.Errorf("problem status: got %d, want %d", p.Status, status)
	}
	if p.RequestID == "" || p.RequestID != w.Header().Get(reqid.Header) {
		t.Errorf("problem request_id: got %q, want %q", p.RequestID, w.Header().Get(reqid.Header))
	}
	if p.Detail == "" {
		t.Error("problem detail: got empty, want text")
	}
}

func TestAuthenticatorCheck(t *testing.T) {
	unavailable := problem.New(http.StatusServiceUnavailable, "Try again later.")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantAuth   string
	}{
		{"accepted", nil, 200, ""},
		{"revoked", errors.New("session revoked"), 401, invalidChallenge},
		{"disabled as a 403 problem", problem.New(http.StatusForbidden, "disabled"), 401, invalidChallenge},
		{"store outage", unavailable, 503, ""},
		{"wrapped store outage", fmt.Errorf("revocations: %w", unavailable), 503, ""},
		{"internal problem", problem.Internal(), 500, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			a := &auth.Authenticator{
				Verifier: newVerifier(t, newSpyKeys(), newClock()),
				Check: func(ctx context.Context, c *auth.Claims) error {
					calls++
					if c.SessionID != "family-1" {
						t.Errorf("Check got sid %q, want %q", c.SessionID, "family-1")
					}
					return tc.err
				},
			}
			h := reqid.Handler(a.Handler(ok))
			tok := mustSign(t, validClaims())
			// Twice: the second request is a cache hit and Check must run
			// on it too.
			for i := range 2 {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tc.wantStatus {
					t.Fatalf("request %d status: got %d, want %d", i, w.Code, tc.wantStatus)
				}
				if got := w.Header().Get("WWW-Authenticate"); got != tc.wantAuth {
					t.Errorf("WWW-Authenticate: got %q, want %q", got, tc.wantAuth)
				}
				if tc.wantStatus != 200 {
					checkProblem(t, w, tc.wantStatus)
				}
				if strings.Contains(w.Body.String(), "session revoked") {
					t.Errorf("body leaks the Check error: %s", w.Body)
				}
			}
			if calls != 2 {
				t.Errorf("Check calls: got %d, want 2", calls)
			}
		})
	}
}

func TestAuthenticatorLogsUser(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: reqlog.Redact}))
	a := &auth.Authenticator{Verifier: newVerifier(t, newSpyKeys(), newClock())}
	h := reqid.Handler(reqlog.Handler(logger, a.Handler(auth.Require("notes:read")(ok))))
	tok := mustSign(t, validClaims())

	tests := []struct {
		name      string
		auth      string
		wantUser  string
		wantError string
	}{
		{"accepted", "Bearer " + tok, "user-42", ""},
		{"refused", "Bearer " + tok[:len(tok)-2], "", "auth: invalid signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", tc.auth)
			h.ServeHTTP(httptest.NewRecorder(), r)
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line: got %q: %v", buf.String(), err)
			}
			if got, _ := line["user_id"].(string); got != tc.wantUser {
				t.Errorf("user_id: got %q, want %q", got, tc.wantUser)
			}
			if got, _ := line["auth_error"].(string); got != tc.wantError {
				t.Errorf("auth_error: got %q, want %q", got, tc.wantError)
			}
			if strings.Contains(buf.String(), tok[:20]) {
				t.Errorf("log line contains the token: %s", buf.String())
			}
		})
	}
}

func TestAuthenticatorMisconfigured(t *testing.T) {
	tok := mustSign(t, validClaims())
	tests := []struct {
		name string
		a    *auth.Authenticator
	}{
		{"nil Verifier", &auth.Authenticator{}},
		{"zero Verifier", &auth.Authenticator{Verifier: &auth.Verifier{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			var log bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&log, nil))
			reqid.Handler(reqlog.Handler(logger, tc.a.Handler(ok))).ServeHTTP(w, r)
			if !strings.Contains(log.String(), `"error":"auth: verifier not configured"`) {
				t.Errorf("log: got %s, want the configuration error", log.String())
			}
			if w.Code != http.StatusInternalServerError {
				t.Errorf("status: got %d, want %d", w.Code, http.StatusInternalServerError)
			}
			checkProblem(t, w, http.StatusInternalServerError)
		})
	}
}

func TestAuthenticatorRealm(t *testing.T) {
	tests := []struct {
		realm string
		want  string
	}{
		{"", `Bearer realm="gatehouse"`},
		{"notes api", `Bearer realm="notes api"`},
		{`say "hi" \o/`, `Bearer realm="say \"hi\" \\o/"`},
	}
	for _, tc := range tests {
		t.Run(tc.realm, func(t *testing.T) {
			a := &auth.Authenticator{Verifier: newVerifier(t, newSpyKeys(), newClock()), Realm: tc.realm}
			w := httptest.NewRecorder()
			a.Handler(ok).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if got := w.Header().Get("WWW-Authenticate"); got != tc.want {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("control character panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("Handler: got no panic, want one for a realm with a newline")
			}
		}()
		(&auth.Authenticator{Realm: "a\r\nSet-Cookie: x=y"}).Handler(ok)
	})
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name       string
		scope      []string // of the token
		require    []string
		authn      bool // an Authenticator in front
		wantStatus int
		wantAuth   string
	}{
		{"has scope", []string{"notes:read", "notes:write"}, []string{"notes:write"}, true, 200, ""},
		{"has all scopes", []string{"notes:read", "notes:write"}, []string{"notes:read", "notes:write"}, true, 200, ""},
		{"no scope required", nil, nil, true, 200, ""},
		{"missing scope", []string{"notes:read"}, []string{"notes:write"}, true, 403,
			`Bearer realm="gatehouse", error="insufficient_scope", scope="notes:write"`},
		{"missing one of two", []string{"users:read"}, []string{"users:read", "users:write"}, true, 403,
			`Bearer realm="gatehouse", error="insufficient_scope", scope="users:read users:write"`},
		{"scope is case-sensitive", []string{"Notes:Write"}, []string{"notes:write"}, true, 403,
			`Bearer realm="gatehouse", error="insufficient_scope", scope="notes:write"`},
		{"prefix is not a scope", []string{"notes"}, []string{"notes:write"}, true, 403,
			`Bearer realm="gatehouse", error="insufficient_scope", scope="notes:write"`},
		{"no Authenticator", []string{"notes:write"}, []string{"notes:write"}, false, 401, bareChallenge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validClaims()
			c.Scope = tc.scope
			h := auth.Require(tc.require...)(ok)
			if tc.authn {
				h = (&auth.Authenticator{Verifier: newVerifier(t, newSpyKeys(), newClock())}).Handler(h)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+mustSign(t, c))
			w := httptest.NewRecorder()
			reqid.Handler(h).ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Fatalf("status: got %d, want %d", w.Code, tc.wantStatus)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.wantAuth {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, tc.wantAuth)
			}
			if tc.wantStatus != 200 {
				checkProblem(t, w, tc.wantStatus)
			}
		})
	}
}

func TestRequireRealmFromAuthenticator(t *testing.T) {
	c := validClaims()
	c.Scope = nil
	a := &auth.Authenticator{Verifier: newVerifier(t, newSpyKeys(), newClock()), Realm: "notes"}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+mustSign(t, c))
	w := httptest.NewRecorder()
	a.Handler(auth.Require("notes:read")(ok)).ServeHTTP(w, r)
	want := `Bearer realm="notes", error="insufficient_scope", scope="notes:read"`
	if got := w.Header().Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
	}
}

func TestRequireInvalidScopePanics(t *testing.T) {
	for _, s := range []string{"", "notes write", `a"b`, `a\b`, "é"} {
		t.Run(s, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Require(%q): got no panic, want one", s)
				}
			}()
			auth.Require(s)
		})
	}
}

func TestContext(t *testing.T) {
	if c, found := auth.FromContext(context.Background()); found || c != nil {
		t.Errorf("FromContext(empty): got %v, %v, want nil, false", c, found)
	}
	if _, found := auth.FromContext(auth.NewContext(context.Background(), nil)); found {
		t.Error("FromContext(nil claims): got true, want false")
	}
	want := &auth.Claims{Subject: "u"}
	got, found := auth.FromContext(auth.NewContext(context.Background(), want))
	if !found || got != want {
		t.Errorf("FromContext: got %v, %v, want %v, true", got, found, want)
	}
	// Require works with claims put there by NewContext.
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(auth.NewContext(r.Context(), &auth.Claims{Subject: "u", Scope: []string{"a"}}))
	w := httptest.NewRecorder()
	auth.Require("a")(ok).ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("status: got %d, want 200", w.Code)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header []string
		want   string
		err    error
	}{
		{[]string{"Bearer a.b.c"}, "a.b.c", nil},
		{[]string{"bEaReR a.b.c"}, "a.b.c", nil},
		{nil, "", auth.ErrNoToken},
		{[]string{"Basic abc"}, "", auth.ErrNoToken},
		{[]string{"Bearer"}, "", auth.ErrMalformed},
		{[]string{"Bearer a.b.c", "Bearer a.b.c"}, "", auth.ErrMalformed},
		{[]string{"Bearer a.b c"}, "", auth.ErrMalformed},
		{[]string{"Bearer a.b.c="}, "", auth.ErrMalformed},
		{[]string{"Bearer a\tb"}, "", auth.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.header, "|"), func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range tc.header {
				r.Header.Add("Authorization", h)
			}
			got, err := auth.BearerToken(r)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("got %q, %v, want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
