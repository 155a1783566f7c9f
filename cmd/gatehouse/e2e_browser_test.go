package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestBrowserSessions(t *testing.T) {
	ts := startServer(t, "")
	ts.register(t, "wanda", goodPassword)

	r := ts.do(t, "POST", "/v1/auth/session", map[string]any{"username": "wanda", "password": goodPassword}, nil)
	if r.Status != 200 {
		t.Fatalf("login: got %d %s", r.Status, r.Body)
	}
	var ck *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "__Host-gatehouse_session" {
			ck = c
		}
	}
	if ck == nil {
		t.Fatalf("no __Host- session cookie: %v", r.Header["Set-Cookie"])
	}
	raw := strings.Join(r.Header["Set-Cookie"], "; ")
	for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("cookie lacks %s: %s", attr, raw)
		}
	}
	if strings.Contains(raw, "Domain=") {
		t.Errorf("a __Host- cookie must not have Domain: %s", raw)
	}
	cookie := "__Host-gatehouse_session=" + ck.Value

	if got := ts.do(t, "GET", "/v1/users/me", nil, map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}).Status; got != 200 {
		t.Errorf("safe cross-site GET with cookie: got %d, want 200", got)
	}
	if got := ts.do(t, "POST", "/v1/auth/session", map[string]any{"username": "wanda", "password": goodPassword}, map[string]string{"Sec-Fetch-Site": "cross-site"}).Status; got != 403 {
		t.Errorf("cross-site login (login CSRF): got %d, want 403", got)
	}
	change := map[string]any{"current_password": goodPassword, "new_password": "brand new passphrase 123"}
	cases := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"Sec-Fetch-Site cross-site", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, 403},
		{"Sec-Fetch-Site same-site", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-site"}, 403},
		{"foreign Origin", map[string]string{"Cookie": cookie, "Origin": "https://evil.example"}, 403},
		{"bearer is unaffected", map[string]string{"Sec-Fetch-Site": "cross-site"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.status == 0 {
				tok := ts.login(t, "wanda", goodPassword)["access_token"].(string)
				c.header["Authorization"] = "Bearer " + tok
				if r := ts.do(t, "GET", "/v1/users/me", nil, c.header); r.Status != 200 {
					t.Errorf("got %d, want 200", r.Status)
				}
				return
			}
			r := ts.do(t, "POST", "/v1/users/me/password", change, c.header)
			problemOf(t, r, c.status)
		})
	}
	// Neither header (a non-browser client) and same-origin both pass.
	if got := ts.do(t, "POST", "/v1/users/me/password", change, map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin"}).Status; got != 204 {
		t.Errorf("same-origin password change: got %d, want 204", got)
	}
	if got := ts.do(t, "POST", "/v1/users/me/password", map[string]any{"current_password": "brand new passphrase 123", "new_password": goodPassword}, map[string]string{"Cookie": cookie}).Status; got != 204 {
		t.Errorf("password change with neither header: got %d, want 204", got)
	}

	// Logout needs the cookie, is CSRF-checked, ends the session.
	if got := ts.do(t, "DELETE", "/v1/auth/session", nil, map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}).Status; got != 403 {
		t.Errorf("cross-site logout: got %d, want 403", got)
	}
	out := ts.do(t, "DELETE", "/v1/auth/session", nil, map[string]string{"Cookie": cookie})
	if out.Status != 204 || !strings.Contains(strings.Join(out.Header["Set-Cookie"], ";"), "Max-Age=0") {
		t.Errorf("logout: got %d %v, want 204 clearing the cookie", out.Status, out.Header["Set-Cookie"])
	}
	r = ts.do(t, "GET", "/v1/users/me", nil, map[string]string{"Cookie": cookie})
	problemOf(t, r, 401)
	if got := ts.do(t, "GET", "/v1/users/me", nil, map[string]string{"Cookie": "__Host-gatehouse_session=forged"}).Status; got != 401 {
		t.Errorf("forged cookie: got %d, want 401", got)
	}
	r = ts.do(t, "POST", "/v1/auth/session", map[string]any{"username": "wanda", "password": "wrong wrong wrong"}, nil)
	problemOf(t, r, 401)
	if len(r.Header["Set-Cookie"]) != 0 {
		t.Errorf("failed login set a cookie")
	}
}
