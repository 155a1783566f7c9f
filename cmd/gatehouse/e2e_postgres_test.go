package main

import (
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/postgres/pgtest"
)

// TestPostgres runs the main flows on PostgreSQL, then cuts the database
// off: /readyz and store-backed requests answer 503 (never a 500 with a
// driver message), and the server recovers without a restart.
func TestPostgres(t *testing.T) {
	schemaURL := pgtest.NewSchema(t)
	u, err := url.Parse(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.StartProxy(t, u.Host)
	u.Host = proxy.Addr
	ts := startServer(t, "", "--database-url", u.String())

	ts.register(t, "zoe", goodPassword)
	m := ts.login(t, "zoe", goodPassword)
	tok := m["access_token"].(string)
	if got := ts.me(t, tok); got != 200 {
		t.Fatalf("me on PostgreSQL: got %d", got)
	}
	if r := ts.do(t, "POST", "/v1/notes", map[string]any{"title": "on postgres", "body": "<p>hi</p>"}, bearer(tok)); r.Status != 201 {
		t.Fatalf("create note: got %d %s", r.Status, r.Body)
	}
	if r := ts.refresh(t, m["refresh_token"].(string)); r.Status != 200 {
		t.Fatalf("refresh: got %d %s", r.Status, r.Body)
	}

	proxy.Down()
	if r := ts.do(t, "GET", "/readyz", nil, nil); r.Status != 503 {
		t.Errorf("readyz with the database down: got %d, want 503", r.Status)
	}
	r := ts.do(t, "GET", "/v1/users/me", nil, bearer(tok))
	p := problemOf(t, r, 503)
	if r.Header.Get("Retry-After") == "" || p["detail"] == "" {
		t.Errorf("503 without Retry-After or detail: %s", r.Body)
	}
	lr := ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"zoe"}, "password": {goodPassword}}, nil)
	if lr.Status != 503 || lr.JSON(t)["error"] != "temporarily_unavailable" {
		t.Errorf("login with the database down: got %d %s, want 503 temporarily_unavailable", lr.Status, lr.Body)
	}

	proxy.Up()
	deadline := time.Now().Add(20 * time.Second)
	for ts.do(t, "GET", "/readyz", nil, nil).Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("no recovery after the database came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := ts.me(t, tok); got != 200 {
		t.Errorf("me after recovery: got %d, want 200", got)
	}
}
