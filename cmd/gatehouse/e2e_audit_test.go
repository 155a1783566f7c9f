package main

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestAuditTrail: the security flows write their events; the admin API
// filters them and needs audit:read; `audit verify` finds the chain intact,
// then finds the first tampered row; `audit export` writes JSON lines.
func TestAuditTrail(t *testing.T) {
	ts, admin := adminServer(t)
	ts.register(t, "yuri", goodPassword)
	m := ts.login(t, "yuri", goodPassword)
	ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"yuri"}, "password": {"wrong wrong wrong"}}, nil)
	r1 := ts.refresh(t, m["refresh_token"].(string)).JSON(t)["refresh_token"].(string)
	ts.refresh(t, r1)
	ts.refresh(t, m["refresh_token"].(string))                         // reuse
	user := ts.login(t, "yuri", goodPassword)["access_token"].(string) // the reuse ended m's session
	if got := ts.do(t, "GET", "/v1/admin/users", nil, bearer(user)).Status; got != 403 {
		t.Fatalf("user on an admin route: got %d, want 403", got)
	}
	ts.do(t, "POST", "/v1/users/me/password", map[string]any{"current_password": goodPassword, "new_password": "yet another fine passphrase"}, bearer(ts.login(t, "yuri", goodPassword)["access_token"]))

	types := map[string]bool{}
	cursor := ""
	for i := 0; i < 20; i++ {
		path := "/v1/admin/audit?limit=5"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := ts.do(t, "GET", path, nil, bearer(admin))
		if r.Status != 200 {
			t.Fatalf("audit: got %d %s", r.Status, r.Body)
		}
		page := r.JSON(t)
		for _, it := range page["items"].([]any) {
			e := it.(map[string]any)
			types[e["type"].(string)] = true
			if e["request_id"] == "" || e["time"] == "" {
				t.Errorf("event without request ID or time: %v", e)
			}
		}
		if page["next_cursor"] == nil {
			break
		}
		cursor = page["next_cursor"].(string)
	}
	for _, want := range []string{"user_registered", "login_success", "login_failure", "token_refresh", "refresh_token_reuse", "authorization_denied", "password_changed", "sessions_revoked"} {
		if !types[want] {
			t.Errorf("no %s event in the trail (have %v)", want, types)
		}
	}

	t.Run("filters and permission", func(t *testing.T) {
		r := ts.do(t, "GET", "/v1/admin/audit?type=login_failure", nil, bearer(admin))
		items := r.JSON(t)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["detail"].(map[string]any)["reason"] != "wrong password" {
			t.Errorf("type filter: got %s", r.Body)
		}
		if got := ts.do(t, "GET", "/v1/admin/audit?since=2999-01-01T00:00:00Z", nil, bearer(admin)).JSON(t)["items"].([]any); len(got) != 0 {
			t.Errorf("since in the future: got %d events", len(got))
		}
		for _, bad := range []string{"since=yesterday", "limit=1000", "cursor=-1"} {
			problemOf(t, ts.do(t, "GET", "/v1/admin/audit?"+bad, nil, bearer(admin)), 422)
		}
		if got := ts.do(t, "GET", "/v1/admin/audit", nil, bearer(user)).Status; got != 401 && got != 403 {
			t.Errorf("user reading the audit trail: got %d, want 403", got)
		}
	})

	ts.Stop(t)
	out, _, err := runCLI(t, "", nil, "audit", "verify", "--data-dir", ts.DataDir)
	if err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("verify: %v %s", err, out)
	}
	out, _, err = runCLI(t, "", nil, "audit", "export", "--data-dir", ts.DataDir)
	if err != nil || strings.Count(out, "\n") < 8 || strings.Contains(out, goodPassword) {
		t.Fatalf("export: %v, %d lines", err, strings.Count(out, "\n"))
	}

	db, err := sql.Open("sqlite", filepath.Join(ts.DataDir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET outcome = 'success' WHERE type = 'login_failure'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, _, err = runCLI(t, "", nil, "audit", "verify", "--data-dir", ts.DataDir)
	if err == nil || !strings.Contains(out, "BROKEN at event") {
		t.Fatalf("verify after tampering: got %v %q, want a broken chain", err, out)
	}
}
