package main

import (
	"net/url"
	"strings"
	"testing"
)

// adminServer starts a server with one admin created through the CLI.
func adminServer(t *testing.T) (*testServer, string) {
	t.Helper()
	dir := t.TempDir()
	if _, e, err := runCLI(t, goodPassword+"\n", nil, "user", "create", "--data-dir", dir, "--username", "root", "--email", "root@example.com", "--role", "admin"); err != nil {
		t.Fatalf("user create: %v %s", err, e)
	}
	ts := startServer(t, dir)
	return ts, ts.login(t, "root", goodPassword)["access_token"].(string)
}

func TestAdminAPI(t *testing.T) {
	ts, admin := adminServer(t)
	var ids []string
	for _, name := range []string{"quinn", "rosa", "sven"} {
		ids = append(ids, ts.register(t, name, goodPassword)["id"].(string))
	}
	user := ts.login(t, "quinn", goodPassword)["access_token"].(string)

	t.Run("function-level authorization", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/admin/users"},
			{"PUT", "/v1/admin/users/" + ids[1] + "/roles"},
			{"POST", "/v1/admin/users/" + ids[1] + "/disable"},
			{"POST", "/v1/admin/users/" + ids[1] + "/enable"},
		} {
			var body any
			if c.method == "PUT" {
				body = map[string]any{"roles": []string{"admin"}}
			}
			r := ts.do(t, c.method, c.path, body, bearer(user))
			problemOf(t, r, 403)
			if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="users:`) {
				t.Errorf("%s %s: got WWW-Authenticate %q", c.method, c.path, h)
			}
			if got := ts.do(t, c.method, c.path, body, nil).Status; got != 401 {
				t.Errorf("%s %s anonymous: got %d, want 401", c.method, c.path, got)
			}
		}
		// An admin token asked with a narrower scope is refused too.
		narrow := ts.login(t, "root", goodPassword, "scope", "notes:read")["access_token"].(string)
		if got := ts.do(t, "GET", "/v1/admin/users", nil, bearer(narrow)).Status; got != 403 {
			t.Errorf("admin with scope notes:read: got %d, want 403", got)
		}
	})

	t.Run("pagination", func(t *testing.T) {
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; pages < 10; pages++ {
			path := "/v1/admin/users?limit=2"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			r := ts.do(t, "GET", path, nil, bearer(admin))
			if r.Status != 200 {
				t.Fatalf("page: got %d %s", r.Status, r.Body)
			}
			m := r.JSON(t)
			for _, it := range m["items"].([]any) {
				id := it.(map[string]any)["id"].(string)
				if seen[id] {
					t.Errorf("user %s listed twice", id)
				}
				seen[id] = true
			}
			if m["next_cursor"] == nil {
				break
			}
			cursor = m["next_cursor"].(string)
		}
		if len(seen) != 4 {
			t.Errorf("listed %d users, want 4", len(seen))
		}
		for _, bad := range []string{"limit=0", "limit=101", "limit=abc", "cursor=%25%25%25"} {
			problemOf(t, ts.do(t, "GET", "/v1/admin/users?"+bad, nil, bearer(admin)), 422)
		}
	})

	t.Run("disable stops tokens at once", func(t *testing.T) {
		m := ts.login(t, "rosa", goodPassword)
		tok := m["access_token"].(string)
		if ts.me(t, tok) != 200 {
			t.Fatal("token refused before disabling")
		}
		if r := ts.do(t, "POST", "/v1/admin/users/"+ids[1]+"/disable", nil, bearer(admin)); r.Status != 200 || r.JSON(t)["disabled"] != true {
			t.Fatalf("disable: got %d %s", r.Status, r.Body)
		}
		if got := ts.me(t, tok); got != 401 {
			t.Errorf("token of a disabled account: got %d, want 401", got)
		}
		if got := ts.refresh(t, m["refresh_token"].(string)).Status; got != 400 {
			t.Errorf("refresh of a disabled account: got %d, want 400", got)
		}
		r := ts.do(t, "POST", "/v1/auth/token", url.Values{"grant_type": {"password"}, "username": {"rosa"}, "password": {goodPassword}}, nil)
		if r.Status != 400 || r.JSON(t)["error"] != "invalid_grant" {
			t.Errorf("login of a disabled account: got %d %s, want the usual invalid_grant", r.Status, r.Body)
		}
		if got := ts.do(t, "POST", "/v1/admin/users/"+ids[1]+"/enable", nil, bearer(admin)).Status; got != 200 {
			t.Fatalf("enable: got %d", got)
		}
		ts.login(t, "rosa", goodPassword)
	})

	t.Run("roles", func(t *testing.T) {
		r := ts.do(t, "PUT", "/v1/admin/users/"+ids[2]+"/roles", map[string]any{"roles": []string{"user", "admin"}}, bearer(admin))
		if r.Status != 200 {
			t.Fatalf("grant admin: got %d %s", r.Status, r.Body)
		}
		if got := ts.login(t, "sven", goodPassword)["scope"]; got != "audit:read notes:read notes:write users:read users:write" {
			t.Errorf("new admin's scope: got %v", got)
		}
		svenTok := ts.login(t, "sven", goodPassword)["access_token"].(string)
		r = ts.do(t, "PUT", "/v1/admin/users/"+ids[2]+"/roles", map[string]any{"roles": []string{"user"}}, bearer(admin))
		if r.Status != 200 {
			t.Fatalf("revoke admin: got %d %s", r.Status, r.Body)
		}
		if got := ts.do(t, "GET", "/v1/admin/users", nil, bearer(svenTok)).Status; got != 401 {
			t.Errorf("demoted admin's old token: got %d, want 401 (sessions end on role removal)", got)
		}
		for _, bad := range []any{map[string]any{"roles": []string{"god"}}, map[string]any{"roles": "admin"}, map[string]any{}, map[string]any{"roles": []string{"user", "user"}}} {
			problemOf(t, ts.do(t, "PUT", "/v1/admin/users/"+ids[2]+"/roles", bad, bearer(admin)), 422)
		}
		problemOf(t, ts.do(t, "PUT", "/v1/admin/users/no-such-id/roles", map[string]any{"roles": []string{"user"}}, bearer(admin)), 404)
		problemOf(t, ts.do(t, "POST", "/v1/admin/users/no-such-id/disable", nil, bearer(admin)), 404)
	})

	t.Run("the last admin stays", func(t *testing.T) {
		me := ts.do(t, "GET", "/v1/users/me", nil, bearer(admin)).JSON(t)
		rootID := me["id"].(string)
		problemOf(t, ts.do(t, "PUT", "/v1/admin/users/"+rootID+"/roles", map[string]any{"roles": []string{"user"}}, bearer(admin)), 409)
		problemOf(t, ts.do(t, "POST", "/v1/admin/users/"+rootID+"/disable", nil, bearer(admin)), 409)
		if got := ts.me(t, admin); got != 200 {
			t.Errorf("the last admin after refused changes: got %d, want 200", got)
		}
	})
}
